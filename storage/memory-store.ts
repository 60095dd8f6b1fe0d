import type { Epoch, Zxid } from '../core/ids.ts';
import type { EpochStore, LogStore, SnapshotMeta, SnapshotStore, SnapshotWriter } from '../core/ports.ts';
import type { LoggedTxn } from '../core/txn.ts';
import { invariant } from '../core/errors.ts';

/** In-memory log, epochs and snapshots: what the simulator gives each simulated server. */
export class MemoryStore implements LogStore, EpochStore, SnapshotStore {
  private log: LoggedTxn[] = [];
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
    this.log.push(...txns);
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
    this.log = this.log.filter((t) => t.zxid <= zxid);
  }
  purgeUpTo(zxid: Zxid): void {
    this.purgedUpTo_ = Math.max(this.purgedUpTo_, zxid);
    this.log = this.log.filter((t) => t.zxid > zxid);
  }
  getEpochs(): { acceptedEpoch: Epoch; currentEpoch: Epoch } {
    return { ...this.epochs };
  }
  setEpochs(e: { acceptedEpoch: Epoch; currentEpoch: Epoch }): void {
    this.epochs = { ...e };
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
          this.purgedUpTo_ = zxid;
        }
        this.snaps.push({ ...meta, chunks });
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
