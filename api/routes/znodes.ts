import { ZkError } from '../../core/errors.ts';
import { validatePath } from '../../core/paths.ts';
import { MAX_TTL_MS } from '../../core/request/requests.ts';
import { statOf } from '../../core/tree/znode.ts';
import type { Exchange } from '../exchange.ts';
import { boolParam, checkQuery, intParam, INT32_MAX, INT32_MIN, optionalIntParam, readBody, readJson, statHeader } from '../http-util.ts';
import { buildCreate, exists, getAcl, getChildren, getData, readNode } from '../operations.ts';
import { parseAclJson } from '../parse.ts';
import { presentAcl, znodeLocation } from '../present.ts';

/** `/znodes/a/b` → `/a/b`; `/znodes` and `/znodes/` → `/`. A trailing slash is kept (a sequential prefix). */
export function znodePath(rest: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    throw new ZkError('BadArguments', `path ${JSON.stringify(rest)} is not valid percent-encoding`);
  }
  return decoded === '' || decoded === '/' ? '/' : decoded;
}

const READ_PARAMS = ['children', 'acl', 'encoding', 'watch', 'sync', 'session'];

export async function getZnode(x: Exchange, path: string): Promise<void> {
  validatePath(path);
  checkQuery(x.query, READ_PARAMS);
  const children = boolParam(x.query, 'children');
  const acl = boolParam(x.query, 'acl');
  const watch = boolParam(x.query, 'watch');
  const enc = x.query.get('encoding');
  if (enc !== null && enc !== 'utf8' && enc !== 'base64') throw new ZkError('BadArguments', 'encoding must be utf8 or base64');
  if (children && acl) throw new ZkError('BadArguments', 'ask for children or acl, not both');
  if (acl && watch) throw new ZkError('BadArguments', 'an ACL read sets no watch');
  const caller = x.caller;
  if (boolParam(x.query, 'sync')) await x.node.sync();
  if (acl) return x.json(200, getAcl(caller, path));
  if (children) return x.json(200, getChildren(caller, path, watch));
  if (/\bapplication\/octet-stream\b/.test(x.req.headers.accept ?? '')) {
    const node = readNode(caller, path, watch);
    return x.raw(200, node.data, { 'content-type': 'application/octet-stream', 'zoogate-stat': statHeader(statOf(node)) });
  }
  x.json(200, getData(caller, path, watch, enc === 'base64'));
}

/** exists: needs no permission (ZooKeeper checks no ACL for exists); watch=true on an absent node waits for its creation. */
export async function headZnode(x: Exchange, path: string): Promise<void> {
  validatePath(path);
  checkQuery(x.query, ['watch', 'sync', 'session']);
  const caller = x.caller;
  if (boolParam(x.query, 'sync')) await x.node.sync();
  const stat = exists(caller, path, boolParam(x.query, 'watch'));
  if (stat === null) throw new ZkError('NoNode', undefined, path);
  x.empty(200, { 'zoogate-stat': statHeader(stat) });
}

export async function createZnode(x: Exchange, path: string): Promise<void> {
  checkQuery(x.query, ['mode', 'ttl', 'parents', 'session']);
  const aclHeader = x.req.headers['zoogate-acl'];
  const req = buildCreate(path, {
    mode: x.query.get('mode') ?? undefined,
    ttl: optionalIntParam(x.query, 'ttl', 1, MAX_TTL_MS),
    parents: boolParam(x.query, 'parents'),
    acl: typeof aclHeader === 'string' ? aclHeader : null,
    data: new Uint8Array(0),
  });
  const data = await readBody(x.req, x.cfg.maxDataBytes);
  const out = await x.write({ ...req, data });
  const r = out.result.op === 'multi' ? out.result.results[out.result.results.length - 1]! : out.result;
  if (r.op !== 'create') throw new Error(`create answered with ${r.op}`);
  x.json(201, { path: r.path, stat: r.stat }, { location: znodeLocation(r.path) });
}

export async function putZnode(x: Exchange, path: string): Promise<void> {
  validatePath(path);
  if (boolParam(x.query, 'acl')) {
    checkQuery(x.query, ['acl', 'aversion', 'session']);
    const aversion = intParam(x.query, 'aversion', -1, INT32_MIN, INT32_MAX);
    const acl = parseAclJson(await readJson(x.req, 1024 * 1024));
    const out = await x.write({ op: 'setACL', path, acl, aversion });
    if (out.result.op !== 'setACL') throw new Error(`setACL answered with ${out.result.op}`);
    x.json(200, { path, acl: presentAcl(acl, false), stat: out.result.stat });
    return;
  }
  checkQuery(x.query, ['version', 'session', 'acl']);
  const version = intParam(x.query, 'version', -1, INT32_MIN, INT32_MAX);
  const data = await readBody(x.req, x.cfg.maxDataBytes);
  const out = await x.write({ op: 'set', path, data, version });
  if (out.result.op !== 'set') throw new Error(`set answered with ${out.result.op}`);
  x.json(200, { path, stat: out.result.stat });
}

export async function deleteZnode(x: Exchange, path: string): Promise<void> {
  validatePath(path);
  checkQuery(x.query, ['version', 'recursive', 'session']);
  const version = intParam(x.query, 'version', -1, INT32_MIN, INT32_MAX);
  const recursive = boolParam(x.query, 'recursive');
  await x.write({ op: 'delete', path, version, recursive });
  x.empty(204);
}
