import { type Acl, type AuthId, parseAclHeader, Perms } from '../core/acl.ts';
import { canAccess, checkAcl } from '../core/auth.ts';
import { ZkError } from '../core/errors.ts';
import type { SessionId } from '../core/ids.ts';
import { validatePath } from '../core/paths.ts';
import { isSequentialMode, MAX_TTL_MS, type CreateMode, type CreateOp } from '../core/request/requests.ts';
import { statOf, type ZNode } from '../core/tree/znode.ts';
import type { WatchKind } from '../core/watch/watch-manager.ts';
import { parseAclJson, parseMode } from './parse.ts';
import { presentAcl, presentData } from './present.ts';
import type { ServerNode } from './server-node.ts';
import type { WatchHub } from './watch-hub.ts';
import type { StatJson, ZnodeAclJson, ZnodeChildrenJson, ZnodeDataJson } from './schema.ts';

/**
 * The operations REST and the WebSocket share, so that both answer alike:
 * reads (with their ACL checks and watch registration) and the building of
 * write requests from loosely typed parameters.
 */
export interface Caller {
  readonly node: ServerNode;
  readonly hub: WatchHub;
  readonly auth: readonly AuthId[];
  readonly sessionId: SessionId | null;
}

/** A watch needs a session with a live channel to deliver to (API.md). */
export function watchSession(c: Caller, watch: boolean): SessionId | null {
  if (!watch) return null;
  if (c.sessionId === null || !c.hub.hasChannel(c.sessionId)) {
    throw new ZkError('BadArguments', 'watch=true needs a session with a live WebSocket (GET /ws)');
  }
  return c.sessionId;
}

function existing(c: Caller, path: string): ZNode {
  const node = c.node.tree.get(path);
  if (node === undefined) throw new ZkError('NoNode', undefined, path);
  return node;
}

function register(c: Caller, sid: SessionId | null, path: string, kind: WatchKind): void {
  if (sid !== null) c.hub.watches.add(sid, path, kind);
}

export type DataResult = ZnodeDataJson;

/** getData: NoNode, then NoAuth (READ); a watch is set only on an existing node. */
export function readNode(c: Caller, path: string, watch: boolean): ZNode {
  validatePath(path);
  const sid = watchSession(c, watch);
  const node = existing(c, path);
  checkAcl(node.acl, Perms.READ, c.auth, path);
  register(c, sid, path, 'data');
  return node;
}

export function getData(c: Caller, path: string, watch: boolean, base64: boolean): DataResult {
  const node = readNode(c, path, watch);
  return { path, ...presentData(node.data, base64), stat: statOf(node) };
}

export function getChildren(c: Caller, path: string, watch: boolean): ZnodeChildrenJson {
  validatePath(path);
  const sid = watchSession(c, watch);
  const node = existing(c, path);
  checkAcl(node.acl, Perms.READ, c.auth, path);
  register(c, sid, path, 'children');
  return { path, children: c.node.tree.childNames(node), stat: statOf(node) };
}

/** exists: no permission needed; a watch on an absent node waits for its creation. */
export function exists(c: Caller, path: string, watch: boolean): StatJson | null {
  validatePath(path);
  const sid = watchSession(c, watch);
  const node = c.node.tree.get(path);
  register(c, sid, path, node === undefined ? 'exists' : 'data');
  return node === undefined ? null : statOf(node);
}

/** getACL: READ or ADMIN; digest ids are masked without ADMIN. */
export function getAcl(c: Caller, path: string): ZnodeAclJson {
  validatePath(path);
  const node = existing(c, path);
  checkAcl(node.acl, Perms.READ | Perms.ADMIN, c.auth, path);
  return { path, acl: presentAcl(node.acl, !canAccess(node.acl, Perms.ADMIN, c.auth)), stat: statOf(node) };
}

export interface CreateParams {
  mode?: unknown;
  ttl?: unknown;
  parents?: boolean;
  /** Zoogate-Acl header form (`scheme:id:perms,…`) or the JSON list. */
  acl?: string | unknown[] | null;
  data: Uint8Array;
}

function optionalTtl(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TTL_MS) throw new ZkError('BadArguments', 'ttl must be an integer from 1 to 2^40-1 (ms)');
  return v;
}

export function buildCreate(path: string, p: CreateParams): CreateOp {
  const modeRaw = typeof p.mode === 'string' ? p.mode : p.mode === undefined || p.mode === null ? null : '?';
  validatePath(path, modeRaw !== null && modeRaw.includes('sequential'));
  const mode: CreateMode = parseMode(modeRaw);
  validatePath(path, isSequentialMode(mode));
  const ttlMs = optionalTtl(p.ttl);
  let acl: Acl | null = null;
  if (typeof p.acl === 'string') acl = parseAclHeader(p.acl);
  else if (Array.isArray(p.acl)) acl = parseAclJson(p.acl);
  return { op: 'create', path, data: p.data, acl, mode, ttlMs, parents: p.parents === true };
}

export function checkVersion(v: unknown, name = 'version'): number {
  if (v === undefined || v === null) return -1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new ZkError('BadArguments', `${name} must be a 32-bit integer`);
  return v;
}
