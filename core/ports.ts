import type { Epoch, Zxid } from './ids.ts';
import type { LoggedTxn } from './txn.ts';

/**
 * The transaction log (ZooKeeper's FileTxnLog; Zab.tla's "history").
 *
 * Preconditions: append() takes transactions in strictly increasing zxid
 * order, each above lastZxid(). Durability: when append() or truncateAfter()
 * returns, the change survives a crash (fsync); a crash during the call leaves
 * either all of the batch or none of it. Errors: an I/O failure throws, and the
 * server must stop (it cannot acknowledge what it did not store).
 */
export interface LogStore {
  append(txns: readonly LoggedTxn[]): void;
  /** Highest zxid stored, or the zxid the log was purged up to when it holds none, or 0. */
  lastZxid(): Zxid;
  /** Lowest zxid still stored, or null when the log is empty. */
  firstZxid(): Zxid | null;
  /** Transactions with zxid > afterZxid, ascending, at most `limit`. */
  readAfter(afterZxid: Zxid, limit: number): LoggedTxn[];
  /** The zxid the log was purged up to (its entries start right after it), 0 if never. */
  purgedUpTo(): Zxid;
  /** Whether the log holds a transaction with exactly this zxid. */
  has(zxid: Zxid): boolean;
  /** The highest zxid stored that is at most `zxid`, or null. */
  lastZxidAtOrBefore(zxid: Zxid): Zxid | null;
  /** Drops every transaction above zxid (ZAB's TRUNC). */
  truncateAfter(zxid: Zxid): void;
  /** Drops every transaction at or below zxid (after a snapshot covers them). */
  purgeUpTo(zxid: Zxid): void;
}

/** ZAB's acceptedEpoch and currentEpoch; durable when set() returns. */
export interface EpochStore {
  getEpochs(): { acceptedEpoch: Epoch; currentEpoch: Epoch };
  setEpochs(e: { acceptedEpoch: Epoch; currentEpoch: Epoch }): void;
}

export interface SnapshotMeta {
  readonly id: number;
  /** The snapshot is the state after applying every transaction up to this zxid. */
  readonly zxid: Zxid;
  readonly nodeCount: number;
  readonly bytes: number;
  readonly createdMs: number;
}

/**
 * Snapshots of the tree, written in chunks over many event-loop turns and
 * visible only once finished (a crash mid-write leaves nothing readable).
 * Chunks carry a checksum; reading a damaged one throws CodecError, and the
 * caller falls back to an older snapshot.
 */
export interface SnapshotStore {
  beginSnapshot(zxid: Zxid, createdMs: number): SnapshotWriter;
  /** Finished snapshots, newest first. */
  listSnapshots(): SnapshotMeta[];
  readSnapshot(id: number): Iterable<Uint8Array>;
  deleteSnapshot(id: number): void;
}

export interface SnapshotWriter {
  writeChunk(chunk: Uint8Array): void;
  /**
   * Durable when it returns. With `replaceHistory` (a snapshot received from the
   * leader, ZAB's SNAP), in the same atomic step every other snapshot and every
   * log entry go, and the log continues from this snapshot's zxid.
   */
  finish(nodeCount: number, opts?: { replaceHistory?: boolean }): SnapshotMeta;
  abort(): void;
}
