import { assertNever, invariant } from '../errors.ts';
import type { SessionId, Zxid } from '../ids.ts';
import { parentOf } from '../paths.ts';
import type { LoggedTxn, Txn } from '../txn.ts';
import type { DataTree } from './data-tree.ts';
import { type Stat, statOf } from './znode.ts';

export type WatchEventType = 'NodeCreated' | 'NodeDeleted' | 'NodeDataChanged' | 'NodeChildrenChanged';

/** A change to the tree, as watches see it (API.md's WebSocket event, without its envelope). */
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly path: string;
  readonly zxid: Zxid;
}

export type TxnResult =
  | { readonly op: 'create'; readonly path: string; readonly stat: Stat }
  | { readonly op: 'delete' }
  | { readonly op: 'set'; readonly stat: Stat }
  | { readonly op: 'setACL'; readonly stat: Stat }
  | { readonly op: 'check' }
  | { readonly op: 'multi'; readonly results: readonly TxnResult[] }
  | { readonly op: 'createSession'; readonly sessionId: SessionId; readonly timeoutMs: number }
  | { readonly op: 'closeSession' };

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
  const events: WatchEvent[] = [];
  const result = applyOne(tree, logged.txn, logged.zxid, logged.time, events);
  tree.lastProcessedZxid = logged.zxid;
  return { zxid: logged.zxid, events, result };
}

function applyOne(tree: DataTree, txn: Txn, zxid: Zxid, time: number, events: WatchEvent[]): TxnResult {
  switch (txn.type) {
    case 'create': {
      const node = tree.createNode(txn.path, txn.data, txn.acl, txn.ephemeralOwner, txn.kind, txn.ttlMs, txn.parentCVersion, zxid, time);
      events.push({ type: 'NodeCreated', path: txn.path, zxid }, { type: 'NodeChildrenChanged', path: parentOf(txn.path), zxid });
      return { op: 'create', path: txn.path, stat: statOf(node) };
    }
    case 'delete':
      deleteWithEvents(tree, txn.path, zxid, events);
      return { op: 'delete' };
    case 'setData': {
      const node = tree.get(txn.path);
      invariant(node !== undefined, `setData ${txn.path} at ${zxid}: no such node`);
      tree.setData(node, txn.data, txn.version, zxid, time);
      events.push({ type: 'NodeDataChanged', path: txn.path, zxid });
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
      return { op: 'multi', results: txn.txns.map((t) => applyOne(tree, t, zxid, time, events)) };
    case 'createSession':
      tree.addSession(txn.sessionId, txn.timeoutMs);
      return { op: 'createSession', sessionId: txn.sessionId, timeoutMs: txn.timeoutMs };
    case 'closeSession':
      // CloseSessionTxn.paths2Delete: the ephemerals the leader found, deleted with the session at one zxid.
      for (const p of txn.paths) deleteWithEvents(tree, p, zxid, events);
      tree.removeSession(txn.sessionId);
      return { op: 'closeSession' };
    default:
      return assertNever(txn);
  }
}

function deleteWithEvents(tree: DataTree, path: string, zxid: Zxid, events: WatchEvent[]): void {
  tree.deleteNode(path, zxid);
  events.push({ type: 'NodeDeleted', path, zxid }, { type: 'NodeChildrenChanged', path: parentOf(path), zxid });
}
