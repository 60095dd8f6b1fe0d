import { epochOf, type Zxid } from '../ids.ts';
import type { LogStore } from '../ports.ts';

export type SyncPlan =
  /** The follower's log is a prefix of ours: send what follows `from`. */
  | { readonly mode: 'DIFF'; readonly from: Zxid }
  /** The follower has proposals we never had: it drops what follows `to`, then gets what follows `to`. */
  | { readonly mode: 'TRUNC'; readonly to: Zxid }
  /** Too far behind (or too much to send): our tree as a snapshot, then what follows it. */
  | { readonly mode: 'SNAP' };

export interface SyncInputs {
  /** The follower's last logged zxid (its ACKEPOCH). */
  readonly peerLastZxid: Zxid;
  /** Our last proposed zxid: the end of the history we lead with. */
  readonly lastProposed: Zxid;
  /** Our log, durable part. */
  readonly log: Pick<LogStore, 'has' | 'purgedUpTo' | 'lastZxidAtOrBefore'>;
  /** Zxids we proposed that are not yet durable here (they are in our history all the same). */
  readonly pending: ReadonlySet<Zxid>;
  /** Beyond this many transactions to send, a snapshot is cheaper (ZooKeeper's snapshotSizeFactor, roughly). */
  readonly maxDiffTxns: number;
  /** How many transactions of our history follow a zxid. */
  readonly countAfter: (zxid: Zxid) => number;
}

/**
 * Which synchronisation a follower needs (LearnerHandler.syncFollower): DIFF
 * when its last zxid is in our history (zxids are unique to a leader, and a
 * log holds a prefix of each epoch's proposals, so sharing the last entry means
 * sharing all before it); TRUNC when it has proposals we never had, back to the
 * last entry of ours in the same epoch; SNAP when our log no longer reaches
 * back to it, the truncation would cross an epoch, or the difference is large.
 */
export function planSync(x: SyncInputs): SyncPlan {
  const L = x.peerLastZxid;
  const purged = x.log.purgedUpTo();
  const inHistory = (z: Zxid) => z === purged || x.log.has(z) || x.pending.has(z);
  let plan: SyncPlan;
  if (L === x.lastProposed) plan = { mode: 'DIFF', from: L };
  else if (L >= purged && inHistory(L)) plan = { mode: 'DIFF', from: L };
  else if (L > x.lastProposed) {
    plan = epochOf(L) === epochOf(x.lastProposed) ? { mode: 'TRUNC', to: x.lastProposed } : { mode: 'SNAP' };
  } else {
    const shared = x.log.lastZxidAtOrBefore(L);
    plan = shared !== null && shared > purged && epochOf(shared) === epochOf(L) ? { mode: 'TRUNC', to: shared } : { mode: 'SNAP' };
  }
  if (plan.mode !== 'SNAP' && x.countAfter(plan.mode === 'DIFF' ? plan.from : plan.to) > x.maxDiffTxns) return { mode: 'SNAP' };
  return plan;
}
