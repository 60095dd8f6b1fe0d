import { assertNever } from '../errors.ts';
import type { Zxid } from '../ids.ts';
import { parentOf } from '../paths.ts';
import type { LoggedTxn, Txn } from '../txn.ts';

export type WatchEventType = 'NodeCreated' | 'NodeDeleted' | 'NodeDataChanged' | 'NodeChildrenChanged';

/** A change to the tree, as watches see it (API.md's WebSocket event, without its envelope). */
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly path: string;
  readonly zxid: Zxid;
}

/**
 * The changes a transaction makes, in order (DataTree.createNode/deleteNode/
 * setData's triggers): a create is NodeCreated on the path and
 * NodeChildrenChanged on its parent; a delete NodeDeleted and
 * NodeChildrenChanged; a set NodeDataChanged; an ACL change nothing. A pure
 * function of the transaction, so the log is also the history of events.
 */
export function eventsOfTxn(logged: LoggedTxn): WatchEvent[] {
  const out: WatchEvent[] = [];
  collect(logged.txn, logged.zxid, out);
  return out;
}

function collect(txn: Txn, zxid: Zxid, out: WatchEvent[]): void {
  switch (txn.type) {
    case 'create':
      out.push({ type: 'NodeCreated', path: txn.path, zxid }, { type: 'NodeChildrenChanged', path: parentOf(txn.path), zxid });
      return;
    case 'delete':
      out.push({ type: 'NodeDeleted', path: txn.path, zxid }, { type: 'NodeChildrenChanged', path: parentOf(txn.path), zxid });
      return;
    case 'setData':
      out.push({ type: 'NodeDataChanged', path: txn.path, zxid });
      return;
    case 'closeSession':
      for (const p of txn.paths) out.push({ type: 'NodeDeleted', path: p, zxid }, { type: 'NodeChildrenChanged', path: parentOf(p), zxid });
      return;
    case 'multi':
      for (const t of txn.txns) collect(t, zxid, out);
      return;
    case 'setACL':
    case 'check':
    case 'createSession':
      return;
    default:
      assertNever(txn);
  }
}
