import { CodecError } from './codec.ts';
import type { EpochStore, LogStore, SnapshotStore } from './ports.ts';
import type { Output, Replica, Reply, Send, Token } from './replica.ts';
import { type Applied, applyTxn } from './tree/apply-txn.ts';
import type { DataTree } from './tree/data-tree.ts';
import { decodeSnapshot } from './tree/snapshot-codec.ts';

export interface EffectTarget {
  readonly log: LogStore;
  readonly epochs: EpochStore;
  readonly snapshots: SnapshotStore;
  readonly tree: DataTree;
  readonly replica: Replica;
  /** Rebuild the tree from storage (snapshot + log) after the log was truncated. */
  reloadTree(): void;
  /** Step 2: hand messages to the peers (in order per peer; a SNAP's chunks are the tree as it is now). */
  send(sends: readonly Send[]): void;
  /** Step 4, once per transaction right after it is applied: deliver its events, then answer its request. */
  committed(token: Token | null, applied: Applied): void;
  replied(reply: Reply): void;
  /** After a batch of commits (snapshot scheduling, waiters for a zxid). */
  batchApplied?(): void;
  /** The server's role or serving state changed. */
  roleChanged?(): void;
}

/**
 * Performs one Output in DESIGN.md's order of effects: 1. persist (epochs,
 * truncation or an installed snapshot, the log; durable on return) and
 * acknowledge; 2. peer messages; 3. apply each commit in zxid order and tell
 * core; 4. its events, then its answer, then the failures that waited for it.
 * Every driver (the server, the test harness, the simulator) goes through here.
 */
export function performOutput(out: Output, t: EffectTarget): void {
  if (out.epochs !== null) t.epochs.setEpochs(out.epochs);
  if (out.truncateAfter !== null) {
    // ZAB's TRUNC: snapshots past the point go first (a crash in between leaves
    // the log to replay, never a snapshot of proposals that were dropped).
    for (const s of t.snapshots.listSnapshots()) if (s.zxid > out.truncateAfter) t.snapshots.deleteSnapshot(s.id);
    t.log.truncateAfter(out.truncateAfter);
    t.reloadTree();
  }
  if (out.snapshot !== null) installSnapshot(out.snapshot.zxid, out.snapshot.chunks, t);
  if (out.txns.length > 0) {
    t.log.append(out.txns);
    t.replica.logged(out.txns[out.txns.length - 1]!.zxid);
  }
  if (out.sends.length > 0) t.send(out.sends);
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
  if (out.roleChanged) t.roleChanged?.();
}

/** ZAB's SNAP on the follower: the leader's tree becomes ours, durably, as our whole history. */
function installSnapshot(zxid: number, chunks: readonly Uint8Array[], t: EffectTarget): void {
  const tree = decodeSnapshot(chunks);
  if (tree.lastProcessedZxid !== zxid) throw new CodecError(`SNAP says ${zxid} but holds ${tree.lastProcessedZxid}`);
  const w = t.snapshots.beginSnapshot(zxid, 0);
  for (const c of chunks) w.writeChunk(c);
  w.finish(tree.nodeCount, { replaceHistory: true });
  t.tree.loadFrom(tree);
}

/** Performs outputs until the replica has none left. */
export function drain(t: EffectTarget): void {
  for (let out = t.replica.takeOutput(); out !== null; out = t.replica.takeOutput()) performOutput(out, t);
}
