/**
 * The znode commands, zkCli's core: get, set, create, ls, stat, rm, sync,
 * getacl, setacl. One REST call each (through ZooGateRest, so failover and
 * Zoogate-Min-Zxid come with it), except what needs a session: an ephemeral
 * create, and get --watch.
 */
import { ZooGateError } from '../../client/errors.ts';
import type { AclList, CreateMode, WatchEvent, ZnodeValue } from '../../client/types.ts';
import type { Options } from '../args.ts';
import { noMoreArgs, sessionLost, signalExitCode, type Invocation } from '../command.ts';
import { dataArg, znodePath } from '../context.ts';
import { cliError, UsageError } from '../errors.ts';
import { aclLines, dataJson, hex, statLines } from '../format.ts';
import { walk, flatten } from './tree.ts';

function showValue(inv: Invocation, v: ZnodeValue<Uint8Array>, forceNewline: boolean): void {
  const { ctx, opts } = inv;
  if (ctx.json) return ctx.printJson(dataJson(v));
  const withStat = opts.flag('stat');
  ctx.printData(v.data, withStat || forceNewline ? 'always' : 'tty');
  if (withStat) ctx.print(statLines(v.stat));
}

export async function get(inv: Invocation): Promise<number | void> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], 'get');
  noMoreArgs(inv, 1);
  if (!opts.flag('watch')) return showValue(inv, await ctx.rest().get(path), false);

  // a one-shot data watch: over a session, whose WebSocket carries the event
  const s = await ctx.session();
  const lost = sessionLost(ctx, s);
  let fire!: (e: WatchEvent) => void;
  const fired = new Promise<WatchEvent>((r) => (fire = r));
  showValue(inv, await s.get(path, { watch: (e) => fire(e) }), true);
  const e = await Promise.race([fired, lost, ctx.stopped()]);
  if (typeof e === 'string') return signalExitCode(e);
  if (ctx.json) ctx.printJson(e);
  else ctx.note(`${e.event} ${e.path} ${hex(e.zxid)}`);
  if (e.event === 'NodeDeleted') throw cliError('NoNode', `${path} was deleted`, path);
  showValue(inv, await s.get(path), true);
}

export async function set(inv: Invocation): Promise<void> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], 'set');
  if (inv.args[1] === undefined) throw new UsageError('missing DATA (or - for stdin)', 'set');
  const data = await dataArg(inv.args[1]);
  noMoreArgs(inv, 2);
  const r = await ctx.rest().set(path, data, { version: opts.int('version', -1) });
  if (ctx.json) ctx.printJson(r);
  else if (opts.flag('stat')) ctx.print(statLines(r.stat));
}

const MODES: readonly CreateMode[] = [
  'persistent', 'ephemeral', 'persistent_sequential', 'ephemeral_sequential', 'container', 'persistent_with_ttl', 'persistent_sequential_with_ttl',
];

/** The create mode from --mode or zkCli's -e/-s/-c/-t, refusing combinations that mean nothing. */
export function createMode(opts: Options): { mode: CreateMode; ttl: number | undefined } {
  const given = opts.string('mode');
  const e = opts.flag('ephemeral');
  const s = opts.flag('sequential');
  const c = opts.flag('container');
  const ttl = opts.int('ttl', 1);
  let mode: CreateMode;
  if (given !== undefined) {
    if (e || c) throw new UsageError('--mode and -e/-c do not go together', 'create');
    if (given === 'ttl') mode = s ? 'persistent_sequential_with_ttl' : 'persistent_with_ttl';
    else if (MODES.includes(given as CreateMode)) {
      if (s) throw new UsageError('-s goes with --mode ttl, or spell the mode: persistent_sequential, ephemeral_sequential', 'create');
      mode = given as CreateMode;
    } else throw new UsageError(`unknown mode ${JSON.stringify(given)} (persistent, ephemeral, persistent_sequential, ephemeral_sequential, container, ttl)`, 'create');
  } else {
    if (c && (e || s || ttl !== undefined)) throw new UsageError('a container is neither ephemeral, sequential nor TTL', 'create');
    if (e && ttl !== undefined) throw new UsageError('an ephemeral node has no TTL', 'create');
    if (c) mode = 'container';
    else if (ttl !== undefined) mode = s ? 'persistent_sequential_with_ttl' : 'persistent_with_ttl';
    else if (e) mode = s ? 'ephemeral_sequential' : 'ephemeral';
    else mode = s ? 'persistent_sequential' : 'persistent';
  }
  const isTtl = mode === 'persistent_with_ttl' || mode === 'persistent_sequential_with_ttl';
  if (isTtl && ttl === undefined) throw new UsageError('a TTL node needs --ttl MS', 'create');
  if (!isTtl && ttl !== undefined) throw new UsageError(`--ttl goes with --mode ttl, not ${mode}`, 'create');
  return { mode, ttl };
}

