import { assertNever, invariant } from '../errors.ts';
import type { SessionId, Zxid } from '../ids.ts';
import { eventsOfTxn, type WatchEvent, type WatchEventType } from './txn-events.ts';
import type { LoggedTxn, Txn } from '../txn.ts';
import type { DataTree } from './data-tree.ts';
import { type Stat, statOf } from './znode.ts';

export type { WatchEvent, WatchEventType };

export type TxnResult =
  | { readonly op: 'create'; readonly path: string; readonly stat: Stat }
  | { readonly op: 'delete' }
  | { readonly op: 'set'; readonly stat: Stat }
  | { readonly op: 'setACL'; readonly stat: Stat }
  | { readonly op: 'check' }
  | { readonly op: 'multi'; readonly results: readonly TxnResult[] }
  | { readonly op: 'createSession'; readonly sessionId: SessionId; readonly timeoutMs: number }
  | { readonly op: 'closeSession'; readonly sessionId: SessionId; readonly expired: boolean };

export interface Applied {
  readonly zxid: Zxid;
  readonly events: WatchEvent[];
  readonly result: TxnResult;
}

/**
 * Applies one committed transaction (DataTree.processTxn). Preparation already
 * checked everything, so any failure here means the replicas diverged: the
 * invariant checks stop the process.
 */
export function applyTxn(tree: DataTree, logged: LoggedTxn): Applied {
  invariant(logged.zxid > tree.lastProcessedZxid, `apply ${logged.zxid} after ${tree.lastProcessedZxid}: out of order`);
  const result = applyOne(tree, logged.txn, logged.zxid, logged.time);
  tree.lastProcessedZxid = logged.zxid;
  return { zxid: logged.zxid, events: eventsOfTxn(logged), result };
}

function applyOne(tree: DataTree, txn: Txn, zxid: Zxid, time: number): TxnResult {
  switch (txn.type) {
    case 'create': {
      const node = tree.createNode(txn.path, txn.data, txn.acl, txn.ephemeralOwner, txn.kind, txn.ttlMs, txn.parentCVersion, zxid, time);
      return { op: 'create', path: txn.path, stat: statOf(node) };
    }
    case 'delete':
      tree.deleteNode(txn.path, zxid);
      return { op: 'delete' };
    case 'setData': {
      const node = tree.get(txn.path);
      invariant(node !== undefined, `setData ${txn.path} at ${zxid}: no such node`);
      tree.setData(node, txn.data, txn.version, zxid, time);
      return { op: 'set', stat: statOf(node) };
    }
    case 'setACL': {
      const node = tree.get(txn.path);
      invariant(node !== undefined, `setACL ${txn.path} at ${zxid}: no such node`);
      tree.setAcl(node, txn.acl, txn.aversion);
      return { op: 'setACL', stat: statOf(node) };
    }
    case 'check':
      invariant(tree.get(txn.path) !== undefined, `check ${txn.path} at ${zxid}: no such node`);
      return { op: 'check' };
    case 'multi':
      return { op: 'multi', results: txn.txns.map((t) => applyOne(tree, t, zxid, time)) };
    case 'createSession':
      tree.addSession(txn.sessionId, txn.timeoutMs);
      return { op: 'createSession', sessionId: txn.sessionId, timeoutMs: txn.timeoutMs };
    case 'closeSession':
      // CloseSessionTxn.paths2Delete: the ephemerals the leader found, deleted with the session at one zxid.
      for (const p of txn.paths) tree.deleteNode(p, zxid);
      tree.removeSession(txn.sessionId);
      return { op: 'closeSession', sessionId: txn.sessionId, expired: txn.expired };
    default:
      return assertNever(txn);
  }
}
