import { CodecError } from './codec.ts';
import type { EpochStore, LogStore, SnapshotStore } from './ports.ts';
import type { PeerMessageType } from './messages.ts';
import type { Zxid } from './ids.ts';
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
 * Messages that vouch for nothing on the sender's disk: the leader's PROPOSAL
 * asks the follower to log it, its COMMIT reports acks it already holds (a
 * quorum's, counted only after each was durable), PING, REPLY and SYNCED carry
 * no promise about the sender's log; a follower's REQUEST and SYNC ask the
 * leader for something. (ACK, ACKEPOCH, ACKLD, VOTE, the leader's LOGGED, and
 * its sync messages, which carry its log, do vouch.)
 */
const VOUCH_FOR_NOTHING: ReadonlySet<PeerMessageType> = new Set(['PROPOSAL', 'COMMIT', 'PING', 'REPLY', 'SYNCED', 'REQUEST', 'SYNC']);

/** Whether this output's messages may leave before what it and earlier outputs persist is durable. */
function sendsVouchForNothing(out: Output): boolean {
  if (out.sends.length === 0) return false;
  if (out.epochs !== null || out.truncateAfter !== null || out.snapshot !== null) return false;
  for (const s of out.sends) if (!VOUCH_FOR_NOTHING.has(s.msg.type)) return false;
  return true;
}

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
  return out.txns.length > 0 && sendsVouchForNothing(out);
}

/**
 * Performs one Output in DESIGN.md's order of effects: 1. persist (epochs,
 * truncation or an installed snapshot, the log; durable on return) and
 * acknowledge; 2. peer messages (a leader's broadcast before its own append:
 * sendsMayPrecedeAppend); 3. apply each commit in zxid order and tell core;
 * 4. its events, then its answer, then the failures that waited for it.
 * Every driver (the server, the test harness, the simulator) goes through here
 * or through EffectRunner, which splits the same steps around a deferred fsync.
 */
export function performOutput(out: Output, t: EffectTarget): void {
  const early = sendsMayPrecedeAppend(out);
  if (early) t.send(out.sends);
  persist(out, t);
  finish(out, early, t);
}

/** Step 1 without the acknowledgement: epochs, truncation, snapshot, then the append. */
function persist(out: Output, t: EffectTarget): void {
  if (out.epochs !== null) t.epochs.setEpochs(out.epochs);
  if (out.truncateAfter !== null) {
    // ZAB's TRUNC: snapshots past the point go first (a crash in between leaves
    // the log to replay, never a snapshot of proposals that were dropped).
    for (const s of t.snapshots.listSnapshots()) if (s.zxid > out.truncateAfter) t.snapshots.deleteSnapshot(s.id);
    t.log.truncateAfter(out.truncateAfter);
    t.reloadTree();
  }
  if (out.snapshot !== null) installSnapshot(out.snapshot.zxid, out.snapshot.chunks, t);
  if (out.txns.length > 0) t.log.append(out.txns);
}

/** Steps 1 (core is told the append is durable) and 2, once what `out` persisted is durable. */
function acknowledgeAndSend(out: Output, sentEarly: boolean, t: EffectTarget): void {
  if (out.txns.length > 0) t.replica.logged(out.txns[out.txns.length - 1]!.zxid);
  if (out.sends.length > 0 && !sentEarly) t.send(out.sends);
}

