// Snapshots every N transactions, purging to the last K, and restart = snapshot + log replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../support/test-server.ts';
import { dumpTree } from '../support/tree-dump.ts';

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('snapshots are taken every N txns, old ones and the log behind them purged, and a restart restores the same tree', async () => {
  const s = await startTestServer({ snapshotEveryTxnCount: 50, snapshotRetainCount: 2 });
  let dir = s.dataDir;
  try {
    for (let i = 0; i < 40; i++) {
      await Promise.all(Array.from({ length: 8 }, (_, j) => fetch(`${s.url}/znodes/p${i}-${j}`, { method: 'POST', body: `v${i}` })));
    }
    await until(() => s.node.store.listSnapshots().length === 2 && !(s.node as unknown as { snapshotRunning: boolean }).snapshotRunning);
    // fewer than N more: these are only in the log
    for (let v = 0; v < 5; v++) await fetch(`${s.url}/znodes/p0-0?version=${v}`, { method: 'PUT', body: v === 4 ? 'changed' : `c${v}` });
    const snaps = s.node.store.listSnapshots();
    assert.equal(snaps.length, 2);
    assert.ok(snaps[0]!.zxid > snaps[1]!.zxid);
    const first = s.node.store.firstZxid();
    assert.ok(first !== null && first > snaps[1]!.zxid, 'the log before the oldest kept snapshot is purged');
    const before = dumpTree(s.node.tree);
    // stop as a crash would (no shutdown snapshot), so the restart must replay the log after the snapshot
    s.node.close();
    await s.close();
    const again = await startTestServer({ snapshotEveryTxnCount: 50, snapshotRetainCount: 2 }, dir);
    dir = again.dataDir;
    try {
      assert.deepEqual(dumpTree(again.node.tree), before);
      assert.equal(again.node.restoreInfo.snapshotZxid, snaps[0]!.zxid);
      assert.ok(again.node.restoreInfo.replayed >= 5);
      const g = await (await fetch(`${again.url}/znodes/p0-0`)).json() as { data: string };
      assert.equal(g.data, 'changed');
    } finally {
      await again.destroy();
    }
  } finally {
    await s.destroy();
  }
});
