import type { Zxid } from '../core/ids.ts';
import type { LogStore } from '../core/ports.ts';
import type { LoggedTxn } from '../core/txn.ts';
import { isSuccessor } from '../storage/restore.ts';

/** A resume further back than this many transactions is answered Compacted rather than replayed. */
export const MAX_REPLAY_TXNS = 200_000;

/**
 * The transactions after `after` up to `upTo`, from the log: what a resuming
 * watcher (SSE Last-Event-ID, a WebSocket resume with persistent watches)
 * missed. `{ compacted }` when the log no longer holds all of them (purged
 * behind a snapshot) or they are too many to replay: a partial replay would be
 * a silent gap.
 */
export function missedTxns(store: LogStore, after: Zxid, upTo: Zxid): LoggedTxn[] | { compacted: string } {
  if (after >= upTo) return [];
  const first = store.firstZxid();
  const gone = first === null ? store.lastZxid() > after : first > after && !isSuccessor(after, first);
  if (gone) return { compacted: `events after zxid ${after} are no longer held here` };
  const out: LoggedTxn[] = [];
  for (let from = after; from < upTo;) {
    const batch = store.readAfter(from, 5000).filter((t) => t.zxid <= upTo);
    if (batch.length === 0) break;
    if (out.length + batch.length > MAX_REPLAY_TXNS) return { compacted: `more than ${MAX_REPLAY_TXNS} transactions since zxid ${after}` };
    for (const t of batch) out.push(t);
    from = batch[batch.length - 1]!.zxid;
  }
  return out;
}