/** Steps 3 and 4, once every transaction it commits is durable here. */
function apply(out: Output, t: EffectTarget): void {
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

function finish(out: Output, sentEarly: boolean, t: EffectTarget): void {
  acknowledgeAndSend(out, sentEarly, t);
  apply(out, t);
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

/**
 * A log whose appends are written at once but made durable later, off the
 * event loop (SqliteStore with deferred sync: SQLite writes the WAL, then one
 * fdatasync runs on libuv's thread pool; the simulator: a sync that completes
 * after simulated time, and a crash loses what was not synced).
 */
export interface LogSync {
  /** Starts making everything appended so far durable; `done` runs later, on its own turn. */
  sync(done: (err: Error | null) => void): void;
  /** Makes everything appended so far durable before it returns. */
  syncNow(): void;
}

/** The part of an output that waits for the log to be durable up to `needs`. */
interface Held {
  readonly out: Output;
  readonly needs: Zxid;
}

/** ... and, on the acknowledge-and-send stream, whether its messages already left. */
interface HeldSend extends Held {
  readonly sentEarly: boolean;
}

/** Whether the driver must perform this output whole, with nothing held before or after it. */
function needsBarrier(out: Output): boolean {
  if (out.epochs !== null || out.truncateAfter !== null || out.snapshot !== null) return true;
  // a SNAP is the tree as of its send: no commit emitted after it may be applied first
  for (const s of out.sends) if (s.msg.type === 'SNAP') return true;
  return false;
}

/**
 * DESIGN.md's order of effects with the fsync off the event loop (ZooKeeper's
 * SyncRequestProcessor runs on its own thread for the same reason). An output's
 * append is written at once; then two ordered streams wait for the log to be
 * durable far enough:
 * - acknowledge and send: core is told the append is logged, and the output's
 *   messages leave (a follower's ACK, votes, the leader's sync messages), once
 *   a sync covering everything appended up to then completes;
 * - apply and answer: commits are applied in zxid order, each once it is
 *   durable here, then events and answers, then replies and role changes.
 * Meanwhile the server keeps reading peers and clients and serving reads, and
 * what arrives is appended behind and shares the next fsync (group commit). So
 * nothing acknowledges, and nothing is applied or answered, before the log
 * it depends on is durable. Messages that vouch for nothing (a leader's
 * PROPOSAL and COMMIT, a follower's forwarded REQUEST) leave at once, as
 * performOutput's broadcast does, when no earlier message is still held (each
 * peer's messages stay in order; a held output whose messages already left,
 * waiting only to tell core its append is logged, holds nothing back).
 * Outputs with epochs, a truncation, a snapshot to install or a SNAP to send
 * are performed whole: everything held is synced on the spot and completed
 * first, and so is their own append.
 * Without a LogSync (append durable on return) it is performOutput in a loop.
 */
export class EffectRunner {
  private readonly sendQueue: HeldSend[] = [];
  private readonly applyQueue: Held[] = [];
  /** Entries of sendQueue whose messages have not left yet (the others only wait to tell core what is logged). */
  private heldSends = 0;
  private written: Zxid;
  private durable: Zxid;
  private syncing = false;
  private stopped = false;
  /** Bumped by a truncation or snapshot, after which a sync started before says nothing about the log's zxids. */
  private era = 0;

  /**
   * `resume` is called after a sync completed and the outputs it held were
   * performed: the driver drains again (what core emitted meanwhile, and what
   * logged() released). `fail`: a sync failed, or performing a released output
   * threw; the runner has stopped and the server must.
   */
  constructor(
    private readonly t: EffectTarget, private readonly logSync: LogSync | null,
    private readonly hooks: { resume(): void; fail(e: Error): void },
  ) {
    this.written = this.durable = t.log.lastZxid();
  }

  /** Output parts held for a sync (for tests). */
  get held(): number {
    return this.sendQueue.length + this.applyQueue.length;
  }

  /** Performs (or holds) the replica's outputs until it has none left. */
  drain(): void {
    const r = this.t.replica;
    for (let out = r.takeOutput(); out !== null && !this.stopped; out = r.takeOutput()) this.perform(out);
  }

  /** No more effects (the server is closing or has failed); a sync in flight is ignored. */
  stop(): void {
    this.stopped = true;
  }

  private perform(out: Output): void {
    if (this.logSync === null) return performOutput(out, this.t);
    if (needsBarrier(out)) return this.performWhole(out);
    const early = this.heldSends === 0 && sendsVouchForNothing(out);
    if (early) this.t.send(out.sends);
    persist(out, this.t);
    if (out.txns.length > 0) this.written = out.txns[out.txns.length - 1]!.zxid;
    if (out.txns.length > 0 || (!early && out.sends.length > 0)) {
      const h = { out, needs: this.written, sentEarly: early };
      if (this.sendQueue.length === 0 && h.needs <= this.durable) acknowledgeAndSend(out, early, this.t);
      else {
        this.sendQueue.push(h);
        if (!early && out.sends.length > 0) this.heldSends++;
      }
    }
    if (out.commits.length > 0 || out.replies.length > 0 || out.roleChanged) {
      const h = { out, needs: out.commits.length > 0 ? out.commits[out.commits.length - 1]!.logged.zxid : 0 };
      if (this.applyQueue.length === 0 && h.needs <= this.durable) apply(out, this.t);
      else this.applyQueue.push(h);
    }
    this.startSync();
  }

  /** Epochs, a truncation, a snapshot or a SNAP: everything before it completes, then it, durably. */
  private performWhole(out: Output): void {
    this.syncNow();
    persist(out, this.t);
    if (out.truncateAfter !== null || out.snapshot !== null) this.era++;
    this.written = this.t.log.lastZxid();
    this.syncNow();
    finish(out, false, this.t);
  }

  private syncNow(): void {
    if (this.written > this.durable) this.logSync!.syncNow();
    this.durable = this.written;
    this.release();
  }

  private startSync(): void {
    if (this.syncing || this.written <= this.durable) return;
    this.syncing = true;
    const target = this.written, era = this.era;
    this.logSync!.sync((err) => {
      this.syncing = false;
      if (this.stopped) return;
      try {
        if (err !== null) throw err;
        if (era === this.era) this.durable = Math.max(this.durable, target);
        this.release();
        this.startSync();
      } catch (e) {
        this.stopped = true;
        return this.hooks.fail(e as Error);
      }
      this.hooks.resume();
    });
  }

  private release(): void {
    while (this.sendQueue.length > 0 && this.sendQueue[0]!.needs <= this.durable && !this.stopped) {
      const h = this.sendQueue.shift()!;
      if (!h.sentEarly && h.out.sends.length > 0) this.heldSends--;
      acknowledgeAndSend(h.out, h.sentEarly, this.t);
    }
    while (this.applyQueue.length > 0 && this.applyQueue[0]!.needs <= this.durable && !this.stopped) apply(this.applyQueue.shift()!.out, this.t);
  }
}