export async function create(inv: Invocation): Promise<number | void> {
  const { ctx, opts } = inv;
  const { mode, ttl } = createMode(opts);
  const sequential = mode.includes('sequential');
  const path = znodePath(inv.args[0], 'create', 'PATH', sequential);
  const data = await dataArg(inv.args[1]);
  noMoreArgs(inv, 2);
  const acl = opts.list('acl').join(',') || undefined;
  const parents = opts.flag('parents');
  const show = (r: { path: string; stat: unknown }) => (ctx.json ? ctx.printJson(r) : ctx.print(r.path));

  if (mode !== 'ephemeral' && mode !== 'ephemeral_sequential') {
    show(await ctx.rest().create(path, data, { mode, ttl, parents, acl }));
    return;
  }
  // an ephemeral node is as long-lived as its session, that is, this process: hold it until stopped
  const sessionTimeout = opts.durationMs('session-timeout');
  const s = await ctx.session(sessionTimeout === undefined ? {} : { timeoutMs: sessionTimeout });
  const lost = sessionLost(ctx, s);
  show(await s.create(path, data, { mode, parents, acl }));
  ctx.note(`holding the ephemeral node (session ${s.sessionId}) until Ctrl-C`);
  await Promise.race([lost, ctx.stopped()]);
  await s.close(); // the node goes now, not at the session's timeout
  return 0;
}

export async function ls(inv: Invocation): Promise<void> {
  const { ctx, opts } = inv;
  const path = inv.args[0] === undefined ? '/' : znodePath(inv.args[0], 'ls');
  noMoreArgs(inv, 1);
  if (opts.flag('recursive')) {
    const root = await walk(ctx, path, Infinity);
    const paths = flatten(root);
    if (ctx.json) ctx.printJson({ path, paths });
    else ctx.print(paths.join('\n'));
    if (!ctx.json && opts.flag('stat')) ctx.print(statLines(root.stat));
    return;
  }
  const r = await ctx.rest().children(path);
  if (ctx.json) return ctx.printJson(r);
  ctx.print(r.children.join('\n'));
  if (opts.flag('stat')) ctx.print(statLines(r.stat));
}

export async function stat(inv: Invocation): Promise<void> {
  const { ctx } = inv;
  const path = znodePath(inv.args[0], 'stat');
  noMoreArgs(inv, 1);
  const s = await ctx.rest().exists(path);
  if (s === null) throw new ZooGateError('NoNode', `no node for ${path}`, { path });
  if (ctx.json) ctx.printJson(s);
  else ctx.print(statLines(s));
}

export async function rm(inv: Invocation): Promise<void> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], inv.spec.name);
  noMoreArgs(inv, 1);
  await ctx.rest().delete(path, { version: opts.int('version', -1), recursive: opts.flag('recursive') });
}

export async function sync(inv: Invocation): Promise<void> {
  const { ctx } = inv;
  const path = inv.args[0] === undefined ? '/' : znodePath(inv.args[0], 'sync');
  noMoreArgs(inv, 1);
  const r = await ctx.rest().sync(path);
  if (ctx.json) ctx.printJson(r);
  else ctx.print(`synced: zxid ${hex(r.zxid)}`);
}

export async function getacl(inv: Invocation): Promise<void> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], 'getacl');
  noMoreArgs(inv, 1);
  const r = await ctx.rest().getAcl(path);
  if (ctx.json) return ctx.printJson(r);
  ctx.print(aclLines(r.acl));
  if (opts.flag('stat')) ctx.print(statLines(r.stat));
}

/** `scheme:id:perms[,…]` (the id may hold colons: digest:alice:HASH:cdrwa) or the API's JSON list. */
export function parseAcl(text: string, command: string): AclList {
  const t = text.trim();
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new UsageError(`ACL is not valid JSON: ${(e as Error).message}`, command);
    }
    return v as AclList; // the server checks the entries (InvalidACL)
  }
  return t.split(',').filter((p) => p.trim() !== '').map((part) => {
    const p = part.trim();
    const first = p.indexOf(':');
    const last = p.lastIndexOf(':');
    if (first <= 0 || last === first) throw new UsageError(`ACL entry ${JSON.stringify(p)} is not scheme:id:perms`, command);
    return { scheme: p.slice(0, first), id: p.slice(first + 1, last), perms: p.slice(last + 1) };
  });
}

export async function setacl(inv: Invocation): Promise<void> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], 'setacl');
  if (inv.args[1] === undefined) throw new UsageError('missing ACL', 'setacl');
  const acl = parseAcl(inv.args[1], 'setacl');
  noMoreArgs(inv, 2);
  const r = await ctx.rest().setAcl(path, acl, { aversion: opts.int('aversion', -1) });
  if (ctx.json) ctx.printJson(r);
  else ctx.print(aclLines(r.acl));
}
