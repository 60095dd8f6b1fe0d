#!/usr/bin/env node
// Watch fan-out: N sessions on one server, each with a one-shot data watch on the same znode; one
// write; how long until all N sessions have the event, and the server's CPU per notification.
// Copied into <kit>/bench/ by bench/run.ts (node-zookeeper-client comes from the kit's
// node_modules, `ws` from the ZooGate checkout's).
//
//   node fanout.mjs --target zoogate|zk --endpoint 127.0.0.1:PORT --pid SERVER_PID \
//     [--sessions 1000] [--writes 100] [--out file.json]
//
// Per write: all N watches armed (ZooGate: WebSocket `get` with watch:true; ZooKeeper:
// getData(path, watcher)), 30 ms idle, then the server's CPU ticks (/proc/PID/stat) are read, the
// write is sent on a separate session, and the clock runs until the last of the N sessions has
// its NodeDataChanged; the ticks are read again. Only then are the watches re-armed (outside the
// window), so the window's server CPU is the write plus N notifications. Arrival times are taken
// when this process reads each session's message, so "all N have it" includes this client
// reading N messages from N sockets (the same work for both systems).
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string' },
    endpoint: { type: 'string' },
    pid: { type: 'string' },
    sessions: { type: 'string', default: '1000' },
    writes: { type: 'string', default: '100' },
    out: { type: 'string' },
  },
});
const N = Number(args.sessions);
const W = Number(args.writes);
const PID = Number(args.pid);
const PATH = '/fanout';
const log = (...a) => console.error(new Date().toISOString().slice(11, 23), ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

function ticks(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
}

async function inBatches(n, batch, fn) {
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, k) => fn(i + k)));
}

// ---------------------------------------------------------------- ZooGate (WebSocket)
async function zoogate() {
  const { default: WebSocket } = await import('ws');
  const url = `ws://${args.endpoint}/ws`;
  class S {
    constructor(onEvent) { this.seq = 0; this.pending = new Map(); this.onEvent = onEvent; }
    open() {
      return new Promise((res, rej) => {
        const ws = new WebSocket(url, { perMessageDeflate: false });
        this.ws = ws;
        ws.on('open', () => ws.send(JSON.stringify({ type: 'connect', timeoutMs: 30000 })));
        ws.on('error', rej);
        ws.on('message', (buf) => {
          const t = now();
          const m = JSON.parse(buf.toString());
          if (m.type === 'connected') return res();
          if (m.type === 'response') { const p = this.pending.get(m.id); this.pending.delete(m.id); m.ok ? p.res(m.result) : p.rej(new Error(m.error.code)); }
          else if (m.type === 'event') this.onEvent?.(t, m);
          else if (m.type === 'error') rej(new Error(m.code));
        });
      });
    }
    req(op, params) {
      const id = ++this.seq;
      return new Promise((res, rej) => { this.pending.set(id, { res, rej }); this.ws.send(JSON.stringify({ type: 'request', id, op, ...params })); });
    }
    close() { try { this.ws.terminate(); } catch {} }
  }
  return {
    async open(onEvent) { const s = new S(onEvent); await s.open(); return s; },
    async setup(w) { try { await w.req('create', { path: PATH, data: 'x' }); } catch (e) { if (e.message !== 'NodeExists') throw e; } },
    arm: (s) => s.req('get', { path: PATH, watch: true }),
    write: (w, i) => w.req('set', { path: PATH, data: `v${i}`, version: -1 }),
    close: (s) => s.close(),
  };
}

// ---------------------------------------------------------------- ZooKeeper (node-zookeeper-client)
async function zk() {
  const { default: zookeeper } = await import('node-zookeeper-client');
  return {
    open(onEvent) {
      return new Promise((res, rej) => {
        const c = zookeeper.createClient(args.endpoint, { sessionTimeout: 30000, spinDelay: 1000, retries: 0 });
        c.onEvent = onEvent;
        const to = setTimeout(() => rej(new Error('zk connect timeout')), 30000);
        c.once('connected', () => { clearTimeout(to); res(c); });
        c.connect();
      });
    },
    setup: (w) => new Promise((res, rej) => w.create(PATH, Buffer.from('x'), (e) => (e && e.code !== zookeeper.Exception.NODE_EXISTS ? rej(e) : res()))),
    arm: (c) => new Promise((res, rej) => c.getData(PATH, (ev) => { const t = now(); c.onEvent?.(t, ev); }, (e) => (e ? rej(e) : res()))),
    write: (w, i) => new Promise((res, rej) => w.setData(PATH, Buffer.from(`v${i}`), -1, (e) => (e ? rej(e) : res()))),
    close: (c) => c.close(),
  };
}

