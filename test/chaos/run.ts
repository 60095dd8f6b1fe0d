// npm run chaos -- [--minutes M] [--seconds S] [--seed S] [--servers 3|5] [--faults kill,pause,...] [--runs N]
// Runs Jepsen-style fault tests against real processes; a failing run writes its
// history and fault schedule to a file and prints its seed.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind, runChaos } from './runner.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' }, seconds: { type: 'string', default: '40' }, seed: { type: 'string' }, servers: { type: 'string', default: '3' },
    faults: { type: 'string', default: FAULT_KINDS.join(',') }, runs: { type: 'string', default: '1' }, dir: { type: 'string', default: join(tmpdir(), 'zoogate-chaos') },
  },
});
const durationMs = values.minutes !== undefined ? Number(values.minutes) * 60_000 : Number(values.seconds) * 1000;
const faults = values.faults!.split(',') as FaultKind[];
for (const f of faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new Error(`unknown fault ${f} (${FAULT_KINDS.join(', ')})`);
let failed = 0;
const runs = Number(values.runs);
for (let i = 0; i < runs; i++) {
  const seed = values.seed !== undefined ? Number(values.seed) + i : Math.floor(Math.random() * 1e9);
  const r = await runChaos({ seed, servers: Number(values.servers), durationMs, faults, dir: join(values.dir!, String(seed)), log: (l) => console.log(l) });
  console.log(JSON.stringify({ seed: r.seed, ok: r.ok, ops: r.ops, outcomes: r.outcomes, availability: r.availability, checks: r.checks }, null, 1));
  if (!r.ok) {
    failed++;
    console.log(`seed ${seed} FAILED:\n  ${r.problems.slice(0, 20).join('\n  ')}\n  details: ${r.failureFile}`);
  }
}
console.log(`${runs - failed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
