/**
 * `lock PATH -- COMMAND...`: holds a fair lock (the Mutex recipe,
 * client/recipes/lock.ts) while COMMAND runs, and exits with its code.
 */
import { hostname } from 'node:os';
import { ZooGateError } from '../../client/errors.ts';
import { Mutex } from '../../client/recipes/lock.ts';
import { join, sleep, sortedBySequence } from '../../client/recipes/lock-internals.ts';
import type { ZooGateSession } from '../../client/session.ts';
import { noMoreArgs, sessionLost, signalExitCode, type Invocation } from '../command.ts';
import { znodePath, type Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { runCommand } from './run-command.ts';

export async function lock(inv: Invocation): Promise<number> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], 'lock');
  if (path === '/') throw new UsageError('a lock needs a node of its own, not /', 'lock');
  noMoreArgs(inv, 1);
  const command = inv.rest ?? [];
  if (command.length === 0) throw new UsageError('missing -- COMMAND to run while holding the lock', 'lock');
  const waitMs = opts.durationMs('timeout', true);
  const sessionTimeout = opts.durationMs('session-timeout');

  const s = await ctx.session(sessionTimeout === undefined ? {} : { timeoutMs: sessionTimeout });
  const lost = sessionLost(ctx, s);
  const mutex = new Mutex(s, path, { data: `${hostname()}:${process.pid}` });
  // Ctrl-C while queued leaves the queue (acquire deletes our node when aborted)
  const abort = new AbortController();
  void ctx.stopped().then((sig) => abort.abort(new ZooGateError('SessionClosed', `stopped by ${sig}`)));

  const acquiring = mutex.acquire({ signal: abort.signal, ...(waitMs === undefined ? {} : { timeoutMs: waitMs }) });
  const settled = acquiring.then(() => {}, () => {});
  // (--timeout 0 does not wait: nothing to show)
  if (!ctx.json && waitMs !== 0) void showQueue(ctx, s, path, settled);
  let got: boolean;
  try {
    got = await Promise.race([acquiring, lost]);
  } catch (e) {
    if (ctx.stopSignal !== null) return signalExitCode(ctx.stopSignal);
    throw e;
  }
  if (!got) throw new ZooGateError('OperationTimeout', `lock ${path} not acquired within ${(waitMs ?? 0) / 1000} s`, { path });

  try {
    // acquired, but the session ended in the same breath: the node is gone, so the lock is not ours
    if (!mutex.isHeld) throw new ZooGateError('SessionExpired', `the session ended as lock ${path} was acquired`, { path });
    ctx.note(`holding lock ${path} (${mutex.node}, fencing token ${mutex.fencingToken}); running ${command.join(' ')}`);
    const lostLock = new Promise<ZooGateError>((resolve) => mutex.onLost(resolve));
    const end = await runCommand(ctx, command, {
      ZOOGATE_LOCK_NODE: mutex.node ?? '',
      ZOOGATE_FENCING_TOKEN: String(mutex.fencingToken ?? ''),
    }, lostLock);
    if (end.kind === 'lost') throw new ZooGateError(end.reason.code, `lost the lock ${path} while the command ran (${end.reason.message}); the command was stopped`, { path });
    return end.code;
  } finally {
    await mutex.release().catch(() => {});
  }
}

/**
 * While queued, shows "waiting for lock PATH (N ahead)" on stderr, again
 * each time N changes: the queue is listed with a child watch, so every
 * contender that leaves is counted at once. Our own node is told from the
 * others by its ephemeralOwner (the recipe names it only once it holds the
 * lock); until it is there, nothing is shown. Progress only: a failure here
 * never fails the lock.
 */
async function showQueue(ctx: Context, s: ZooGateSession, path: string, done: Promise<void>): Promise<void> {
  let over = false;
  void done.then(() => (over = true));
  const notOurs = new Set<string>();
  let ours: string | null = null;
  let shown = -1;
  while (!over) {
    try {
      let fire!: () => void;
      const changed = new Promise<void>((r) => (fire = r));
      let names: string[];
      try {
        names = sortedBySequence((await s.children(path, { watch: () => fire() })).children, ['lock-']);
      } catch (e) {
        if (!(e instanceof ZooGateError && e.code === 'NoNode')) throw e;
        // the lock's node is made by the first contender: ours, in a moment
        await Promise.race([sleep(50), done]);
        continue;
      }
      for (const name of names) {
        if (ours !== null || over) break;
        if (notOurs.has(name)) continue;
        const st = await s.exists(join(path, name));
        if (st?.ephemeralOwner === s.sessionId) ours = name;
        else notOurs.add(name);
      }
      const ahead = ours === null ? -1 : names.indexOf(ours);
      if (ahead > 0 && ahead !== shown && !over) ctx.note(`waiting for lock ${path} (${ahead} ahead)`);
      if (ahead >= 0) shown = ahead;
      await Promise.race([changed, done]);
    } catch {
      if (s.state === 'Expired' || s.state === 'Closed') return;
      await Promise.race([sleep(200), done]);
    }
  }
}
