import type { Acl, AuthId } from '../acl.ts';
import type { SessionId } from '../ids.ts';

export const CREATE_MODES = [
  'persistent', 'ephemeral', 'persistent_sequential', 'ephemeral_sequential', 'container',
  'persistent_with_ttl', 'persistent_sequential_with_ttl',
] as const;
export type CreateMode = (typeof CREATE_MODES)[number];

export function isSequentialMode(m: CreateMode): boolean {
  return m === 'persistent_sequential' || m === 'ephemeral_sequential' || m === 'persistent_sequential_with_ttl';
}
export function isEphemeralMode(m: CreateMode): boolean {
  return m === 'ephemeral' || m === 'ephemeral_sequential';
}
export function isTtlMode(m: CreateMode): boolean {
  return m === 'persistent_with_ttl' || m === 'persistent_sequential_with_ttl';
}

/** EphemeralType.TTL's largest TTL: 2^40 - 1 ms. */
export const MAX_TTL_MS = 2 ** 40 - 1;

export interface CreateOp {
  readonly op: 'create';
  readonly path: string;
  readonly data: Uint8Array;
  /** null: the default, world:anyone:cdrwa. */
  readonly acl: Acl | null;
  readonly mode: CreateMode;
  readonly ttlMs: number | null;
  /** Create missing ancestors as persistent nodes with the default ACL, in the same transaction. */
  readonly parents?: boolean;
}
export interface SetOp { readonly op: 'set'; readonly path: string; readonly data: Uint8Array; readonly version: number }
export interface DeleteOp { readonly op: 'delete'; readonly path: string; readonly version: number; readonly recursive?: boolean }
export interface CheckOp { readonly op: 'check'; readonly path: string; readonly version: number }
export type MultiOp = CreateOp | SetOp | DeleteOp | CheckOp;

/** A request that changes state: what clients (and the leader's own timers) submit. */
export type WriteRequest =
  | CreateOp
  | SetOp
  | DeleteOp
  | { readonly op: 'setACL'; readonly path: string; readonly acl: Acl; readonly aversion: number }
  | { readonly op: 'multi'; readonly ops: readonly MultiOp[] }
  | { readonly op: 'createSession'; readonly sessionId: SessionId; readonly timeoutMs: number }
  | { readonly op: 'closeSession'; readonly sessionId: SessionId }
  /** The leader's own: a session that timed out (SessionTracker). */
  | { readonly op: 'expireSession'; readonly sessionId: SessionId }
  /** The leader's own: an empty container, or a TTL node past its TTL (ContainerManager). */
  | { readonly op: 'deleteExpired'; readonly path: string };

export type WriteOpName = WriteRequest['op'];

/** Who asks: the session the request runs in (if any) and its authenticated identities. */
export interface RequestContext {
  readonly sessionId: SessionId | null;
  readonly auth: readonly AuthId[];
}

export const SYSTEM_CONTEXT: RequestContext = Object.freeze({ sessionId: null, auth: Object.freeze([{ scheme: 'super', id: 'zoogate' }]) });
