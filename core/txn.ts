import type { Acl } from './acl.ts';
import type { SessionId, Zxid } from './ids.ts';

/** How a znode lives and dies. Stored per node; ZooKeeper encodes the same in ephemeralOwner. */
export const NodeKind = { PERSISTENT: 0, EPHEMERAL: 1, CONTAINER: 2, TTL: 3 } as const;
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];

/**
 * A transaction: the unit that is logged, replicated and applied. It is the
 * result of preparing a request on the leader (every check already done, every
 * choice already made: sequential names, versions, the session's ephemerals),
 * so applying it is deterministic and cannot fail on a replica that has applied
 * the same prefix (ZooKeeper's Txn records; Zab.tla's "transactions").
 */
export type Txn =
  | CreateTxn
  | { readonly type: 'delete'; readonly path: string }
  | { readonly type: 'setData'; readonly path: string; readonly data: Uint8Array; readonly version: number }
  | { readonly type: 'setACL'; readonly path: string; readonly acl: Acl; readonly aversion: number }
  | { readonly type: 'check'; readonly path: string; readonly version: number }
  | { readonly type: 'multi'; readonly txns: readonly Txn[] }
  | { readonly type: 'createSession'; readonly sessionId: SessionId; readonly timeoutMs: number }
  | { readonly type: 'closeSession'; readonly sessionId: SessionId; readonly paths: readonly string[]; readonly expired: boolean };

export interface CreateTxn {
  readonly type: 'create';
  readonly path: string;
  readonly data: Uint8Array;
  readonly acl: Acl;
  readonly ephemeralOwner: SessionId | null;
  readonly kind: NodeKind;
  /** TTL in ms for NodeKind.TTL, else 0. */
  readonly ttlMs: number;
  /** The parent's internal cversion (its count of creates) after this create (ZooKeeper's CreateTxn.parentCVersion). */
  readonly parentCVersion: number;
}

export type TxnType = Txn['type'];

/** A transaction with the header the leader gives it: its zxid and the leader's clock at proposal. */
export interface LoggedTxn {
  readonly zxid: Zxid;
  /** Leader's wall clock (epoch ms) when it proposed: the ctime/mtime of what the txn touches. */
  readonly time: number;
  readonly txn: Txn;
}
