import type { EpochStore, LogStore } from './ports.ts';
import type { Output, Replica, Reply, Token } from './replica.ts';
import { type Applied, applyTxn } from './tree/apply-txn.ts';
import type { DataTree } from './tree/data-tree.ts';

export interface EffectTarget {
  readonly log: LogStore;
  readonly epochs: EpochStore;
  readonly tree: DataTree;
  readonly replica: Replica;
  /** Step 4, once per transaction right after it is applied: deliver its events, then answer its request. */
  committed(token: Token | null, applied: Applied): void;
  replied(reply: Reply): void;
  /** After a batch of commits (snapshot scheduling, waiters for a zxid). */
  batchApplied?(): void;
}

/**
 * Performs one Output in DESIGN.md's order of effects: 1. persist (epochs,
 * then the log, durable on return) and acknowledge; 2. (peer messages);
 * 3. apply each commit in zxid order and tell core; 4. its events, then its
 * answer, then the failures that waited for it.
 * Every driver (the server, the test harness, the simulator) goes through here.
 */
export function performOutput(out: Output, t: EffectTarget): void {
  if (out.epochs !== null) t.epochs.setEpochs(out.epochs);
  if (out.txns.length > 0) {
    t.log.append(out.txns);
    t.replica.logged(out.txns[out.txns.length - 1]!.zxid);
  }
  // One transaction at a time, so that whatever its answer triggers (a client's next
  // read) sees the tree exactly as of that transaction, and events stay in zxid order.
  for (const c of out.commits) {
    const applied = applyTxn(t.tree, c.logged);
    const released = t.replica.applied(c.logged.zxid);
    t.committed(c.token, applied);
    for (const r of released) t.replied(r);
  }
  if (out.commits.length > 0) t.batchApplied?.();
  for (const r of out.replies) t.replied(r);
}

/** Performs outputs until the replica has none left. */
export function drain(t: EffectTarget): void {
  for (let out = t.replica.takeOutput(); out !== null; out = t.replica.takeOutput()) performOutput(out, t);
}
