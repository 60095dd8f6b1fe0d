import { CodecError } from '../core/codec.ts';
import { counterOf, epochOf, type Zxid } from '../core/ids.ts';
import type { LogStore, SnapshotMeta, SnapshotStore } from '../core/ports.ts';
import { applyTxn } from '../core/tree/apply-txn.ts';
import { DataTree } from '../core/tree/data-tree.ts';
import { decodeSnapshot } from '../core/tree/snapshot-codec.ts';

export interface Restored {
  readonly tree: DataTree;
  /** The snapshot the tree started from, or null for an empty start. */
  readonly snapshot: SnapshotMeta | null;
  readonly replayed: number;
  /** Snapshots skipped because they were damaged. */
  readonly damaged: number[];
}

/** True when `next` can follow `prev` in a log: the next counter of an epoch, or the first of a later epoch. */
export function isSuccessor(prev: Zxid, next: Zxid): boolean {
  return next === prev + 1 || (epochOf(next) > epochOf(prev) && counterOf(next) === 1);
}

/**
 * A server's state at start (ZKDatabase.loadDataBase): the newest snapshot
 * that decodes and checks out, then every logged transaction after it, in
 * order. A damaged snapshot is skipped for an older one (the log reaches back
 * to the oldest retained snapshot). A gap between snapshot and log is fatal.
 */
export function restore(log: LogStore, snapshots: SnapshotStore, batch = 10_000): Restored {
  const damaged: number[] = [];
  let tree: DataTree | null = null;
  let snapshot: SnapshotMeta | null = null;
  for (const meta of snapshots.listSnapshots()) {
    try {
      tree = decodeSnapshot(snapshots.readSnapshot(meta.id));
      if (tree.lastProcessedZxid !== meta.zxid) throw new CodecError(`snapshot ${meta.id} is at ${tree.lastProcessedZxid}, its record says ${meta.zxid}`);
      snapshot = meta;
      break;
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      damaged.push(meta.id);
      tree = null;
    }
  }
  tree ??= new DataTree();
  const first = log.firstZxid();
  if (first !== null && first > tree.lastProcessedZxid && !isSuccessor(tree.lastProcessedZxid, first)) {
    throw new Error(`the log starts at ${first}, which does not follow the newest usable snapshot (${tree.lastProcessedZxid})`);
  }
  if (first === null && log.lastZxid() > tree.lastProcessedZxid) {
    throw new Error(`the log was purged up to ${log.lastZxid()} but no usable snapshot reaches it`);
  }
  let replayed = 0;
  for (;;) {
    const txns = log.readAfter(tree.lastProcessedZxid, batch);
    if (txns.length === 0) break;
    for (const t of txns) {
      if (!isSuccessor(tree.lastProcessedZxid, t.zxid)) throw new Error(`log gap: ${t.zxid} after ${tree.lastProcessedZxid}`);
      applyTxn(tree, t);
      replayed++;
    }
  }
  return { tree, snapshot, replayed, damaged };
}
