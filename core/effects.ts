import type { EpochStore, LogStore } from './ports.ts';
import type { Output, Replica, Reply, Token } from './replica.ts';
import { type Applied, applyTxn } from './tree/apply-txn.ts';
import type { DataTree } from './tree/data-tree.ts';

export interface EffectTarget {
  readonly log: LogStore;
  readonly epochs: EpochStore;
  readonly tree: DataTree;
  readonly replica: Replica;
  /** Step 4: the commits of one batch, applied: deliver their events first, then answer their requests. */
  committed(applied: ReadonlyArray<{ readonly token: Token | null; readonly applied: Applied }>): void;
  replied(reply: Reply): void;
}

/**
 * Performs one Output in DESIGN.md's order of effects: 1. persist (epochs,
 * then the log, durable on return) and acknowledge; 2. (peer messages);
 * 3. apply commits in zxid order and tell core; 4. events, then answers.
 * Every driver (the server, the test harness, the simulator) goes through here.
 */
export function performOutput(out: Output, t: EffectTarget): void {
  if (out.epochs !== null) t.epochs.setEpochs(out.epochs);
  if (out.txns.length > 0) {
    t.log.append(out.txns);
    t.replica.logged(out.txns[out.txns.length - 1]!.zxid);
  }
  if (out.commits.length > 0) {
    const applied = out.commits.map((c) => ({ token: c.token, applied: applyTxn(t.tree, c.logged) }));
    t.replica.applied(out.commits[out.commits.length - 1]!.logged.zxid);
    t.committed(applied);
  }
  for (const r of out.replies) t.replied(r);
}

/** Performs outputs until the replica has none left. */
export function drain(t: EffectTarget): void {
  for (let out = t.replica.takeOutput(); out !== null; out = t.replica.takeOutput()) performOutput(out, t);
}
