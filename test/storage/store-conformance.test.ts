// One conformance suite for every implementation of the storage ports (DESIGN.md habit 4).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeZxid } from '../../core/ids.ts';
import type { EpochStore, LogStore, SnapshotStore } from '../../core/ports.ts';
import type { LoggedTxn } from '../../core/txn.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { SqliteStore } from '../../storage/sqlite-store.ts';

type Store = LogStore & EpochStore & SnapshotStore;

const txn = (epoch: number, n: number): LoggedTxn => ({
  zxid: makeZxid(epoch, n), time: 1000 + n,
  txn: { type: 'setData', path: `/n${n}`, data: new Uint8Array([n & 255]), version: n },
});

function suite(name: string, make: () => { store: Store; cleanup(): void }) {
  describe(name, () => {
    test('append, lastZxid, firstZxid, readAfter in order', () => {
      const { store, cleanup } = make();
      try {
        assert.equal(store.lastZxid(), 0);
        assert.equal(store.firstZxid(), null);
        store.append([txn(1, 1), txn(1, 2), txn(1, 3)]);
        store.append([txn(2, 1)]);
        assert.equal(store.lastZxid(), makeZxid(2, 1));
        assert.equal(store.firstZxid(), makeZxid(1, 1));
        assert.deepEqual(store.readAfter(makeZxid(1, 1), 10).map((t) => t.zxid), [makeZxid(1, 2), makeZxid(1, 3), makeZxid(2, 1)]);
        assert.deepEqual(store.readAfter(0, 2).map((t) => t.zxid), [makeZxid(1, 1), makeZxid(1, 2)]);
        const back = store.readAfter(makeZxid(1, 2), 1)[0]!;
        assert.deepEqual({ ...back, txn: { ...back.txn, data: Array.from((back.txn as { data: Uint8Array }).data) } },
          { ...txn(1, 3), txn: { ...txn(1, 3).txn, data: [3] } });
      } finally { cleanup(); }
    });

    test('append refuses zxids that do not increase, and stores nothing of such a batch', () => {
      const { store, cleanup } = make();
      try {
        store.append([txn(1, 5)]);
        assert.throws(() => store.append([txn(1, 6), txn(1, 4)]), /invariant/);
        assert.throws(() => store.append([txn(1, 5)]), /invariant/);
        assert.equal(store.lastZxid(), makeZxid(1, 5));
        assert.equal(store.readAfter(0, 10).length, 1);
      } finally { cleanup(); }
    });

    test('truncateAfter drops the tail (ZAB TRUNC); purgeUpTo drops the head and remembers where', () => {
      const { store, cleanup } = make();
      try {
        store.append([1, 2, 3, 4, 5].map((n) => txn(1, n)));
        store.truncateAfter(makeZxid(1, 3));
        assert.equal(store.lastZxid(), makeZxid(1, 3));
        store.append([txn(2, 1)]);
        store.purgeUpTo(makeZxid(1, 2));
        assert.equal(store.firstZxid(), makeZxid(1, 3));
        store.purgeUpTo(makeZxid(2, 1));
        assert.equal(store.firstZxid(), null);
        assert.equal(store.lastZxid(), makeZxid(2, 1), 'an emptied log still knows how far it reached');
      } finally { cleanup(); }
    });

    test('epochs round-trip', () => {
      const { store, cleanup } = make();
      try {
        assert.deepEqual(store.getEpochs(), { acceptedEpoch: 0, currentEpoch: 0 });
        store.setEpochs({ acceptedEpoch: 4, currentEpoch: 3 });
        assert.deepEqual(store.getEpochs(), { acceptedEpoch: 4, currentEpoch: 3 });
      } finally { cleanup(); }
    });

    test('snapshots are invisible until finished, listed newest first, read back chunk by chunk, deletable', () => {
      const { store, cleanup } = make();
      try {
        const w1 = store.beginSnapshot(10, 1);
        w1.writeChunk(new Uint8Array([1, 2]));
        assert.equal(store.listSnapshots().length, 0);
        w1.writeChunk(new Uint8Array([3]));
        const m1 = w1.finish(7);
        assert.deepEqual({ zxid: m1.zxid, nodeCount: m1.nodeCount, bytes: m1.bytes }, { zxid: 10, nodeCount: 7, bytes: 3 });
        const w2 = store.beginSnapshot(20, 2);
        w2.writeChunk(new Uint8Array([9]));
        const aborted = store.beginSnapshot(30, 3);
        aborted.writeChunk(new Uint8Array([8]));
        aborted.abort();
        const m2 = w2.finish(1);
        assert.deepEqual(store.listSnapshots().map((m) => m.zxid), [20, 10]);
        assert.deepEqual([...store.readSnapshot(m1.id)].map((c) => Array.from(c)), [[1, 2], [3]]);
        store.deleteSnapshot(m2.id);
        assert.deepEqual(store.listSnapshots().map((m) => m.id), [m1.id]);
      } finally { cleanup(); }
    });
  });
}

suite('MemoryStore', () => ({ store: new MemoryStore(), cleanup: () => {} }));
suite('MemoryStore, deferred sync', () => {
  const store = new MemoryStore();
  store.deferSync();
  return { store, cleanup: () => {} };
});

function sqlite(opts: { deferSync?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'zoogate-store-'));
  const store = new SqliteStore(join(dir, 'z.db'), opts);
  return { store, dir, cleanup: () => { store.close(); rmSync(dir, { recursive: true, force: true }); } };
}
suite('SqliteStore', () => sqlite());
suite('SqliteStore, deferred sync', () => sqlite({ deferSync: true }));

describe('SqliteStore on disk', () => {
  test('everything survives a reopen; a snapshot left unfinished by a crash is removed', () => {
    const { store, dir, cleanup } = sqlite();
    try {
      store.append([txn(1, 1), txn(1, 2)]);
      store.setEpochs({ acceptedEpoch: 2, currentEpoch: 2 });
      const w = store.beginSnapshot(makeZxid(1, 1), 5);
      w.writeChunk(new Uint8Array([1]));
      w.finish(1);
      const torn = store.beginSnapshot(makeZxid(1, 2), 6);
      torn.writeChunk(new Uint8Array([2]));
      store.close(); // as if the process died here
      const again = new SqliteStore(join(dir, 'z.db'));
      assert.equal(again.lastZxid(), makeZxid(1, 2));
      assert.deepEqual(again.getEpochs(), { acceptedEpoch: 2, currentEpoch: 2 });
      assert.deepEqual(again.listSnapshots().map((m) => m.zxid), [makeZxid(1, 1)]);
      const db = new Database(join(dir, 'z.db'), { readonly: true });
      assert.equal((db.prepare('SELECT count(*) AS n FROM snapshot_chunks').get() as { n: number }).n, 1, 'the torn snapshot\'s chunks are gone');
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      db.close();
      again.close();
    } finally { cleanup(); }
  });

  test('a file from a newer ZooGate is refused', () => {
    const { store, dir, cleanup } = sqlite();
    try {
      store.close();
      const db = new Database(join(dir, 'z.db'));
      db.pragma('user_version = 99');
      db.close();
      assert.throws(() => new SqliteStore(join(dir, 'z.db')), /schema 99/);
    } finally { cleanup(); }
  });
});
