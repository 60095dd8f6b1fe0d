import { CodecError } from './codec.ts';
import type { EpochStore, LogStore, SnapshotStore } from './ports.ts';
import type { PeerMessageType } from './messages.ts';
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
 * The leader's broadcast messages, which vouch for nothing on the sender's
 * disk: a PROPOSAL asks the follower to log it, a COMMIT reports acks the
 * leader already holds (a quorum's, counted only after each was durable),
 * PING, REPLY and SYNCED carry no promise about the sender's log.
 */
const VOUCH_FOR_NOTHING: ReadonlySet<PeerMessageType> = new Set(['PROPOSAL', 'COMMIT', 'PING', 'REPLY', 'SYNCED']);

/**
 * Whether this output's messages may leave before its log append, as
 * ZooKeeper's leader does (Leader.propose sends to the followers while its
 * SyncRequestProcessor logs, and the leader's own ack counts only after the
 * fsync). The followers then write in parallel with the leader instead of
 * after it: one fsync instead of two on every write's path. DESIGN.md's rule
 * that no ACK, ACKEPOCH or ACKLD leaves before what it acknowledges is on disk
 * holds: only messages that acknowledge nothing qualify, and only when the
 * output changes nothing but the log (no epochs, truncation or snapshot). A
 * leader that dies before its append completes has sent proposals it does not
 * hold; nobody has acknowledged them to a client (the leader's quorum needs
 * its own durable ack or a majority of followers' durable acks, which only
 * come after the followers logged them), so the next leader may commit or
 * truncate them, as ZAB allows for any uncommitted proposal.
 */
function sendsMayPrecedeAppend(out: Output): boolean {
  if (out.txns.length === 0 || out.sends.length === 0) return false;
  if (out.epochs !== null || out.truncateAfter !== null || out.snapshot !== null) return false;
  for (const s of out.sends) if (!VOUCH_FOR_NOTHING.has(s.msg.type)) return false;
  return true;
}

/**
 * Performs one Output in DESIGN.md's order of effects: 1. persist (epochs,
 * truncation or an installed snapshot, the log; durable on return) and
 * acknowledge; 2. peer messages (a leader's broadcast before its own append:
 * sendsMayPrecedeAppend); 3. apply each commit in zxid order and tell core;
 * 4. its events, then its answer, then the failures that waited for it.
 * Every driver (the server, the test harness, the simulator) goes through here.
 */
export function performOutput(out: Output, t: EffectTarget): void {
  const early = sendsMayPrecedeAppend(out);
  if (early) t.send(out.sends);
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
  if (out.sends.length > 0 && !early) t.send(out.sends);
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
