// Deterministic simulation of 3- and 5-server ensembles under crashes (also right
// after an fsync before sending, and in the middle of a log append), partitions,
// restarts and duplicated deliveries, checked for ZAB's invariants as it runs and
// for liveness after healing; and the same with the log's fsync deferred off the
// event loop (--log-sync=deferred), with power cuts that lose what no fsync
// covered. A failure names its seed; `npm run sim -- --seed N --verbose
// [--deferred-sync] [--no-direct-commit]` replays it exactly. CI runs 840 seeds; ZG_SIM_SEEDS=5000
// npm test (or npm run sim -- --seeds 1-5000) runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './world.ts';

const SEEDS = Number(process.env.ZG_SIM_SEEDS ?? 450);

const plans = [
  { name: '3 servers', servers: 3, seeds: Math.round(SEEDS * 2 / 3), duplicate: 0 },
  { name: '3 servers, duplicated deliveries', servers: 3, seeds: Math.round(SEEDS / 3), duplicate: 0.05 },
  { name: '5 servers', servers: 5, seeds: Math.max(10, Math.round(SEEDS * 2 / 15)), duplicate: 0 },
  { name: '3 servers, --direct-commit=off (ZooKeeper\'s messages)', servers: 3, seeds: Math.round(SEEDS * 2 / 9), duplicate: 0, directCommit: false },
  { name: '3 servers, deferred fsync, power cuts', servers: 3, seeds: Math.round(SEEDS * 4 / 9), duplicate: 0, deferredSync: true },
  { name: '5 servers, deferred fsync, power cuts', servers: 5, seeds: Math.max(10, Math.round(SEEDS / 15)), duplicate: 0, deferredSync: true },
];

for (const plan of plans) {
  test(`${plan.name}, ${plan.seeds} seeds: safety under faults, liveness after healing`, () => {
    let acked = 0;
    let followerCommitted = 0;
    const failed: string[] = [];
    for (let i = 1; i <= plan.seeds; i++) {
      const deferredSync = plan.deferredSync ?? false;
      const directCommit = plan.directCommit ?? true;
      const seed = i + plan.servers * 100_000 + (plan.duplicate > 0 ? 50_000 : 0) + (deferredSync ? 20_000 : 0) + (directCommit ? 0 : 10_000);
      const w = new World({ seed, servers: plan.servers, faultMs: 5000, healMs: 8000, duplicate: plan.duplicate, deferredSync, directCommit });
      try {
        w.run();
        acked += w.summary().acked;
        followerCommitted += w.summary().followerCommitted;
      } catch (e) {
        failed.push(String((e as Error).message));
      }
    }
    assert.deepEqual(failed, []);
    assert.ok(acked > plan.seeds * 20, `the workload got writes through (${acked} acknowledged)`);
    // LOGGED goes only where the leader and one follower are a quorum: 3 servers, direct commit on
    if (plan.servers === 3 && plan.directCommit !== false) assert.ok(followerCommitted > plan.seeds * 20, `followers committed on LOGGED (${followerCommitted})`);
    else assert.equal(followerCommitted, 0, 'no follower decides a commit itself');
  });
}

test('the same seed replays the same run', () => {
  for (const deferredSync of [false, true]) {
    const a = new World({ seed: 42, servers: 3, faultMs: 4000, healMs: 8000, deferredSync });
    const b = new World({ seed: 42, servers: 3, faultMs: 4000, healMs: 8000, deferredSync });
    a.run();
    b.run();
    assert.deepEqual(a.trace, b.trace);
    assert.deepEqual(a.summary(), b.summary());
  }
});
