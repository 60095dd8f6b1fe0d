// Deterministic simulation of 3- and 5-server ensembles under crashes (also right
// after an fsync before sending, and in the middle of a log append), partitions,
// restarts and duplicated deliveries, checked for ZAB's invariants as it runs and
// for liveness after healing. A failure names its seed;
// `npm run sim -- --seed N --verbose` replays it exactly. CI runs 510 seeds;
// ZG_SIM_SEEDS=5000 npm test (or npm run sim -- --seeds 1-5000) runs more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './world.ts';

const SEEDS = Number(process.env.ZG_SIM_SEEDS ?? 450);

const plans = [
  { name: '3 servers', servers: 3, seeds: Math.round(SEEDS * 2 / 3), duplicate: 0 },
  { name: '3 servers, duplicated deliveries', servers: 3, seeds: Math.round(SEEDS / 3), duplicate: 0.05 },
  { name: '5 servers', servers: 5, seeds: Math.max(10, Math.round(SEEDS * 2 / 15)), duplicate: 0 },
];

for (const plan of plans) {
  test(`${plan.name}, ${plan.seeds} seeds: safety under faults, liveness after healing`, () => {
    let acked = 0;
    const failed: string[] = [];
    for (let i = 1; i <= plan.seeds; i++) {
      const seed = i + plan.servers * 100_000 + (plan.duplicate > 0 ? 50_000 : 0);
      const w = new World({ seed, servers: plan.servers, faultMs: 5000, healMs: 8000, duplicate: plan.duplicate });
      try {
        w.run();
        acked += w.summary().acked;
      } catch (e) {
        failed.push(String((e as Error).message));
      }
    }
    assert.deepEqual(failed, []);
    assert.ok(acked > plan.seeds * 20, `the workload got writes through (${acked} acknowledged)`);
  });
}

test('the same seed replays the same run', () => {
  const a = new World({ seed: 42, servers: 3, faultMs: 4000, healMs: 8000 });
  const b = new World({ seed: 42, servers: 3, faultMs: 4000, healMs: 8000 });
  a.run();
  b.run();
  assert.deepEqual(a.trace, b.trace);
  assert.deepEqual(a.summary(), b.summary());
});
