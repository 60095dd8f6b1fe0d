// Replays simulator seeds: npm run sim -- [--seed N] [--seeds A-B] [--servers 3] [--fault-ms 8000] [--duplicate 0.05] [--deferred-sync] [--no-direct-commit] [--verbose]
import { parseArgs } from 'node:util';
import { World } from './world.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' }, seeds: { type: 'string', default: '1-20' }, servers: { type: 'string', default: '3' },
    'fault-ms': { type: 'string', default: '8000' }, 'heal-ms': { type: 'string', default: '8000' }, duplicate: { type: 'string', default: '0' }, 'deferred-sync': { type: 'boolean', default: false }, 'no-direct-commit': { type: 'boolean', default: false }, verbose: { type: 'boolean', default: false },
  },
});
const [from, to] = values.seed ? [Number(values.seed), Number(values.seed)] : values.seeds!.split('-').map(Number) as [number, number];
let failures = 0;
const t0 = performance.now();
for (let seed = from; seed <= to; seed++) {
  const w = new World({ seed, servers: Number(values.servers), faultMs: Number(values['fault-ms']), healMs: Number(values['heal-ms']), duplicate: Number(values.duplicate), deferredSync: values['deferred-sync'], directCommit: !values['no-direct-commit'], log: values.verbose ? (l) => console.log(l) : undefined });
  try {
    w.run();
    if (from === to || values.verbose) console.log(`seed ${seed}: ok ${JSON.stringify(w.summary())}`);
  } catch (e) {
    failures++;
    console.log(String((e as Error).stack ?? e));
  }
}
console.log(`${to - from + 1 - failures} passed, ${failures} failed (${Math.round(performance.now() - t0)} ms)`);
process.exitCode = failures > 0 ? 1 : 0;
