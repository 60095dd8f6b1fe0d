#!/usr/bin/env node
// Latency at a fixed offered rate (open loop): the issue's "p99 no worse than ZooKeeper's at the
// same load" compared at the same ops/s. The kit's closed loop holds C requests in flight, so a
// system that answers faster is offered more work and measured at a higher rate than its rival.
// Copied into <kit>/bench/ by bench/run.ts; drives the kit's adapters (adapters/<target>.mjs).
//
//   node fixed-rate.mjs --target zk|zoogate-ws|zoogate-rest --endpoints a,b,c [--prefer N] \
//     --op read|write --rates 5000,10000 [--duration 5] [--warmup 2] [--max-inflight 256] [--out f.json]
//
// Requests start on a fixed schedule (rate per second, issued in the 1 ms timer ticks they fall
// due in) on 1,000 keys /bench/k00000… with 128-byte values, whatever earlier requests are doing;
// each one's latency runs from its scheduled start to its answer, so a stall delays everything
// scheduled behind it and shows (no coordinated omission). Beyond max-inflight requests wait
// locally, their wait counted. Per rate: achieved ops/s, p50/p99/p99.9/max, errors.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string' }, endpoints: { type: 'string' }, prefer: { type: 'string' },
    op: { type: 'string', default: 'read' }, rates: { type: 'string', default: '5000' },
    duration: { type: 'string', default: '5' }, warmup: { type: 'string', default: '2' },
    'max-inflight': { type: 'string', default: '256' }, out: { type: 'string' },
  },
});
if (!args.target || !args.endpoints || !['read', 'write'].includes(args.op)) {
  console.error('need --target, --endpoints and --op read|write');
  process.exit(2);
}
const HERE = dirname(fileURLToPath(import.meta.url));
const { default: makeAdapter } = await import(pathToFileURL(join(HERE, 'adapters', `${args.target}.mjs`)).href);
const endpoints = args.endpoints.split(',');
const a = makeAdapter({ endpoints, concurrency: Number(args['max-inflight']), ...(args.prefer ? { prefer: Number(args.prefer) } : {}) });
await a.connect();

const KEYS = Array.from({ length: 1000 }, (_, i) => `/bench/k${String(i).padStart(5, '0')}`);
const VALUE = Buffer.alloc(128, 0x61);
await a.ensureParent('/bench');
for (let i = 0; i < KEYS.length; i += 64) await Promise.all(KEYS.slice(i, i + 64).map((k) => a.upsert(k, VALUE)));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, q) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
const round3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);

async function atRate(rate) {
  const warmupMs = Number(args.warmup) * 1000, durationMs = Number(args.duration) * 1000;
  const maxInflight = Number(args['max-inflight']);
  const lat = [];
  let errors = 0, inflight = 0, maxSeen = 0, issued = 0, seq = 0;
  const waiting = []; // scheduled start times of requests held back by max-inflight
  const op = () => {
    const key = KEYS[(seq++ * 7919) % KEYS.length];
    return args.op === 'read' ? a.get(key) : a.put(key, VALUE);
  };
  const start = (scheduled) => {
    inflight++;
    maxSeen = Math.max(maxSeen, inflight);
    op().then(() => {
      if (scheduled >= t0 + warmupMs) lat.push(performance.now() - scheduled);
    }, () => {
      if (scheduled >= t0 + warmupMs) errors++;
    }).finally(() => {
      inflight--;
      if (waiting.length > 0) start(waiting.shift());
    });
  };
  const t0 = performance.now();
  const end = t0 + warmupMs + durationMs;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000);
    for (; issued < due; issued++) {
      const scheduled = t0 + (issued * 1000) / rate;
      if (inflight < maxInflight) start(scheduled);
      else waiting.push(scheduled);
    }
    await sleep(1);
  }
  const drainBy = performance.now() + 5000;
  while ((inflight > 0 || waiting.length > 0) && performance.now() < drainBy) await sleep(5);
  lat.sort((x, y) => x - y);
  return {
    rate, op: args.op, ops_per_s: Math.round(lat.length / (durationMs / 1000)), errors, max_inflight: maxSeen,
    latency_ms: { p50: round3(pct(lat, 0.5)), p99: round3(pct(lat, 0.99)), p999: round3(pct(lat, 0.999)), max: round3(lat[lat.length - 1] ?? null) },
  };
}

const out = { target: args.target, endpoints, prefer: args.prefer ?? null, runs: [] };
for (const rate of args.rates.split(',').map(Number)) {
  const r = await atRate(rate);
  console.error(`${args.target} ${args.op} at ${rate}/s: ${r.ops_per_s}/s p50 ${r.latency_ms.p50} p99 ${r.latency_ms.p99} p99.9 ${r.latency_ms.p999} errors ${r.errors} in flight ≤ ${r.max_inflight}`);
  out.runs.push(r);
}
await a.close();
if (args.out) writeFileSync(args.out, JSON.stringify(out, null, 2));
else console.log(JSON.stringify(out, null, 2));
process.exit(0);