// ---------------------------------------------------------------- main
const sys = args.target === 'zk' ? await zk() : await zoogate();
let got = 0;
let arrivals = new Float64Array(N);
let allIn = null;
const onEvent = (k) => (t) => {
  arrivals[got++] = t;
  if (got === N && allIn) allIn();
};
const tc = now();
const c0 = ticks(PID);
const writer = await sys.open(null);
await sys.setup(writer);
const watchers = [];
await inBatches(N, 50, async (k) => { watchers[k] = await sys.open(onEvent(k)); });
const connectMs = Math.round(now() - tc);
const connectCpuMs = (ticks(PID) - c0) * 10;
log(`${args.target}: ${N} sessions open in ${connectMs} ms (server CPU ${connectCpuMs} ms), RSS ${rssMiB(PID)} MiB`);

const perWrite = [];
const pooled = [];
let timeouts = 0;
let armMsTotal = 0;
for (let i = -10; i < W; i++) { // 10 un-recorded writes first (JIT, buffers)
  const ta = now();
  await inBatches(N, N, (k) => sys.arm(watchers[k]));
  armMsTotal += i >= 0 ? now() - ta : 0;
  await sleep(30);
  got = 0;
  const done = new Promise((r) => { allIn = r; });
  const s0 = ticks(PID);
  const u0 = process.cpuUsage();
  const t0 = now();
  let tAck = 0;
  const wp = sys.write(writer, i).then(() => { tAck = now(); });
  const ok = await Promise.race([done.then(() => true), sleep(15000).then(() => false)]);
  const tEnd = now();
  const s1 = ticks(PID);
  const u1 = process.cpuUsage(u0);
  await wp;
  allIn = null;
  if (!ok) { timeouts++; log(`write ${i}: only ${got}/${N} events after 15 s`); await sleep(2000); continue; }
  if (i < 0) continue;
  const a = Array.from(arrivals.subarray(0, N), (t) => t - t0).sort((x, y) => x - y);
  for (const x of a) pooled.push(x);
  perWrite.push({ all_ms: tEnd - t0, first_ms: a[0], median_ms: a[Math.floor(N / 2)], ack_ms: tAck - t0, server_ticks: s1 - s0, client_cpu_us: u1.user + u1.system });
}
const q = (xs, p) => { const s = [...xs].sort((x, y) => x - y); return s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] * 1000) / 1000 : null; };
const sum = (xs) => xs.reduce((x, y) => x + y, 0);
const srvMs = sum(perWrite.map((w) => w.server_ticks)) * 10;
const result = {
  target: args.target, endpoint: args.endpoint, server_pid: PID, sessions: N, writes: perWrite.length, timeouts,
  connect_ms: connectMs, connect_server_cpu_ms: connectCpuMs, server_rss_mib: rssMiB(PID),
  all_delivered_ms: { p50: q(perWrite.map((w) => w.all_ms), 0.5), p99: q(perWrite.map((w) => w.all_ms), 0.99), max: q(perWrite.map((w) => w.all_ms), 1), mean: Math.round((sum(perWrite.map((w) => w.all_ms)) / perWrite.length) * 1000) / 1000 },
  all_delivered_def: 'write sent -> the last of the N sessions has read its NodeDataChanged (per write; percentiles over writes)',
  first_event_ms: { p50: q(perWrite.map((w) => w.first_ms), 0.5), p99: q(perWrite.map((w) => w.first_ms), 0.99) },
  per_event_ms: { p50: q(pooled, 0.5), p99: q(pooled, 0.99) },
  per_event_def: 'write sent -> each session reads its event, pooled over all sessions and writes',
  write_ack_ms: { p50: q(perWrite.map((w) => w.ack_ms), 0.5), p99: q(perWrite.map((w) => w.ack_ms), 0.99) },
  server_cpu_ms_total: srvMs,
  server_cpu_us_per_notification: Math.round((srvMs * 1000) / (perWrite.length * N) * 100) / 100,
  server_cpu_def: 'server process utime+stime (/proc, 10 ms ticks) over the windows write sent -> all N events read, summed over writes, / (writes x N); includes the write itself',
  client_cpu_us_per_notification: Math.round(sum(perWrite.map((w) => w.client_cpu_us)) / (perWrite.length * N) * 100) / 100,
  rearm_ms_mean: Math.round((armMsTotal / Math.max(1, perWrite.length)) * 10) / 10,
  env: { node: process.version, cpus: os.cpus().length, loadavg: os.loadavg() },
};
log(JSON.stringify({ all: result.all_delivered_ms, per_event: result.per_event_ms, cpu_us_per_notif: result.server_cpu_us_per_notification }));
if (args.out) writeFileSync(args.out, JSON.stringify(result, null, 2));
else console.log(JSON.stringify(result, null, 2));
await Promise.all([writer, ...watchers].map((s) => Promise.resolve(sys.close(s)).catch(() => {})));
setTimeout(() => process.exit(0), 500);
