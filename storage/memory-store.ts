import type { Epoch, Zxid } from '../core/ids.ts';
import type { EpochStore, LogStore, SnapshotMeta, SnapshotStore, SnapshotWriter } from '../core/ports.ts';
import type { LoggedTxn } from '../core/txn.ts';
import { invariant } from '../core/errors.ts';

/**
 * In-memory log, epochs and snapshots: what the simulator gives each simulated server.
 * By default an append is durable on return. With deferSync() it behaves as
 * SqliteStore's deferred sync: appends are written, a sync covers what was written
 * before it started (markDurable(writeSeq as read then)), epochs, truncation and a
 * finished snapshot sync everything, and a power cut (loseUnsynced) keeps only a
 * prefix of what no sync covered, as SQLite's WAL recovery keeps a prefix of commits.
 */
export class MemoryStore implements LogStore, EpochStore, SnapshotStore {
  private log: LoggedTxn[] = [];
  /** The write sequence number of each entry of `log` (deferred sync). */
  private seqs: number[] = [];
  /** Appended entries so far; with deferred sync, those up to durableSeq are durable. */
  writeSeq = 0;
  private durableSeq: number | null = null;
  private purgedUpTo_: Zxid = 0;
  private epochs = { acceptedEpoch: 0, currentEpoch: 0 };
  private snaps: Array<SnapshotMeta & { chunks: Uint8Array[] }> = [];
  private nextSnapId = 1;

  append(txns: readonly LoggedTxn[]): void {
    let prev = this.lastZxid();
    for (const t of txns) {
      invariant(t.zxid > prev, `log append ${t.zxid} after ${prev}`);
      prev = t.zxid;
    }
    for (const t of txns) {
      this.log.push(t);
      this.seqs.push(++this.writeSeq);
    }
  }

  deferSync(): void {
    this.durableSeq = this.writeSeq;
  }

  /** A sync that started when writeSeq was `seq` has completed. */
  markDurable(seq: number = this.writeSeq): void {
    if (this.durableSeq !== null) this.durableSeq = Math.max(this.durableSeq, seq);
  }

  /** Deferred sync: how many appended entries no sync has covered yet. */
  get unsynced(): number {
    return this.durableSeq === null ? 0 : this.seqs.filter((q) => q > this.durableSeq!).length;
  }

  /** The highest zxid a power cut would keep (deferred sync), or lastZxid(). */
  lastDurableZxid(): Zxid {
    if (this.durableSeq === null) return this.lastZxid();
    for (let i = this.log.length - 1; i >= 0; i--) if (this.seqs[i]! <= this.durableSeq) return this.log[i]!.zxid;
    return this.purgedUpTo_;
  }

  /** A power cut: of the entries no sync covered, the first `keep` survive, the rest are gone. */
  loseUnsynced(keep: number): void {
    if (this.durableSeq === null) return;
    const d = this.durableSeq;
    let kept = 0;
    this.filterLog((_t, q) => q <= d || kept++ < keep);
    this.durableSeq = this.writeSeq;
  }

  private filterLog(keep: (t: LoggedTxn, seq: number) => boolean): void {
    const log: LoggedTxn[] = [], seqs: number[] = [];
    for (let i = 0; i < this.log.length; i++) {
      if (!keep(this.log[i]!, this.seqs[i]!)) continue;
      log.push(this.log[i]!);
      seqs.push(this.seqs[i]!);
    }
    this.log = log;
    this.seqs = seqs;
  }
  lastZxid(): Zxid {
    return this.log.length > 0 ? this.log[this.log.length - 1]!.zxid : this.purgedUpTo_;
  }
  firstZxid(): Zxid | null {
    return this.log.length > 0 ? this.log[0]!.zxid : null;
  }
  readAfter(afterZxid: Zxid, limit: number): LoggedTxn[] {
    return this.log.filter((t) => t.zxid > afterZxid).slice(0, limit);
  }
  purgedUpTo(): Zxid {
    return this.purgedUpTo_;
  }
  has(zxid: Zxid): boolean {
    return this.log.some((t) => t.zxid === zxid);
  }
  lastZxidAtOrBefore(zxid: Zxid): Zxid | null {
    let best: Zxid | null = null;
    for (const t of this.log) if (t.zxid <= zxid) best = t.zxid;
    return best;
  }
  truncateAfter(zxid: Zxid): void {
    this.filterLog((t) => t.zxid <= zxid);
    this.markDurable();
  }
  purgeUpTo(zxid: Zxid): void {
    this.purgedUpTo_ = Math.max(this.purgedUpTo_, zxid);
    this.filterLog((t) => t.zxid > zxid);
  }
  getEpochs(): { acceptedEpoch: Epoch; currentEpoch: Epoch } {
    return { ...this.epochs };
  }
  setEpochs(e: { acceptedEpoch: Epoch; currentEpoch: Epoch }): void {
    this.epochs = { ...e };
    this.markDurable();
  }
  beginSnapshot(zxid: Zxid, createdMs: number): SnapshotWriter {
    const chunks: Uint8Array[] = [];
    let open = true;
    return {
      writeChunk: (c) => {
        invariant(open, 'snapshot writer closed');
        chunks.push(c.slice());
      },
      finish: (nodeCount, opts) => {
        invariant(open, 'snapshot writer closed');
        open = false;
        const meta = { id: this.nextSnapId++, zxid, nodeCount, bytes: chunks.reduce((a, c) => a + c.length, 0), createdMs };
        if (opts?.replaceHistory) {
          this.snaps = [];
          this.log = [];
          this.seqs = [];
          this.purgedUpTo_ = zxid;
        }
        this.snaps.push({ ...meta, chunks });
        this.markDurable();
        return meta;
      },
      abort: () => {
        open = false;
      },
    };
  }
  listSnapshots(): SnapshotMeta[] {
    return this.snaps
      .map(({ chunks: _c, ...m }) => m)
      .sort((a, b) => b.zxid - a.zxid || b.id - a.id);
  }
  readSnapshot(id: number): Iterable<Uint8Array> {
    const s = this.snaps.find((x) => x.id === id);
    invariant(s !== undefined, `no snapshot ${id}`);
    return s.chunks;
  }
  deleteSnapshot(id: number): void {
    this.snaps = this.snaps.filter((s) => s.id !== id);
  }
  /** Test hook: damage a stored snapshot chunk. */
  corruptSnapshot(id: number, chunk: number): void {
    const s = this.snaps.find((x) => x.id === id)!;
    s.chunks[chunk]![s.chunks[chunk]!.length - 1]! ^= 0xff;
  }
}
