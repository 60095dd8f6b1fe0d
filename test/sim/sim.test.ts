// Deterministic simulation of 3- and 5-server ensembles under crashes (also right
// after an fsync, before sending), partitions and restarts, checked for ZAB's
// invariants after steps and for liveness after healing. A failure names its
// seed; `node --import tsx test/sim/run.ts --seed N --verbose` replays it exactly.
// More seeds: ZG_SIM_SEEDS=1000 npm test (or test/sim/run.ts --seeds 1-1000).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from './world.ts';

const SEEDS = Number(process.env.ZG_SIM_SEEDS ?? 60);

for (const servers of [3, 5]) {
  test(`${servers} servers, ${servers === 3 ? SEEDS : Math.ceil(SEEDS / 3)} seeds: safety under faults, liveness after healing`, () => {
    const seeds = servers === 3 ? SEEDS : Math.ceil(SEEDS / 3);
    let acked = 0;
    const failed: string[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      const w = new World({ seed: seed + servers * 100_000, servers, faultMs: 6000, healMs: 8000 });
      try {
        w.run();
        acked += w.summary().acked;
      } catch (e) {
        failed.push(String((e as Error).message));
      }
    }
    assert.deepEqual(failed, []);
    assert.ok(acked > seeds * 20, `the workload got writes through (${acked} acknowledged)`);
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
