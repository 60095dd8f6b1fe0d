/**
 * `npm run bench`: ZooGate side by side with ZooKeeper 3.8 and etcd 3.4, measured with the anchor kit
 * (/work/shared/anchors) in one session, one system at a time. Writes bench/RESULTS.md (full runs)
 * and keeps raw JSON under .bench/results/<run id>/.
 *
 *   npm run bench                              # everything (~30 min)
 *   npm run bench -- --only cluster,ws,watch   # parts (below); a partial run writes its report to
 *                                              # .bench/results/<run id>/RESULTS.md (--results-md: bench/RESULTS.md too)
 *
 * Parts (--only, comma-separated):
 *   zg, zk       standalone REST throughput, in --rounds (2) alternating rounds (alias rest/standalone)
 *   ws           standalone ZooGate over the WebSocket, in the same alternating rounds (zg, ws, zk, zg, ws, zk)
 *   prof         CPU profiles of standalone ZooGate at C=64 over REST (write, read)
 *   memzg, memzk memory + restart (alias mem)
 *   zg3, zk3, etcd3   3-node ensembles: throughput (ZooGate over REST and WS), watch latency (ZooGate,
 *                ZooKeeper), failover x --failover-reps (5); --cluster-rounds (1) alternating rounds (alias cluster)
 *   wl           watch notification latency on standalone servers (ZooGate WS one-shot and persistent, ZooKeeper)
 *   fanzg, fanzk 1,000 watching sessions on one server, one write (alias fanout; watch = wl,fanzg,fanzk)
 *   cprof        CPU profiles of the 3-node ZooGate write path over WS at C=64 (leader and follower)
 *   gen          the server's V8 flags against V8's defaults (3-node WS reads on a follower)
 *   logsync      --log-sync=inline against deferred (3-node writes over REST and WS at 1, 16, 64)
 *   direct       --direct-commit=on against off (the same writes; on loopback, and with peers 1 ms apart)
 *
 *   Throughput: --rounds 2 (default) alternates ZooGate, ZooKeeper, ZooGate, ZooKeeper (fresh servers
 *   each time) with --duration 5 s measured per run, so slow drifts of this shared box hit both.
 *   npm run bench -- --duration 3 --only zg    # shorter measured windows (seconds; default 5, the kit's 10)
 *   npm run bench -- --mem-znodes 200000       # memory/restart test size (default 1,000,000)
 *   --quiet-wait S (10): before each measured run, wait up to S s for other processes to go quiet;
 *   --attempts N (3): repeat a run whose window saw > 10 % of a core used by other processes.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, fdatasyncSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import http from 'node:http';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { summarise, summaryMarkdown, type ProfileSummary } from './cpuprofile-summary.ts';
import { SERVER_NODE_FLAGS } from '../api/config.ts';

const execFileP = promisify(execFile);
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SHARED_KIT = '/work/shared/anchors';
const SCRATCH = join(ROOT, '.bench');
const KIT = join(SCRATCH, 'anchors-kit');
const KIT_BENCH = join(KIT, 'bench');
const ZK_SCRIPT = join(KIT, 'zk-cluster.sh');
/**
 * The ZooGate under test: a snapshot of the checkout taken when the run starts (git archive HEAD, or the
 * working tree with --source worktree). Other sessions edit and commit in this checkout while the bench
 * runs; servers started later in the run (restarts in the failover scenario, later parts) must run the
 * same code as the first ones, and never a half-edited file.
 */
const SRC = join(SCRATCH, 'zoogate-src');
const SRC_PATHS = ['api', 'core', 'storage', 'cli', 'client', 'bin', 'package.json', 'tsconfig.json', 'openapi.yaml'];

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'zg,zk,ws,prof,mem,cluster,watch,cprof,gen,logsync,direct' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    prewarm: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,16,64' },
    scenarios: { type: 'string', default: 'write,read,mixed' },
    'quiet-wait': { type: 'string', default: '10' },
    attempts: { type: 'string', default: '3' },
    'mem-znodes': { type: 'string', default: '1000000' },
    'zk-mem-znodes': { type: 'string' },
    'mem-batch': { type: 'string', default: '1000' },
    'getab-seconds': { type: 'string', default: '30' },
    'results-md': { type: 'boolean', default: false },
    'cluster-rounds': { type: 'string', default: '1' },
    'failover-reps': { type: 'string', default: '5' },
    'watch-samples': { type: 'string', default: '200' },
    'fanout-sessions': { type: 'string', default: '1000' },
    'fanout-writes': { type: 'string', default: '100' },
    'tick-ms': { type: 'string', default: '2000' },
    'lin-reads': { type: 'boolean', default: true },
    render: { type: 'string' },
    source: { type: 'string', default: 'head' },
  },
  allowNegative: true,
});

const ALIASES: Record<string, string[]> = {
  rest: ['zg', 'zk'], standalone: ['zg', 'zk'], mem: ['memzg', 'memzk'], cluster: ['zg3', 'zk3', 'etcd3'],
  fanout: ['fanzg', 'fanzk'], watch: ['wl', 'fanzg', 'fanzk'],
};
const PARTS = ['zg', 'zk', 'ws', 'prof', 'memzg', 'memzk', 'zg3', 'zk3', 'etcd3', 'wl', 'fanzg', 'fanzk', 'cprof', 'gen', 'logsync', 'direct'];
const only = new Set(args.only!.split(',').flatMap((p) => ALIASES[p] ?? [p]));
for (const p of only) if (!PARTS.includes(p)) throw new Error(`unknown part ${p} (${PARTS.join(', ')}; aliases ${Object.keys(ALIASES).join(', ')})`);
const FULL = PARTS.every((p) => only.has(p));
// --render RUN_ID: only write the report again from .bench/results/RUN_ID/summary.json (same flags as that run)
const RUN_ID = args.render ?? new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const OUT = join(SCRATCH, 'results', RUN_ID);
mkdirSync(OUT, { recursive: true });

const t0 = Date.now();
const log = (...a: unknown[]) => console.error(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s]`, ...a);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ helpers

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function portBusy(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(true));
    s.listen(port, '127.0.0.1', () => s.close(() => res(false)));
  });
}

/** One HTTP request on a fresh connection (no keep-alive), for readiness polls and the loader. */
function httpReq(port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}, timeoutMs = 2000): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false, timeout: timeoutMs }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks).toString() }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end(body);
  });
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });
function httpKeepAlive(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: keepAlive, headers: body ? { 'content-type': 'application/json' } : {} }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function dirFiles(d: string): Array<{ file: string; bytes: number }> {
  if (!existsSync(d)) return [];
  return readdirSync(d).map((f) => ({ file: f, bytes: statSync(join(d, f)).size }));
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
const fmtInt = (n: number | null | undefined) => (n == null || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const fmtMs = (n: number | null | undefined) => (n == null ? '–' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

// ------------------------------------------------------------------ the kit

/** Snapshots the code under test into SRC (node_modules resolve from the checkout, SRC lives under it). */
function prepareSource(): { commit: string; source: string; dirty: string[] } {
  rmSync(SRC, { recursive: true, force: true });
  mkdirSync(SRC, { recursive: true });
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim();
  const inHead = SRC_PATHS.filter((p) => { try { execFileSync('git', ['cat-file', '-e', `${commit}:${p}`], { cwd: ROOT, stdio: 'ignore' }); return true; } catch { return false; } });
  const dirty = execFileSync('git', ['status', '--porcelain', '--', ...inHead], { cwd: ROOT }).toString().split('\n').filter(Boolean);
  if (args.source === 'worktree') {
    for (const p of SRC_PATHS) if (existsSync(join(ROOT, p))) cpSync(join(ROOT, p), join(SRC, p), { recursive: true });
  } else if (args.source === 'head') {
    execFileSync('sh', ['-c', `git archive --format=tar ${commit} ${inHead.join(' ')} | tar -x -C '${SRC}'`], { cwd: ROOT });
  } else throw new Error('--source is head or worktree');
  return { commit, source: args.source!, dirty };
}

function prepareKit(): { patched: string[] } {
  if (!existsSync(SHARED_KIT)) throw new Error(`anchor kit not found at ${SHARED_KIT}`);
  mkdirSync(KIT, { recursive: true });
  // refresh the kit's files (keeps an existing bench/node_modules)
  cpSync(SHARED_KIT, KIT, { recursive: true, force: true });
  if (!existsSync(join(KIT_BENCH, 'node_modules'))) {
    log('npm install in the kit copy', KIT_BENCH);
    execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: KIT_BENCH, stdio: 'inherit' });
  }
  for (const a of ['zoogate-rest.mjs', 'zoogate-ws.mjs']) cpSync(join(ROOT, 'bench', 'adapters', a), join(KIT_BENCH, 'adapters', a));
  cpSync(join(ROOT, 'bench', 'fanout.mjs'), join(KIT_BENCH, 'fanout.mjs'));
  // The kit hard-codes the standalone ZooKeeper client port 2191. Make it overridable
  // (ZK_STANDALONE_PORT, default unchanged) so a ZooKeeper left running by someone else on 2191
  // does not answer in place of ours.
  const patched: string[] = [];
  const patch = (file: string, edit: (s: string) => string) => {
    const p = join(KIT, file);
    const before = readFileSync(p, 'utf8');
    const after = edit(before);
    if (after === before) throw new Error(`could not patch ${file} for ZK_STANDALONE_PORT (kit changed?)`);
    writeFileSync(p, after);
    patched.push(file);
  };
  patch('zk-cluster.sh', (s) => s.split('\n').map((l) => (l.startsWith('#') ? l : l.replaceAll('2191', '${ZK_STANDALONE_PORT:-2191}'))).join('\n'));
  patch('bench/zk-memtest.mjs', (s) =>
    s
      .replace('const execFileP = promisify(execFile);', 'const execFileP = promisify(execFile);\nconst ZK_PORT = Number(process.env.ZK_STANDALONE_PORT || 2191);')
      .replace('net.connect(2191,', 'net.connect(ZK_PORT,')
      .replaceAll("'127.0.0.1:2191'", '`127.0.0.1:${ZK_PORT}`'));
  // The 3-node scripts hard-code their ports too (ZooKeeper 2181-2183 + 2881-2883/3881-3883, etcd
  // 2379/22379/32379 + peers): overridable bases, same defaults, used only when a default port is taken.
  patch('zk-cluster.sh', (s) =>
    s
      .replace('echo $((2180 + $1))', 'echo $((${ZK_CLIENT_PORT_BASE:-2180} + $1))')
      .replace(/server\.(\d)=127\.0\.0\.1:288\d:388\d/g, (_m, i) => `server.${i}=127.0.0.1:$((\${ZK_QUORUM_PORT_BASE:-2880} + ${i})):$((\${ZK_ELECTION_PORT_BASE:-3880} + ${i}))`));
  patch('etcd-cluster.sh', (s) =>
    s
      .replace(/echo (2379|22379|32379|2479|2380|22380|32380|2480);;/g, (_m, p) => `echo $((${p} + \${ETCD_PORT_OFFSET:-0}));;`)
      .replace(/127\.0\.0\.1:(2380|22380|32380)(?=[,"])/g, (_m, p) => `127.0.0.1:$((${p} + \${ETCD_PORT_OFFSET:-0}))`));
  return { patched };
}

interface KitRun {
  label: string;
  file: string;
  json: any;
}

async function runKit(opts: { target: string; port?: number; endpoints?: string; pids?: Record<string, number>; cluster?: Cluster; label: string; scenarios: string; concurrency?: string; duration?: string; warmup?: string; prewarm?: string; extra?: string[]; server?: Zg }): Promise<KitRun> {
  const file = join(OUT, `${opts.label}.json`);
  const a = [
    'run.mjs', '--target', opts.target, '--endpoints', opts.endpoints ?? opts.cluster?.endpoints ?? `127.0.0.1:${opts.port}`,
    ...(opts.pids ? ['--pids', Object.entries(opts.pids).map(([k, v]) => `${k}:${v}`).join(',')] : []),
    ...(opts.cluster ? ['--cluster', opts.cluster.script] : []),
    '--label', opts.label, '--scenarios', opts.scenarios,
    '--concurrency', opts.concurrency ?? args.concurrency!,
    '--duration', opts.duration ?? args.duration!, '--warmup', opts.warmup ?? args.warmup!,
    '--prewarm', opts.prewarm ?? args.prewarm!, '--quiet-wait', args['quiet-wait']!, '--attempts', args.attempts!,
    '--watch-samples', args['watch-samples']!, '--failover-reps', args['failover-reps']!,
    '--out', file, ...(opts.extra ?? []),
  ];
  log(`kit: node ${a.join(' ')}`);
  await new Promise<void>((res, rej) => {
    const p = spawn(process.execPath, a, { cwd: KIT_BENCH, stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, ...(opts.cluster?.env ?? {}) } });
    p.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) process.stderr.write(`    ${opts.label}: ${line}\n`);
    });
    let serverGone = false;
    // the server under test died (or was killed by someone else): stop the kit rather than count ECONNREFUSED for minutes
    void opts.server?.exited.then(() => { if (p.exitCode === null) { serverGone = true; p.kill('SIGTERM'); } });
    p.on('exit', (code) => (code === 0 && !serverGone ? res() : rej(new Error(serverGone ? `the server under test exited during ${opts.label}` : `run.mjs ${opts.label} exited ${code}`))));
  });
  return { label: opts.label, file, json: JSON.parse(readFileSync(file, 'utf8')) };
}

// ------------------------------------------------------------------ 3-node ensembles (cluster scripts)

/** An ensemble driven through a zk-cluster.sh-style script (start, stop, clean, leader, pids, start-node…). */
interface Cluster {
  system: 'zoogate' | 'zookeeper' | 'etcd';
  script: string;
  env: Record<string, string>;
  /** client endpoints, node 1..3 */
  endpoints: string;
}

const clustersUp = new Set<Cluster>();

async function clusterCmd(c: Cluster, ...a: string[]): Promise<string> {
  const { stdout } = await execFileP(c.script, a, { env: { ...process.env, ...c.env }, timeout: 180_000 });
  return stdout.trim();
}

async function allFree(ports: number[]): Promise<boolean> {
  for (const p of ports) if (await portBusy(p)) return false;
  return true;
}

/** The first offset (0 = the scripts' defaults) at which every port is free. */
async function freeOffset(ports: number[], step: number): Promise<{ offset: number; note: string | null }> {
  for (let k = 0; k < 20; k++) {
    const o = k * step;
    if (await allFree(ports.map((p) => p + o))) return { offset: o, note: k === 0 ? null : `default ports ${ports.join(',')} partly taken by processes this bench did not start; used them + ${o}` };
  }
  throw new Error(`no free ports near ${ports.join(',')}`);
}

async function makeCluster(system: Cluster['system']): Promise<Cluster> {
  const note = (n: string | null) => { if (n && !results.notes.includes(`${system}: ${n}`)) results.notes.push(`${system}: ${n}`); };
  if (system === 'zoogate') {
    const { offset, note: n } = await freeOffset([8281, 8282, 8283, 2981, 2982, 2983], 1000);
    note(n);
    return {
      system, script: join(ROOT, 'bench', 'zoogate-cluster.sh'),
      env: { ZG_SRC: SRC, ZG_BASE: join(SCRATCH, 'zg3'), ZG_CLIENT_PORT_BASE: String(8280 + offset), ZG_PEER_PORT_BASE: String(2980 + offset), ZG_TICK_MS: args['tick-ms']!, ZG_LOG_LEVEL: 'info' },
      endpoints: [1, 2, 3].map((i) => `127.0.0.1:${8280 + offset + i}`).join(','),
    };
  }
  if (system === 'zookeeper') {
    const { offset, note: n } = await freeOffset([2181, 2182, 2183, 2881, 2882, 2883, 3881, 3882, 3883], 10000);
    note(n);
    return {
      system, script: ZK_SCRIPT,
      env: { ZK_BASE: join(SCRATCH, 'zk3'), ZK_CLIENT_PORT_BASE: String(2180 + offset), ZK_QUORUM_PORT_BASE: String(2880 + offset), ZK_ELECTION_PORT_BASE: String(3880 + offset) },
      endpoints: [1, 2, 3].map((i) => `127.0.0.1:${2180 + offset + i}`).join(','),
    };
  }
  const { offset, note: n } = await freeOffset([2379, 22379, 32379, 2380, 22380, 32380], 100);
  note(n);
  return {
    system, script: join(KIT, 'etcd-cluster.sh'),
    env: { ETCD_BASE: join(SCRATCH, 'etcd3'), ETCD_PORT_OFFSET: String(offset) },
    endpoints: [2379, 22379, 32379].map((p) => `http://127.0.0.1:${p + offset}`).join(','),
  };
}

async function startCluster(c: Cluster): Promise<void> {
  await clusterCmd(c, 'clean').catch(() => {});
  clustersUp.add(c);
  log(`${c.system} 3-node:\n${await clusterCmd(c, 'start')}`);
  await sleep(2000);
}

let savedLogs = 0;
async function cleanCluster(c: Cluster): Promise<void> {
  // keep the servers' logs (elections, failover) before clean wipes their directory
  const base = c.env.ZG_BASE ?? c.env.ZK_BASE ?? c.env.ETCD_BASE;
  if (base && existsSync(base)) {
    const out = join(OUT, `serverlogs-${c.system}-${++savedLogs}.tar.gz`);
    try { execFileSync('sh', ['-c', `cd '${base}' && find . -name '*.log*' | tar czf '${out}' -T -`]); } catch {}
  }
  log(await clusterCmd(c, 'clean').catch((e) => `clean failed: ${e.message}`));
  clustersUp.delete(c);
}

/**
 * A kit run on an ensemble; if a server of it is gone afterwards (killed from outside: this box is
 * shared), note it, start the missing server and run it once more.
 */
async function runKitCluster(c: Cluster, o: Omit<Parameters<typeof runKit>[0], 'cluster'>): Promise<KitRun> {
  for (let k = 1; ; k++) {
    const r = await runKit({ ...o, cluster: c });
    const up = (await clusterCmd(c, 'pids')).split('\n').filter(Boolean).length;
    if (up === 3 || k >= 2 || o.scenarios.includes('failover')) return r;
    const msg = `${c.system} 3-node: only ${up} of 3 servers running after ${o.label} (stopped from outside?); restarted them and ran ${o.label} again`;
    log(msg);
    results.notes.push(msg);
    for (const i of [1, 2, 3]) await clusterCmd(c, 'start-node', String(i)).catch(() => {});
    await sleep(2000);
  }
}

// ------------------------------------------------------------------ ZooGate process

interface Zg {
  proc: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
  exited: Promise<number | null>;
}

async function startZoogate(o: { dataDir: string; port?: number; nodeArgs?: string[]; serverArgs?: string[]; logLevel?: string; logFile: string }): Promise<Zg & { readyMs: number }> {
  const port = o.port ?? (await freePort());
  const fd = openSync(o.logFile, 'a');
  const spawnedAt = performance.now();
  const proc = spawn(
    process.execPath,
    [...SERVER_NODE_FLAGS, ...(o.nodeArgs ?? []), '--import', 'tsx', 'api/main.ts', 'server', '--port', String(port), '--host', '127.0.0.1', '--data-dir', o.dataDir, '--log-level', o.logLevel ?? 'error', ...(o.serverArgs ?? [])],
    { cwd: SRC, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise<number | null>((r) =>
    proc.on('exit', (code, signal) => {
      if (!stopping.has(proc)) {
        const msg = `ZooGate pid ${proc.pid} (port ${port}) exited unexpectedly: code ${code}, signal ${signal}; log ${o.logFile}`;
        log(msg);
        results.notes.push(msg);
      }
      r(code);
    }));
  let dead = false;
  void exited.then(() => (dead = true));
  for (;;) {
    if (dead) throw new Error(`ZooGate exited during start; see ${o.logFile}`);
    try {
      const r = await httpReq(port, 'GET', '/ready', undefined, {}, 500);
      if (r.status === 200) break;
    } catch {}
    if (performance.now() - spawnedAt > 300_000) throw new Error('ZooGate not ready after 300 s');
    await sleep(5);
  }
  const readyMs = Math.round(performance.now() - spawnedAt);
  return { proc, pid: proc.pid!, port, logFile: o.logFile, exited, readyMs };
}

const stopping = new WeakSet<ChildProcess>();
async function stopZoogate(z: Zg, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (z.proc.exitCode !== null || z.proc.signalCode !== null) return;
  stopping.add(z.proc);
  z.proc.kill(signal);
  const done = await Promise.race([z.exited.then(() => true), sleep(20_000).then(() => false)]);
  if (!done) {
    z.proc.kill('SIGKILL');
    await z.exited;
  }
}

const started: Zg[] = [];
let zkToStop: Array<{ base: string; port: number }> = [];
async function cleanup() {
  for (const z of started) await stopZoogate(z, 'SIGKILL').catch(() => {});
  for (const z of zkToStop) await zkCmd('standalone-stop', z.base, z.port).catch(() => {});
  for (const c of clustersUp) await clusterCmd(c, 'clean').catch(() => {});
}
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });

// ------------------------------------------------------------------ ZooKeeper

function zkAvailable(): string | null {
  try {
    const v = execFileSync('java', ['-version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    void v;
  } catch {
    return 'java not found';
  }
  if (!existsSync('/usr/share/java/zookeeper.jar')) return '/usr/share/java/zookeeper.jar not found';
  return null;
}

async function zkCmd(cmd: string, base: string, port: number, extraEnv: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileP(ZK_SCRIPT, [cmd], { env: { ...process.env, ZK_BASE: base, ZK_STANDALONE_PORT: String(port), ...extraEnv }, timeout: 120_000 });
  return stdout.trim();
}

async function zkPort(): Promise<{ port: number; note: string | null }> {
  if (!(await portBusy(2191))) return { port: 2191, note: null };
  const port = await freePort();
  return { port, note: `port 2191 (the kit's standalone ZooKeeper port) was taken by a process this bench did not start, so our ZooKeeper ran on a free port (given to the kit's scripts as ZK_STANDALONE_PORT; ports in summary.json)` };
}

// ------------------------------------------------------------------ parts

/** 4 KiB write + fdatasync in a loop for `ms` in the scratch dir: how slow the shared disk is right now. */
function fsyncProbe(label: string, ms = 1000) {
  const f = join(SCRATCH, 'fsync-probe.tmp');
  const fd = openSync(f, 'w');
  const buf = Buffer.alloc(4096, 1);
  const lat: number[] = [];
  const end = performance.now() + ms;
  try {
    for (let i = 0; performance.now() < end; i++) {
      const t = performance.now();
      writeSync(fd, buf, 0, buf.length, (i % 256) * 4096);
      fdatasyncSync(fd);
      lat.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(f, { force: true });
  }
  lat.sort((a, b) => a - b);
  const q = (p: number) => Math.round(lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]! * 1000) / 1000;
  const r = { label, n: lat.length, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: Math.round(lat[lat.length - 1]! * 1000) / 1000 };
  log('fsync probe', JSON.stringify(r));
  results.fsync.push(r);
}

const results: any = {
  run_id: RUN_ID,
  started: new Date().toISOString(),
  parts: [...only],
  settings: { rounds: Number(args.rounds), duration_s: Number(args.duration), warmup_s: Number(args.warmup), prewarm_s: Number(args.prewarm), concurrency: args.concurrency, scenarios: args.scenarios, quiet_wait_s: Number(args['quiet-wait']) },
  notes: [] as string[],
  zgRounds: [] as any[],
  zkRounds: [] as any[],
  wsRounds: [] as any[],
  fsync: [] as any[],
  /** per system, per round: kit JSON documents of the 3-node runs */
  cluster: { zgRest: [], zgRestSync: [], zgWs: [], zgFo: [], zk: [], zkFo: [], etcd: [], etcdSer: [], etcdFo: [] } as Record<string, any[]>,
  wl: {} as Record<string, any>,
  fanout: {} as Record<string, any>,
  cprof: null as any,
  gen: null as any,
};

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model;
  const memKiB = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  let nproc = os.cpus().length;
  try { nproc = Number(execFileSync('nproc').toString().trim()); } catch {}
  let java: string | null = null;
  try { java = execFileSync('java', ['-version'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() || null; } catch (e: any) { java = e?.stderr?.toString() ?? null; }
  try { java = execFileSync('sh', ['-c', 'java -version 2>&1 | head -1']).toString().trim(); } catch {}
  let zk: string | null = null;
  try { zk = readdirSync('/usr/share/java').find((f) => /^zookeeper-\d.*\.jar$/.test(f) && !f.includes('jute'))?.replace(/\.jar$/, '') ?? null; } catch {}
  let commit: string | null = null;
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(); } catch {}
  return { nproc, cpu_model: model, mem_gib: Math.round((memKiB / 1024 / 1024) * 10) / 10, node: process.version, kernel: os.release(), java, zookeeper: zk, zoogate_commit: commit, date: new Date().toISOString() };
}

/**
 * Runs fn again (up to `tries` times in all) when the ZooGate server under test exits while the kit
 * is measuring. On this shared box that has happened: a server exiting with code 0 (its SIGTERM/SIGINT
 * path) that this bench had not stopped, i.e. a signal from some other session's process.
 */
async function againIfServerDied(what: string, fn: () => Promise<void>, tries = 3): Promise<void> {
  for (let k = 1; ; k++) {
    try {
      return await fn();
    } catch (e) {
      if (!/exited during/.test((e as Error).message) || k >= tries) throw e;
      log(`${(e as Error).message}; running ${what} again with a fresh server`);
      results.notes.push(`${(e as Error).message}; ${what} was run again from the start with a fresh server`);
    }
  }
}

function partZoogateRest(round: number) {
  return againIfServerDied(`ZooGate throughput round ${round}`, () => partZoogateRestOnce(round));
}

async function partZoogateRestOnce(round: number) {
  const dataDir = join(SCRATCH, 'zg-data');
  rmSync(dataDir, { recursive: true, force: true });
  // info: lifecycle lines only (restore, role, snapshots, stopping), nothing per request
  const z = await startZoogate({ dataDir, logLevel: 'info', logFile: join(OUT, `zoogate-rest-r${round}.log`) });
  started.push(z);
  log(`ZooGate pid ${z.pid} on ${z.port} ready in ${z.readyMs} ms`);
  try {
    const main = await runKit({ target: 'zoogate-rest', port: z.port, pids: { zoogate: z.pid }, label: `zoogate-standalone-r${round}`, scenarios: args.scenarios!, server: z });
    results.zgRounds[round - 1] = main.json;
    if (round === 1) {
      // GET: raw bytes (Accept: application/octet-stream) vs the JSON document, on the same server
      results.getab = [];
      for (const c of [64, 1]) results.getab.push(await getAB(z.port, z.pid, c, c === 64 ? Number(args['getab-seconds']) : Math.ceil(Number(args['getab-seconds']) / 2)));
    }
  } finally {
    await stopZoogate(z);
  }
}

function pick(run: any, server: string) {
  const srvPct = run.cpu?.pct_of_one_core?.[server] ?? null;
  const cliPct = run.cpu?.pct_of_one_core?.client ?? null;
  return {
    concurrency: run.concurrency,
    ops_per_s: run.ops_per_s,
    p50: run.latency_ms?.p50,
    p99: run.latency_ms?.p99,
    errors: run.errors,
    server_cpu_pct: srvPct,
    client_cpu_pct: cliPct,
    server_us_per_op: srvPct == null || !run.ops_per_s ? null : Math.round(((srvPct / 100) * 1e6) / run.ops_per_s),
    client_us_per_op: cliPct == null || !run.ops_per_s ? null : Math.round(((cliPct / 100) * 1e6) / run.ops_per_s),
    other_cpu_pct: run.cpu?.other_processes_pct_of_one_core,
    attempts: run.attempts?.length ?? 1,
  };
}

/**
 * GET raw vs JSON, interleaved: C workers read the kit's 1,000 keys through two adapters (get=raw and
 * get=json) and switch between them every second, for `seconds` in all. Slow drift and foreign load
 * then hit both modes alike, which separate runs on this box do not. Per mode: completed reads,
 * server CPU (utime+stime from /proc, 10 ms ticks) and this process's CPU, summed over its slices.
 */
async function getAB(port: number, pid: number, c: number, seconds: number) {
  const { default: make } = await import(pathToFileURL(join(ROOT, 'bench', 'adapters', 'zoogate-rest.mjs')).href);
  const modes = ['raw', 'json'] as const;
  const ad: Record<string, any> = {};
  for (const m of modes) {
    ad[m] = make({ endpoints: [`127.0.0.1:${port}`], concurrency: c, get: m });
    await ad[m].connect();
  }
  const keys = Array.from({ length: 1000 }, (_, i) => `/bench/k${String(i).padStart(5, '0')}`);
  const ticks = () => {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  };
  const acc: Record<string, { ops: number; ms: number; srvTicks: number; cliUs: number; lat: number[]; errors: number }> = {};
  for (const m of modes) acc[m] = { ops: 0, ms: 0, srvTicks: 0, cliUs: 0, lat: [], errors: 0 };
  let mode: (typeof modes)[number] = 'raw';
  let stop = false;
  let seq = 0;
  let measuring = false;
  const workers = Array.from({ length: c }, async () => {
    while (!stop) {
      const m = mode;
      const t = performance.now();
      try {
        const r = await ad[m].get(keys[seq++ % keys.length]);
        if (!r) throw new Error('missing key');
        if (measuring && m === mode) { acc[m]!.ops++; acc[m]!.lat.push(performance.now() - t); }
      } catch {
        acc[m]!.errors++;
      }
    }
  });
  // 2 s warm-up (1 s each), then alternate 1 s slices; the first 50 ms of a slice are not counted
  for (const m of modes) { mode = m; await sleep(1000); }
  const slices = Math.max(2, 2 * Math.round(seconds / 2)); // even: both modes get as many slices
  for (let i = 0; i < slices; i++) {
    const m = modes[i % 2]!;
    mode = m;
    await sleep(50);
    const s0 = ticks();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    measuring = true;
    await sleep(950);
    measuring = false;
    const cu = process.cpuUsage(c0);
    acc[m]!.ms += performance.now() - t0;
    acc[m]!.srvTicks += ticks() - s0;
    acc[m]!.cliUs += cu.user + cu.system;
  }
  stop = true;
  await Promise.all(workers);
  for (const m of modes) await ad[m].close();
  const out = modes.map((m) => {
    const a = acc[m]!;
    const lat = a.lat.sort((x, y) => x - y);
    const q = (p: number) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)]! * 1000) / 1000 : null);
    return {
      mode: m, concurrency: c, seconds_measured: Math.round(a.ms) / 1000, ops: a.ops, ops_per_s: Math.round(a.ops / (a.ms / 1000)),
      p50: q(0.5), p99: q(0.99), errors: a.errors,
      server_us_per_op: Math.round((a.srvTicks * 10_000) / a.ops * 10) / 10,
      client_us_per_op: Math.round((a.cliUs / a.ops) * 10) / 10,
    };
  });
  log(`GET A/B C=${c}:`, JSON.stringify(out));
  return out;
}

async function partZk(round: number) {
  const why = zkAvailable();
  if (why) {
    log(`ZooKeeper not available (${why}): install it with  apt-get update && apt-get install -y zookeeper  (continuing with ZooGate alone)`);
    const n = `ZooKeeper was not measured: ${why}. Install it with \`apt-get install -y zookeeper\`.`;
    if (!results.notes.includes(n)) results.notes.push(n);
    return;
  }
  const { port, note } = await zkPort();
  if (note && !results.notes.includes(note)) results.notes.push(note);
  results.zk_port = port;
  const base = join(SCRATCH, 'zk');
  rmSync(base, { recursive: true, force: true });
  zkToStop.push({ base, port });
  log(await zkCmd('standalone-start', base, port));
  const pid = Number(readFileSync(join(base, 'standalone', 'pid'), 'utf8'));
  try {
    await sleep(2000);
    const r = await runKit({ target: 'zk', port, pids: { zookeeper: pid }, label: `zk-standalone-r${round}`, scenarios: args.scenarios! });
    results.zkRounds[round - 1] = r.json;
  } finally {
    log(await zkCmd('standalone-stop', base, port));
    zkToStop = zkToStop.filter((z) => z.base !== base);
  }
}

// ------------------------------------------------------------------ WebSocket, standalone

function partZoogateWs(round: number) {
  return againIfServerDied(`ZooGate WebSocket round ${round}`, async () => {
    const dataDir = join(SCRATCH, 'zg-data');
    rmSync(dataDir, { recursive: true, force: true });
    const z = await startZoogate({ dataDir, logLevel: 'info', logFile: join(OUT, `zoogate-ws-r${round}.log`) });
    started.push(z);
    log(`ZooGate pid ${z.pid} on ${z.port} ready in ${z.readyMs} ms (WebSocket round ${round})`);
    try {
      const r = await runKit({ target: 'zoogate-ws', port: z.port, pids: { zoogate: z.pid }, label: `zoogate-ws-standalone-r${round}`, scenarios: 'write,read', server: z });
      results.wsRounds[round - 1] = r.json;
    } finally {
      await stopZoogate(z);
    }
  });
}

// ------------------------------------------------------------------ 3-node ensembles

async function partZg3(round: number) {
  const c = await makeCluster('zoogate');
  fsyncProbe(`before ZooGate 3-node round ${round}`);
  await startCluster(c);
  try {
    const C = results.cluster;
    C.zgRest![round - 1] = (await runKitCluster(c, { target: 'zoogate-rest', label: `zoogate-3node-rest-r${round}`, scenarios: 'write,read' })).json;
    if (args['lin-reads']) C.zgRestSync![round - 1] = (await runKitCluster(c, { target: 'zoogate-rest', label: `zoogate-3node-rest-syncread-r${round}`, scenarios: 'read', prewarm: '2', extra: ['--opt', 'read=sync'] })).json;
    C.zgWs![round - 1] = (await runKitCluster(c, { target: 'zoogate-ws', label: `zoogate-3node-ws-r${round}`, scenarios: 'write,read,watch' })).json;
    C.zgFo![round - 1] = (await runKitCluster(c, { target: 'zoogate-rest', label: `zoogate-3node-failover-r${round}`, scenarios: 'failover', prewarm: '0' })).json;
  } finally {
    await cleanCluster(c);
  }
}

async function partZk3(round: number) {
  const why = zkAvailable();
  if (why) { results.notes.push(`ZooKeeper 3-node not measured: ${why}`); return; }
  const c = await makeCluster('zookeeper');
  fsyncProbe(`before ZooKeeper 3-node round ${round}`);
  await startCluster(c);
  try {
    const C = results.cluster;
    C.zk![round - 1] = (await runKitCluster(c, { target: 'zk', label: `zk-3node-r${round}`, scenarios: 'write,read,watch' })).json;
    C.zkFo![round - 1] = (await runKitCluster(c, { target: 'zk', label: `zk-3node-failover-r${round}`, scenarios: 'failover', prewarm: '0' })).json;
  } finally {
    await cleanCluster(c);
  }
}

async function partEtcd3(round: number) {
  if (!existsSync('/usr/bin/etcd')) { results.notes.push('etcd 3-node not measured: /usr/bin/etcd not found (apt-get install -y etcd-server etcd-client)'); return; }
  const c = await makeCluster('etcd');
  fsyncProbe(`before etcd 3-node round ${round}`);
  await startCluster(c);
  try {
    const C = results.cluster;
    C.etcd![round - 1] = (await runKitCluster(c, { target: 'etcd-http', label: `etcd-3node-http-r${round}`, scenarios: 'write,read' })).json;
    if (args['lin-reads']) C.etcdSer![round - 1] = (await runKitCluster(c, { target: 'etcd-http', label: `etcd-3node-http-serializable-r${round}`, scenarios: 'read', prewarm: '2', extra: ['--opt', 'serializable=1'] })).json;
    C.etcdFo![round - 1] = (await runKitCluster(c, { target: 'etcd-http', label: `etcd-3node-http-failover-r${round}`, scenarios: 'failover', prewarm: '0' })).json;
  } finally {
    await cleanCluster(c);
  }
}

// ------------------------------------------------------------------ watches

/** Watch notification latency (the kit's watch scenario) on standalone servers. */
async function partWatchLatency() {
  await againIfServerDied('ZooGate watch latency', async () => {
    const dataDir = join(SCRATCH, 'zg-data');
    rmSync(dataDir, { recursive: true, force: true });
    const z = await startZoogate({ dataDir, logLevel: 'info', logFile: join(OUT, 'zoogate-watch.log') });
    started.push(z);
    try {
      results.wl.zgOneshot = (await runKit({ target: 'zoogate-ws', port: z.port, pids: { zoogate: z.pid }, label: 'zoogate-ws-standalone-watch', scenarios: 'watch', server: z })).json;
      results.wl.zgPersistent = (await runKit({ target: 'zoogate-ws', port: z.port, pids: { zoogate: z.pid }, label: 'zoogate-ws-standalone-watch-persistent', scenarios: 'watch', server: z, extra: ['--opt', 'watch=persistent'] })).json;
    } finally {
      await stopZoogate(z);
    }
  });
  if (zkAvailable()) return;
  await withZkStandalone('zkwl', async (port, pid) => {
    results.wl.zk = (await runKit({ target: 'zk', port, pids: { zookeeper: pid }, label: 'zk-standalone-watch', scenarios: 'watch' })).json;
  });
}

async function withZkStandalone(dir: string, fn: (port: number, pid: number) => Promise<void>) {
  const { port, note } = await zkPort();
  if (note && !results.notes.includes(note)) results.notes.push(note);
  const base = join(SCRATCH, dir);
  rmSync(base, { recursive: true, force: true });
  zkToStop.push({ base, port });
  log(await zkCmd('standalone-start', base, port));
  const pid = Number(readFileSync(join(base, 'standalone', 'pid'), 'utf8'));
  try {
    await sleep(2000);
    await fn(port, pid);
  } finally {
    log(await zkCmd('standalone-stop', base, port));
    zkToStop = zkToStop.filter((z) => z.base !== base);
    rmSync(base, { recursive: true, force: true });
  }
}

function runFanout(target: string, endpoint: string, pid: number, label: string): Promise<any> {
  const file = join(OUT, `${label}.json`);
  const a = ['fanout.mjs', '--target', target, '--endpoint', endpoint, '--pid', String(pid), '--sessions', args['fanout-sessions']!, '--writes', args['fanout-writes']!, '--out', file];
  log(`node ${a.join(' ')}`);
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, a, { cwd: KIT_BENCH, stdio: ['ignore', 'inherit', 'pipe'] });
    p.stderr!.on('data', (d: Buffer) => { for (const line of d.toString().split('\n')) if (line.trim()) process.stderr.write(`    ${label}: ${line}\n`); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.on('exit', (code) => { clearTimeout(timer); code === 0 ? res(JSON.parse(readFileSync(file, 'utf8'))) : rej(new Error(`fanout ${label} exited ${code}`)); });
  });
}

/** Idle-wait for foreign load like the kit does before a measured run (up to --quiet-wait s). */
async function quiet(pids: Record<string, number>): Promise<any> {
  const { waitQuiet } = await import(pathToFileURL(join(KIT_BENCH, 'lib', 'stats.mjs')).href);
  return waitQuiet(pids, 5, Number(args['quiet-wait']) * 1000);
}

async function partFanoutZg() {
  await againIfServerDied('ZooGate fan-out', async () => {
    const dataDir = join(SCRATCH, 'zg-data');
    rmSync(dataDir, { recursive: true, force: true });
    const z = await startZoogate({ dataDir, logLevel: 'info', logFile: join(OUT, 'zoogate-fanout.log') });
    started.push(z);
    try {
      const q = await quiet({ zoogate: z.pid });
      const r = await Promise.race([runFanout('zoogate', `127.0.0.1:${z.port}`, z.pid, 'zoogate-fanout'), z.exited.then(() => { throw new Error('the server under test exited during fan-out'); })]);
      results.fanout.zg = { ...r, quiet_wait: q };
    } finally {
      await stopZoogate(z);
    }
  });
}

async function partFanoutZk() {
  if (zkAvailable()) return;
  await withZkStandalone('zkfan', async (port, pid) => {
    const q = await quiet({ zookeeper: pid });
    results.fanout.zk = { ...(await runFanout('zk', `127.0.0.1:${port}`, pid, 'zk-fanout')), quiet_wait: q };
  });
}

// ------------------------------------------------------------------ 3-node write path profile

async function partClusterProf() {
  const c = await makeCluster('zoogate');
  const profDir = join(SCRATCH, 'prof', RUN_ID, 'cluster-ws-write');
  rmSync(profDir, { recursive: true, force: true });
  c.env.ZG_CPU_PROF_DIR = profDir;
  await startCluster(c);
  let run: any;
  let doc: any;
  let kitExit = 0;
  let stopAt = 0;
  try {
    const r = await runKit({ target: 'zoogate-ws', cluster: c, label: 'zoogate-3node-prof-ws-write', scenarios: 'write', concurrency: '64', prewarm: '0' });
    kitExit = performance.now();
    doc = r.json;
    run = doc.scenarios.write.runs[0];
  } finally {
    stopAt = performance.now();
    log(await clusterCmd(c, 'stop')); // SIGTERM: each server exits and node writes its profile
    await clusterCmd(c, 'clean').catch(() => {});
    clustersUp.delete(c);
  }
  const gap = stopAt - kitExit;
  const window = { fromEndMs: Math.round(gap + run.window_s * 1000 - 200), toEndMs: Math.round(gap + 200) };
  const names = Object.keys(doc.scenarios.write.server_pids); // node1, node2(leader), …
  const leader = Number(/node(\d)\(leader\)/.exec(names.join(' '))?.[1]);
  const follower = Number(doc.client_node);
  const out: any = { run: { ops_per_s: run.ops_per_s, p50: run.latency_ms.p50, p99: run.latency_ms.p99, cpu: run.cpu.pct_of_one_core }, leader, follower, window, nodes: {} };
  for (const [role, id] of [['leader', leader], ['follower', follower]] as const) {
    const d = join(profDir, `node${id}`);
    const files = existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(d, f)) : [];
    if (!files.length) { results.notes.push(`3-node profile: no .cpuprofile for node${id} in ${d}`); continue; }
    const main = files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const key = Object.keys(run.cpu.pct_of_one_core).find((k) => k.startsWith(`node${id}`))!;
    const pct = run.cpu.pct_of_one_core[key];
    out.nodes[role] = { id, file: main, cpu_pct: pct, us_per_op: Math.round(((pct / 100) * 1e6) / run.ops_per_s), summary: summarise(main, 40, window) };
    log(`3-node profile ${role} node${id}: ${main}`);
    console.error(summaryMarkdown(out.nodes[role].summary, 12));
  }
  results.cprof = out;
}

/** One kit run on a fresh 3-node ZooGate ensemble whose servers get `env` on top of the usual; its JSON. */
async function freshZoogateRun(env: Record<string, string>, o: Parameters<typeof runKitCluster>[1]): Promise<any> {
  const base = await makeCluster('zoogate');
  const c: Cluster = { ...base, env: { ...base.env, ...env } };
  await startCluster(c);
  try {
    return (await runKitCluster(c, o)).json;
  } finally {
    await cleanCluster(c);
  }
}

/** An A/B table cell: each round's run as `ops/s (p50 / p99 ms)`, '–' for a missing one. */
function roundsCell(xs: any[]): string {
  return xs.map((x) => (x ? `${fmtInt(x.ops_per_s)} (${fmtMs(x.latency_ms.p50)} / ${fmtMs(x.latency_ms.p99)})` : '–')).join('; ');
}

/**
 * The young generation A/B: SERVER_NODE_FLAGS (--max-semi-space-size=64) against V8's default, on
 * fresh 3-node ensembles, reads over the WebSocket from a follower at 16 and 64 in flight (where the
 * default's scavenges showed in the tail), alternating, 2 rounds each.
 */
async function partGen() {
  const out: any = { flags: SERVER_NODE_FLAGS.join(' '), rounds: [] };
  for (let r = 1; r <= 2; r++) {
    const round: any = {};
    for (const [name, flags] of [['flags', out.flags], ['default', '']] as const) {
      round[name] = await freshZoogateRun({ ZG_NODE_FLAGS: flags }, { target: 'zoogate-ws', label: `zoogate-3node-gen-${name}-r${r}`, scenarios: 'read', concurrency: '16,64' });
    }
    out.rounds.push(round);
  }
  results.gen = out;
}

/**
 * Writes over REST and the WebSocket at 1, 16 and 64 in flight on fresh 3-node ensembles, once per
 * setting of one server option (`envOf(mode)`), alternating, `rounds` rounds; a round's runs are
 * keyed `${mode}-${target}`.
 */
async function abWriteRounds(part: string, modes: readonly string[], envOf: (mode: string) => Record<string, string>, rounds: number): Promise<any[]> {
  const out: any[] = [];
  for (let r = 1; r <= rounds; r++) {
    const round: any = {};
    for (const mode of modes) {
      for (const target of ['zoogate-rest', 'zoogate-ws'] as const) {
        round[`${mode}-${target}`] = await freshZoogateRun(envOf(mode), { target, label: `zoogate-3node-${part}-${mode}-${target}-r${r}`, scenarios: 'write', concurrency: '1,16,64' });
      }
    }
    out.push(round);
  }
  return out;
}

/** abWriteRounds' table: per API and C, both modes' rounds and mode b's ops/s over mode a's, per round. */
function abWriteTable(L: string[], rounds: any[], a: string, b: string) {
  L.push(`| API | C | ${a} | ${b} | **${b} / ${a} ops/s** |`);
  L.push('|---|---:|---|---|---:|');
  for (const target of ['zoogate-rest', 'zoogate-ws']) {
    for (const c of [1, 16, 64]) {
      const xa = rounds.map((r: any) => runOf(r[`${a}-${target}`], 'write', c));
      const xb = rounds.map((r: any) => runOf(r[`${b}-${target}`], 'write', c));
      L.push(`| ${target === 'zoogate-rest' ? 'REST' : 'WebSocket'} | ${c} | ${roundsCell(xa)} | ${roundsCell(xb)} | ${xa.map((x: any, i: number) => ratio(xb[i]?.ops_per_s, x?.ops_per_s)).join(', ')} |`);
    }
  }
  L.push('');
}

/** Where the log's fsync runs (--log-sync): on the event loop (inline, the default) against libuv's thread pool (deferred). */
async function partLogSync() {
  results.logsync = { rounds: await abWriteRounds('logsync', ['inline', 'deferred'], (mode) => ({ ZOOGATE_LOG_SYNC: mode }), 2) };
}

function renderLogSync(L: string[]) {
  const g = results.logsync;
  if (!g) return;
  L.push('## Log fsync: on the event loop or on the thread pool');
  L.push('');
  L.push(`\`--log-sync=inline\` (the default: each append a \`synchronous=FULL\` SQLite commit on the event loop) against \`deferred\` (the WAL written on append, its fdatasync on libuv's thread pool, ACKs, commits and answers held until it completes: core/effects.ts EffectRunner). At 64 in flight the leader spent about 70 % of its wall time inside inline appends, so the question was whether freeing its loop helps. Fresh 3-node ensembles, the kit's write scenario, alternating, ${g.rounds.length} rounds. Cells: ops/s (p50 / p99 ms), per round.`);
  L.push('');
  abWriteTable(L, g.rounds, 'inline', 'deferred');
}

/** Peers' bytes delayed this long each way in the second half of partDirectCommit. */
const PEER_DELAY_MS = 1;

/**
 * --direct-commit on (the default: a follower commits on the leader's LOGGED) against off (ZooKeeper's
 * ACK and COMMIT round trip): on loopback, 2 rounds, and with every peer byte delayed PEER_DELAY_MS
 * each way through bench/delay-proxy.mjs (servers in different zones), 1 round.
 */
async function partDirectCommit() {
  const envOf = (extra: Record<string, string>) => (mode: string) => ({ ZOOGATE_DIRECT_COMMIT: mode, ...extra });
  results.direct = {
    delayMs: PEER_DELAY_MS,
    loopback: await abWriteRounds('direct', ['on', 'off'], envOf({}), 2),
    delayed: await abWriteRounds(`direct-delay${PEER_DELAY_MS}`, ['on', 'off'], envOf({ ZG_PEER_DELAY_MS: String(PEER_DELAY_MS) }), 1),
  };
}

function renderDirectCommit(L: string[]) {
  const g = results.direct;
  if (!g) return;
  L.push('## Direct commit: a follower commits on the leader\'s LOGGED');
  L.push('');
  L.push(`\`--direct-commit=on\` (the default) against \`off\`. With it, a leader whose own log holds a proposal durably says so to each follower it forms a quorum with (LOGGED; in a 3-server ensemble, every follower), and the follower commits once its own log holds it too, instead of waiting for its ACK to reach the leader and the COMMIT to come back: a write sent to a follower (the kit pins its client to one) is answered two peer hops sooner. Fresh 3-node ensembles, the kit's write scenario, alternating. Cells: ops/s (p50 / p99 ms), per round.`);
  L.push('');
  L.push(`On loopback (${g.loopback.length} rounds), where a peer hop is 0.1-0.3 ms and the servers' fsyncs finish about together:`);
  L.push('');
  abWriteTable(L, g.loopback, 'off', 'on');
  L.push(`With every peer byte delayed ${g.delayMs} ms each way (\`ZG_PEER_DELAY_MS=${g.delayMs}\`: bench/delay-proxy.mjs between the servers, whose timers make it 1-2 ms; the client talks to its server directly), as servers in different zones, ${g.delayed.length} round:`);
  L.push('');
  abWriteTable(L, g.delayed, 'off', 'on');
}

function renderGen(L: string[]) {
  const g = results.gen;
  if (!g) return;
  L.push('## Young generation: the server\'s V8 flags against V8\'s default');
  L.push('');
  L.push(`Every launcher runs the server with \`${g.flags}\` (SERVER_NODE_FLAGS in api/config.ts). Fresh 3-node ensembles, the kit's read scenario over \`zoogate-ws\` on a follower, with the flags and with \`ZG_NODE_FLAGS=\` (V8's default 16 MB semi-space), alternating, ${g.rounds.length} rounds. With the default, the follower the kit reads from kept ~1.4 MB of young objects alive at each scavenge and scavenged every ~80 ms for 3-8 ms on these shared cores (\`--trace-gc-nvp\`); the leader and the other follower, read the same way, kept a few KB (why that one node does is not known yet). Cells: ops/s (p50 / p99 ms), per round.`);
  L.push('');
  L.push('| C | with the flags | V8 default | **p99 default / flags** |');
  L.push('|---:|---|---|---:|');
  for (const c of [16, 64]) {
    const a = g.rounds.map((r: any) => runOf(r.flags, 'read', c));
    const b = g.rounds.map((r: any) => runOf(r.default, 'read', c));
    L.push(`| ${c} | ${roundsCell(a)} | ${roundsCell(b)} | ${a.map((x: any, i: number) => ratio(b[i]?.latency_ms?.p99, x?.latency_ms?.p99)).join(', ')} |`);
  }
  L.push('');
}

async function partProf() {
  const prof: Record<string, any> = {};
  for (const scn of ['write', 'read']) await againIfServerDied(`the ${scn} profile`, () => profileOne(scn, prof));
  results.prof = prof;
}

async function profileOne(scn: string, prof: Record<string, any>) {
  {
    const dataDir = join(SCRATCH, 'zg-prof-data');
    const profDir = join(SCRATCH, 'prof', RUN_ID, scn);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    const z = await startZoogate({ dataDir, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], logFile: join(OUT, `zoogate-prof-${scn}.log`) });
    started.push(z);
    let run: any;
    let kitExit = 0;
    let sigterm = 0;
    try {
      const r = await runKit({ target: 'zoogate-rest', port: z.port, pids: { zoogate: z.pid }, label: `zoogate-prof-${scn}`, scenarios: scn, concurrency: '64', prewarm: '0', server: z });
      kitExit = performance.now();
      run = r.json.scenarios[scn].runs[0];
    } finally {
      sigterm = performance.now();
      await stopZoogate(z); // SIGTERM: the server exits and node writes the profile
    }
    // The measured window ended just before the kit exited; the profile ends when the server exits,
    // a few ms after SIGTERM. Summarise the measured window (minus 0.2 s at both edges).
    const gap = sigterm - kitExit;
    const window = { fromEndMs: Math.round(gap + run.window_s * 1000 - 200), toEndMs: Math.round(gap + 200) };
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f));
    if (files.length === 0) throw new Error(`no .cpuprofile in ${profDir}`);
    const main = files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!; // the main thread's (tsx's loader thread writes a small one)
    const s = summarise(main, 40, window);
    prof[scn] = { file: main, run: pick(run, 'zoogate'), summary: s };
    log(`profile ${scn}: ${main}`);
    console.error(summaryMarkdown(s, 12));
  }
}

async function partMemZoogate() {
  const N = Number(args['mem-znodes']);
  const B = Number(args['mem-batch']);
  const PARENTS = 10;
  const dataDir = join(SCRATCH, 'zg-mem-data');
  rmSync(dataDir, { recursive: true, force: true });
  const logFile = join(OUT, 'zoogate-mem.log');
  const r: any = { znodes: N, data_bytes: 100, batch: B, parents: PARENTS, path_example: memName(0, PARENTS), steps: {} };
  const data = 'b'.repeat(100);

  // empty server
  let z = await startZoogate({ dataDir, logLevel: 'info', logFile });
  started.push(z);
  await sleep(1500);
  r.steps.empty = { start_ms: z.readyMs, rss_mib: mib(rssKiB(z.pid)) };
  log('ZooGate mem: empty', r.steps.empty);

  // load: POST /multi batches of B creates, 4 batches in flight
  const parentOps = [{ op: 'create', path: '/mem' }, ...Array.from({ length: PARENTS }, (_, p) => ({ op: 'create', path: `/mem/p${p}` }))];
  const pr = await httpKeepAlive(z.port, 'POST', '/multi', JSON.stringify({ ops: parentOps }));
  if (pr.status !== 200) throw new Error(`creating parents: ${pr.status} ${pr.body.slice(0, 200)}`);
  const tl = performance.now();
  let next = 0;
  let lastLog = tl;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < N) {
      const from = next;
      next = Math.min(N, next + B);
      const ops = [];
      for (let i = from; i < next; i++) ops.push({ op: 'create', path: memName(i, PARENTS), data });
      const res = await httpKeepAlive(z.port, 'POST', '/multi', JSON.stringify({ ops }));
      if (res.status !== 200) throw new Error(`multi at ${from}: ${res.status} ${res.body.slice(0, 300)}`);
      if (performance.now() - lastLog > 10_000) { lastLog = performance.now(); log(`  loaded ${next}`); }
    }
  }));
  const loadMs = Math.round(performance.now() - tl);
  await sleep(2000);
  const count = await countMem(z.port, PARENTS);
  r.steps.loaded = { load_ms: loadMs, creates_per_s: Math.round(N / (loadMs / 1000)), znodes_counted: count, rss_mib: mib(rssKiB(z.pid)), files: dirFiles(dataDir) };
  r.bytes_per_znode = Math.round(((r.steps.loaded.rss_mib - r.steps.empty.rss_mib) * 1024 * 1024) / N);
  log('ZooGate mem: loaded', JSON.stringify(r.steps.loaded));

  // restart 1: kill -9, start again (no snapshot yet: the load was N/B multi transactions, under --snapshot-every)
  const last = memName(N - 1, PARENTS);
  const restart = async (label: string) => {
    await stopZoogate(z, 'SIGKILL');
    const nz = await startZoogate({ dataDir, logLevel: 'info', logFile });
    started.push(nz);
    z = nz;
    const got = await httpReq(z.port, 'GET', `/znodes${last}`, undefined, { accept: 'application/octet-stream' });
    if (got.status !== 200) throw new Error(`${label}: ${last} not readable after restart (${got.status})`);
    const restored = lastLogLine(logFile, 'restored');
    await sleep(2000);
    const step = { ms_from_spawn_to_ready: z.readyMs, server_restore_ms: restored?.ms ?? null, replayed_txns: restored?.replayed ?? null, snapshot_zxid: restored?.snapshotZxid ?? null, nodes: restored?.nodes ?? null, rss_mib: mib(rssKiB(z.pid)), files: dirFiles(dataDir) };
    log(`ZooGate mem: ${label}`, JSON.stringify(step));
    return step;
  };
  r.steps.restart1_log_replay = await restart('restart 1 (log replay)');

  // snapshot: a server started with --snapshot-every 1 snapshots after its next transaction
  await stopZoogate(z);
  z = await startZoogate({ dataDir, logLevel: 'info', logFile, serverArgs: ['--snapshot-every', '1'] });
  started.push(z);
  const before = countLines(logFile, 'snapshot written');
  const tr = await httpReq(z.port, 'POST', '/znodes/mem-snapshot-trigger', 'x');
  if (tr.status !== 201) throw new Error(`snapshot trigger: ${tr.status} ${tr.body}`);
  const ts = performance.now();
  while (countLines(logFile, 'snapshot written') <= before) {
    if (performance.now() - ts > 300_000) throw new Error('no snapshot after 300 s');
    await sleep(100);
  }
  const snap = lastLogLine(logFile, 'snapshot written');
  r.steps.snapshot = { ms: snap?.ms ?? null, bytes: snap?.bytes ?? null, nodes: snap?.nodes ?? null, files: dirFiles(dataDir) };
  log('ZooGate mem: snapshot', JSON.stringify(r.steps.snapshot));
  r.steps.restart2_snapshot = await restart('restart 2 (from snapshot)');
  r.steps.restart3_snapshot = await restart('restart 3 (from snapshot)');
  await stopZoogate(z);

  // baseline: an empty server's start (node + tsx + SQLite open), second start of a fresh dir
  const emptyDir = join(SCRATCH, 'zg-empty-data');
  rmSync(emptyDir, { recursive: true, force: true });
  for (const k of [1, 2]) {
    const e = await startZoogate({ dataDir: emptyDir, logFile });
    started.push(e);
    r.steps[`empty_start${k}`] = { ms_from_spawn_to_ready: e.readyMs };
    await stopZoogate(e, 'SIGKILL');
  }
  rmSync(emptyDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true }); // ~350 MB of SQLite for 1M znodes
  results.memzg = r;
  writeFileSync(join(OUT, 'zoogate-memtest.json'), JSON.stringify(r, null, 2));
}

function memName(i: number, parents: number): string {
  return `/mem/p${i % parents}/n${String(i).padStart(7, '0')}`;
}

async function countMem(port: number, parents: number): Promise<number> {
  let n = 0;
  for (let p = 0; p < parents; p++) {
    const h = await httpReq(port, 'HEAD', `/znodes/mem/p${p}`);
    n += JSON.parse(String(h.headers['zoogate-stat'])).numChildren;
  }
  return n;
}

function countLines(file: string, msg: string): number {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
}
function lastLogLine(file: string, msg: string): any {
  const l = readFileSync(file, 'utf8').split('\n').filter((x) => x.includes(`"msg":"${msg}"`)).at(-1);
  return l ? JSON.parse(l) : null;
}

async function partMemZk() {
  const why = zkAvailable();
  if (why) {
    results.notes.push(`ZooKeeper memory test skipped: ${why}.`);
    return;
  }
  const N = Number(args['zk-mem-znodes'] ?? args['mem-znodes']);
  const { port, note } = await zkPort();
  if (note && !results.notes.includes(note)) results.notes.push(note);
  results.zk_mem_port = port;
  const base = join(SCRATCH, 'zkmem');
  // 1M znodes of 100 B need ~0.5 GB of live heap: the kit's -Xmx512m is too small above ~300k
  const heap = N > 300_000 ? '-Xmx2g' : '-Xmx512m';
  const file = join(OUT, 'zk-memtest.json');
  log(`ZooKeeper mem: zk-memtest.mjs --znodes ${N} (ZK_HEAP=${heap}, port ${port})`);
  const tm = performance.now();
  await new Promise<void>((res, rej) => {
    const p = spawn(process.execPath, ['zk-memtest.mjs', '--znodes', String(N), '--base', base, '--out', file], {
      cwd: KIT_BENCH, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ZK_HEAP: heap, ZK_STANDALONE_PORT: String(port) },
    });
    zkToStop.push({ base, port });
    const timer = setTimeout(() => { p.kill('SIGKILL'); rej(new Error('zk-memtest took over 10 min')); }, 600_000);
    p.stderr!.on('data', (d: Buffer) => { for (const line of d.toString().split('\n')) if (line.trim()) process.stderr.write(`    zk-memtest: ${line.slice(0, 240)}\n`); });
    p.on('exit', (code) => { clearTimeout(timer); code === 0 ? res() : rej(new Error(`zk-memtest exited ${code}`)); });
  }).finally(async () => {
    await zkCmd('standalone-stop', base, port).catch(() => {});
    zkToStop = zkToStop.filter((z) => z.base !== base);
  });
  const j = JSON.parse(readFileSync(file, 'utf8'));
  j.heap_flags = `${heap} (ZK_HEAP given to the kit's zk-cluster.sh)`;
  j.bench_wall_s = Math.round((performance.now() - tm) / 1000);
  results.memzk = j;
}

// ------------------------------------------------------------------ report

function runOf(doc: any, scn: string, c: number): any {
  return doc?.scenarios?.[scn]?.runs?.find((r: any) => r.concurrency === c) ?? null;
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (!a || !b) return '–';
  return (a / b).toFixed(2);
}

// ------------------------------------------------------------------ report helpers (WebSocket, ensembles, watches)

const meanOf = (xs: Array<number | null | undefined>) => { const v = xs.filter((x): x is number => typeof x === 'number'); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };
const medianOf = (xs: Array<number | null | undefined>) => { const v = xs.filter((x): x is number => typeof x === 'number').sort((a, b) => a - b); return v.length ? (v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2) : null; };

/** CPU of the servers under test in a kit run (summed over the nodes of an ensemble), % of one core. */
function serverCpuOf(r: any): number | null {
  const e = Object.entries(r?.cpu?.pct_of_one_core ?? {}).filter(([k, v]) => k !== 'client' && typeof v === 'number') as Array<[string, number]>;
  return e.length ? e.reduce((a, [, v]) => a + v, 0) : null;
}

interface Cell { per: Array<number | null>; ops: number | null; p50: number | null; p99: number | null; srv: number | null; cli: number | null; oth: number; n: number }
function cellOf(docs: any[], scn: string, c: number): Cell {
  const rs = docs.filter(Boolean).map((d) => runOf(d, scn, c));
  return {
    per: rs.map((r) => r?.ops_per_s ?? null),
    ops: meanOf(rs.map((r) => r?.ops_per_s)),
    p50: meanOf(rs.map((r) => r?.latency_ms?.p50)),
    p99: meanOf(rs.map((r) => r?.latency_ms?.p99)),
    srv: meanOf(rs.map(serverCpuOf)),
    cli: meanOf(rs.map((r) => r?.cpu?.pct_of_one_core?.client)),
    oth: Math.max(-1, ...rs.map((r) => r?.cpu?.other_processes_pct_of_one_core ?? -1)),
    n: rs.filter(Boolean).length,
  };
}
const fx = (x: number | null, d = 2) => (x == null ? '–' : x.toFixed(d));
const ratioOf = (a: number | null, b: number | null) => (a && b ? a / b : null);
const perRoundRatios = (a: Cell, b: Cell) => a.per.map((x, i) => ratioOf(x, b.per[i] ?? null));
const opsCell = (c: Cell) => (c.ops == null ? '–' : `${fmtInt(c.ops)} (${fmtMs(c.p50)} / ${fmtMs(c.p99)})`);
const cpuN = (x: number | null) => (x == null ? '–' : String(Math.round(x)));
const concs = () => args.concurrency!.split(',').map(Number);
/** "met" / "**missed**" for a ratio against a floor, with the per-round ratios. */
function verdict(r: number | null, per: Array<number | null>, floor: number): string {
  if (r == null) return '–';
  if (r >= floor && per.every((x) => x == null || x >= floor)) return 'met';
  if (r >= floor) return 'met on the mean, not in every round';
  return '**missed**';
}

/** Runs whose kept attempt still saw foreign load, and errors in measured runs, over kit documents. */
function noiseAndErrors(docs: any[]): string[] {
  const out: string[] = [];
  const runs = docs.filter(Boolean).flatMap((d) => Object.entries(d?.scenarios ?? {}).flatMap(([sc, v]: [string, any]) => (v.runs ?? []).filter((r: any) => r.concurrency != null).map((r: any) => ({ l: `${d.label} ${sc} C=${r.concurrency}`, r }))));
  const errs = runs.filter((x) => x.r.errors).map((x) => `${x.l}: ${x.r.errors} errors ${JSON.stringify(x.r.error_kinds)}`);
  out.push(errs.length ? `Errors in measured runs: ${errs.join('; ')}.` : 'No request failed in any measured throughput run.');
  const noisy = runs.filter((x) => (x.r.cpu?.other_processes_pct_of_one_core ?? 0) > 10);
  const repeated = runs.filter((x) => (x.r.attempts?.length ?? 1) > 1).length;
  out.push(noisy.length
    ? `**Foreign load**: in ${noisy.length} of ${runs.length} runs even the cleanest attempt saw other processes use more than 10 % of a core (${noisy.map((x) => `${x.l}: ${Math.round(x.r.cpu.other_processes_pct_of_one_core)} %`).join(', ')}); ${repeated} runs needed more than one attempt.`
    : `The kept attempt of every run saw other processes use at most 10 % of a core (${repeated} of ${runs.length} runs needed more than one attempt).`);
  const docsErr = docs.filter(Boolean).flatMap((d) => Object.entries(d?.scenarios ?? {}).filter(([, v]: [string, any]) => v.error).map(([sc, v]: [string, any]) => `${d.label} ${sc}: ${String(v.error).split('\n')[0]}`));
  if (docsErr.length) out.push(`**Scenarios that failed**: ${docsErr.join('; ')}.`);
  return out;
}

function renderWs(L: string[]) {
  const ws: any[] = results.wsRounds.filter(Boolean);
  const zk: any[] = results.zkRounds.filter(Boolean);
  const rest: any[] = results.zgRounds.filter(Boolean);
  if (!ws.length) return;
  L.push('## WebSocket: ZooGate standalone vs ZooKeeper standalone');
  L.push('');
  L.push(`Each round ran ZooGate REST, ZooGate WebSocket and ZooKeeper one after another (fresh server each), the rounds alternating: the WS and ZooKeeper figures of a round are minutes apart. Adapter \`bench/adapters/zoogate-ws.mjs\`: one WebSocket carrying one session, C requests in flight pipelined on it with ids (as the kit's zk adapter pipelines on one ZooKeeper session); get = \`{"type":"request","op":"get"}\` (data back as UTF-8 text), put = op \`set\` with version -1. ${ws.length} round(s); means over rounds, per-round ratios in brackets. Cells: ops/s, then p50 / p99 ms.`);
  L.push('');
  L.push('| scenario | C | ZooGate WS | ZooKeeper | **WS / ZK** (per round) | ZooGate REST (same rounds) | WS / REST | server CPU % WS / ZK | client CPU % WS / ZK | foreign CPU % WS / ZK (max) |');
  L.push('|---|---:|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const sc of ['write', 'read']) for (const c of concs()) {
    const a = cellOf(ws, sc, c), b = cellOf(zk, sc, c), r = cellOf(rest, sc, c);
    L.push(`| ${sc} | ${c} | ${opsCell(a)} | ${opsCell(b)} | **${fx(ratioOf(a.ops, b.ops))}** (${perRoundRatios(a, b).map((x) => fx(x)).join(', ')}) | ${opsCell(r)} | ${fx(ratioOf(a.ops, r.ops))} | ${cpuN(a.srv)} / ${cpuN(b.srv)} | ${cpuN(a.cli)} / ${cpuN(b.cli)} | ${a.oth < 0 ? '–' : Math.round(a.oth)} / ${b.oth < 0 ? '–' : Math.round(b.oth)} |`);
  }
  L.push('');
  L.push(...noiseAndErrors(ws));
  L.push('');
}

function renderCluster(L: string[]) {
  const C: Record<string, any[]> = results.cluster;
  const any = Object.values(C).some((v) => v.some(Boolean));
  if (!any) return;
  const clusterRounds = Math.max(...Object.values(C).map((v) => v.filter(Boolean).length));
  L.push('## 3-node ensembles: ZooGate, ZooKeeper, etcd');
  L.push('');
  L.push(`Three servers of one system on this machine (loopback, the same 2 cores as the client), one system at a time, each started fresh: ZooGate with \`bench/zoogate-cluster.sh\` (3 \`zoogate server\` processes, --tick-ms ${args['tick-ms']}, sync limit 5 and init limit 10 ticks: ZooKeeper's defaults), ZooKeeper 3.8 with the kit's \`zk-cluster.sh\` (tickTime 2000, initLimit 10, syncLimit 5, fsync on), etcd 3.4 with the kit's \`etcd-cluster.sh\` (all defaults: heartbeat 100 ms, election timeout 1 s). The kit pins the client to a follower (writes are forwarded to the leader; reads are served by the follower). ZooGate over REST (\`zoogate-rest\`: undici, one keep-alive connection per request in flight) and over the WebSocket (\`zoogate-ws\`: one socket, pipelined); ZooKeeper with the kit's zk adapter (one pipelined session); etcd with the kit's \`etcd-http\` adapter (the JSON gateway, one keep-alive connection per request in flight; reads linearizable unless marked serializable). ${clusterRounds} round(s) (ZooGate, ZooKeeper, etcd), alternating; each cell is ops/s (the mean over rounds), then p50 / p99 ms (means of the rounds' percentiles).`);
  L.push('');
  L.push('| scenario | C | ZooGate REST | ZooGate WS | ZooKeeper | etcd HTTP/JSON | **WS / ZK** | **REST / ZK** | **REST / etcd** |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const sc of ['write', 'read']) for (const c of concs()) {
    const r = cellOf(C.zgRest!, sc, c), w = cellOf(C.zgWs!, sc, c), z = cellOf(C.zk!, sc, c), e = cellOf(C.etcd!, sc, c);
    L.push(`| ${sc}${sc === 'read' ? ' (etcd: linearizable)' : ''} | ${c} | ${opsCell(r)} | ${opsCell(w)} | ${opsCell(z)} | ${opsCell(e)} | **${fx(ratioOf(w.ops, z.ops))}** | **${fx(ratioOf(r.ops, z.ops))}** | **${fx(ratioOf(r.ops, e.ops))}** |`);
  }
  L.push('');
  if (C.zgRestSync!.some(Boolean) || C.etcdSer!.some(Boolean)) {
    L.push('Reads of the same consistency side by side: local reads (ZooGate\'s and ZooKeeper\'s default, etcd `serializable=1`) and linearizable reads (ZooGate `GET ?sync=true`: the follower confirms with a quorum through the leader, then reads; etcd\'s default ReadIndex).');
    L.push('');
    L.push('| C | ZooGate REST local | etcd serializable | **ratio** | ZooGate REST ?sync=true | etcd linearizable | **ratio** |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of concs()) {
      const r = cellOf(C.zgRest!, 'read', c), es = cellOf(C.etcdSer!, 'read', c), rs = cellOf(C.zgRestSync!, 'read', c), e = cellOf(C.etcd!, 'read', c);
      L.push(`| ${c} | ${opsCell(r)} | ${opsCell(es)} | **${fx(ratioOf(r.ops, es.ops))}** | ${opsCell(rs)} | ${opsCell(e)} | **${fx(ratioOf(rs.ops, e.ops))}** |`);
    }
    L.push('');
  }
  L.push('CPU, % of one core (servers: the 3 processes summed / client):');
  L.push('');
  L.push('| scenario | C | ZooGate REST | ZooGate WS | ZooKeeper | etcd |');
  L.push('|---|---:|---:|---:|---:|---:|');
  for (const sc of ['write', 'read']) for (const c of concs()) {
    const cells = [C.zgRest!, C.zgWs!, C.zk!, C.etcd!].map((d) => cellOf(d, sc, c));
    L.push(`| ${sc} | ${c} | ${cells.map((x) => `${cpuN(x.srv)} / ${cpuN(x.cli)}`).join(' | ')} |`);
  }
  L.push('');
  L.push(...noiseAndErrors([...C.zgRest!, ...C.zgRestSync!, ...C.zgWs!, ...C.zk!, ...C.etcd!, ...C.etcdSer!]));
  L.push('');
  // failover
  const fo: Array<[string, any[]]> = [['ZooGate (REST adapter)', C.zgFo!], ['ZooKeeper (zk adapter, spinDelay 1000)', C.zkFo!], ['etcd (etcd-http adapter, no client timeout)', C.etcdFo!]];
  if (fo.some(([, d]) => d.some(Boolean))) {
    L.push('### Failover: leader kill -9 → writes succeed again');
    L.push('');
    L.push(`The kit's failover scenario, unchanged: 8 writers on a client pinned to a follower, 3 s of writes, \`kill -9\` of the leader (the cluster script's \`pids\`/\`leader\`), recovery = the first successful write whose request was issued after the kill; then the killed server is started again (\`start-node\`) and after 3 s the next repetition kills the new leader. ${args['failover-reps']} repetitions per system per round (${clusterRounds} round(s)); median reported. "Leader ready" is the server-side time from the kill to the new leader's log line of becoming active (\`ready-since\`).`);
    L.push('');
    L.push('| system | recovery ms per repetition | **median** | leader ready (server log) median ms | longest gap between successful writes, median ms | failed writes after the kill (per rep) | errors seen |');
    L.push('|---|---|---:|---:|---:|---|---|');
    for (const [name, docs] of fo) {
      const reps = docs.filter(Boolean).flatMap((d) => d?.scenarios?.failover?.runs ?? []);
      if (!reps.length) { L.push(`| ${name} | – | – | – | – | – | ${docs.filter(Boolean).map((d) => String(d?.scenarios?.failover?.error ?? '').split('\n')[0]).join('; ') || 'not run'} |`); continue; }
      const errs: Record<string, number> = {};
      for (const r of reps) for (const [k, v] of Object.entries(r.errors_after_kill ?? {})) errs[k] = (errs[k] ?? 0) + (v as number);
      L.push(`| ${name} | ${reps.map((r: any) => fmtInt(r.recovery_ms)).join(', ')} | **${fmtInt(medianOf(reps.map((r: any) => r.recovery_ms)))}** | ${fmtInt(medianOf(reps.map((r: any) => r.server_new_leader_ready_ms)))} | ${fmtInt(medianOf(reps.map((r: any) => r.max_gap_between_successful_writes_ms)))} | ${reps.map((r: any) => r.failed_requests_after_kill).join(', ')} | ${Object.entries(errs).map(([k, v]) => `${k} ×${v}`).join(', ') || '–'} |`);
    }
    L.push('');
  }
}

function watchRow(name: string, doc: any): string {
  const w = doc?.scenarios?.watch?.runs?.[0];
  if (!w) return `| ${name} | – | – | – | – | – | ${String(doc?.scenarios?.watch?.error ?? 'not run').split('\n')[0]} |`;
  const ev = w.watch_event_latency_ms, ack = w.write_ack_latency_ms;
  return `| ${name} | ${fmtMs(ev.p50)} / ${fmtMs(ev.p99)} | ${fmtMs(ack.p50)} / ${fmtMs(ack.p99)} | ${w.event_before_ack} / ${w.samples - w.timeouts} | ${w.timeouts} | node ${w.watch_node} / node ${w.write_node}${w.leader ? ` (leader ${w.leader})` : ''} | ${Math.round(w.cpu?.other_processes_pct_of_one_core ?? 0)} |`;
}

function renderWatches(L: string[]) {
  const wl = results.wl, f = results.fanout;
  const C: Record<string, any[]> = results.cluster;
  const have3 = C.zgWs!.some((d) => d?.scenarios?.watch) || C.zk!.some((d) => d?.scenarios?.watch);
  if (!wl.zgOneshot && !wl.zk && !have3 && !f.zg && !f.zk) return;
  L.push('## Watches');
  L.push('');
  L.push('### Notification latency');
  L.push('');
  L.push(`The kit's watch scenario: a watcher session and a writer session (on two different followers in an ensemble), ${args['watch-samples']} writes one at a time to a watched znode, each after the watch is armed again. The kit times the event from the moment the write is **sent** (t0) to its arrival at the watcher, and the write's acknowledgement from the same t0; "events before ack" counts samples where the watcher had the event before the writer had its answer (then "ack → event" is negative: the notification is not behind the acknowledgement). ZooGate over the WebSocket; ZooKeeper with the kit's zk adapter (getData with a watcher, re-armed). ms, p50 / p99.`);
  L.push('');
  L.push('| system | write sent → event at the watcher | write sent → ack at the writer | events before ack | timeouts | watcher / writer | foreign CPU % |');
  L.push('|---|---:|---:|---:|---:|---|---:|');
  if (wl.zgOneshot) L.push(watchRow('ZooGate standalone, WS one-shot watch (re-armed)', wl.zgOneshot));
  if (wl.zgPersistent) L.push(watchRow('ZooGate standalone, WS persistent watch', wl.zgPersistent));
  if (wl.zk) L.push(watchRow('ZooKeeper standalone', wl.zk));
  C.zgWs!.forEach((d, i) => d && L.push(watchRow(`ZooGate 3-node, WS one-shot (round ${i + 1})`, d)));
  C.zk!.forEach((d, i) => d && L.push(watchRow(`ZooKeeper 3-node (round ${i + 1})`, d)));
  L.push('');
  if (f.zg || f.zk) {
    L.push(`### Fan-out: ${fmtInt(Number(args['fanout-sessions']))} watching sessions on one server`);
    L.push('');
    L.push(`\`bench/fanout.mjs\` (in the kit's folder so that it uses the kit's node-zookeeper-client): one standalone server, ${fmtInt(Number(args['fanout-sessions']))} sessions (ZooGate: one WebSocket each; ZooKeeper: one node-zookeeper-client each) in one client process, each with a one-shot data watch on \`/fanout\`; a writer session sets it ${args['fanout-writes']} times (after 10 un-recorded writes). Before each write every watch is re-armed and the box idles 30 ms; the clock runs from sending the write until the last session has read its NodeDataChanged; the re-arming happens outside that window. Server CPU per notification = the server process's CPU over those windows (/proc, 10 ms ticks, summed over the writes) ÷ (writes × sessions); it includes the write itself (~0.05 ms per write). "All delivered" includes this one client process reading ${fmtInt(Number(args['fanout-sessions']))} messages from as many sockets, the same work for both systems.`);
    L.push('');
    L.push('| | ZooGate (WS) | ZooKeeper | ZooGate / ZooKeeper |');
    L.push('|---|---:|---:|---:|');
    const row = (label: string, g: (x: any) => number | null | undefined, digits = 2) => {
      const a = f.zg ? g(f.zg) : null, b = f.zk ? g(f.zk) : null;
      L.push(`| ${label} | ${a == null ? '–' : digits === 0 ? fmtInt(a) : fmtMs(a)} | ${b == null ? '–' : digits === 0 ? fmtInt(b) : fmtMs(b)} | ${fx(ratioOf(a ?? null, b ?? null))} |`);
    };
    row('**all sessions have the event**, p50 ms (over writes)', (x) => x.all_delivered_ms.p50);
    row('… p99 ms', (x) => x.all_delivered_ms.p99);
    row('… max ms', (x) => x.all_delivered_ms.max);
    row('first session has it, p50 ms', (x) => x.first_event_ms.p50);
    row('per session (pooled over sessions and writes), p50 ms', (x) => x.per_event_ms.p50);
    row('per session (pooled over sessions and writes), p99 ms', (x) => x.per_event_ms.p99);
    row('write acknowledged, p50 ms', (x) => x.write_ack_ms.p50);
    row('**server CPU per notification**, µs', (x) => x.server_cpu_us_per_notification);
    row('client CPU per notification, µs', (x) => x.client_cpu_us_per_notification);
    row('opening the sessions (wall), ms', (x) => x.connect_ms, 0);
    row('server CPU to open them, ms', (x) => x.connect_server_cpu_ms, 0);
    row('server RSS with the sessions open, MiB', (x) => x.server_rss_mib);
    L.push('');
    const tw = [f.zg, f.zk].filter(Boolean).map((x) => `${x.target}: ${x.timeouts} of ${x.writes + x.timeouts} writes without all events within 15 s; waited ${x.quiet_wait?.waited_ms ?? '–'} ms for quiet before (foreign load then ${x.quiet_wait?.last_other_pct ?? '–'} %)`);
    L.push(`${tw.join('; ')}.`);
    L.push('');
  }
}

/** Every issue target of the WebSocket / ensemble / watch work, with its verdict. */
function renderNewTargets(L: string[]) {
  const C: Record<string, any[]> = results.cluster;
  const rows: string[] = [];
  const ws: any[] = results.wsRounds.filter(Boolean), zk: any[] = results.zkRounds.filter(Boolean);
  const tp = (label: string, a: Cell, b: Cell, floor: number) => {
    const r = ratioOf(a.ops, b.ops);
    rows.push(`| ${label} | ${fmtInt(a.ops)} | ${fmtInt(b.ops)} | ${fx(r)}${a.per.length > 1 ? ` (${perRoundRatios(a, b).map((x) => fx(x)).join(', ')})` : ''} | ≥ ${floor.toFixed(2)} | ${verdict(r, perRoundRatios(a, b), floor)} |`);
  };
  const p99 = (label: string, a: Cell, b: Cell) => {
    if (a.p99 == null || b.p99 == null) return;
    const r = a.p99 / b.p99;
    rows.push(`| ${label} | ${fmtMs(a.p99)} ms | ${fmtMs(b.p99)} ms | ${fx(r)} | ≤ 1.00 | ${r <= 1 ? 'met' : '**missed**'} |`);
  };
  if (ws.length && zk.length) {
    for (const sc of ['write', 'read']) tp(`A. standalone WS ${sc}s/s at C=64 vs ZooKeeper`, cellOf(ws, sc, 64), cellOf(zk, sc, 64), 1);
    for (const sc of ['write', 'read']) for (const c of concs()) p99(`A. standalone WS ${sc} p99 at C=${c} vs ZooKeeper`, cellOf(ws, sc, c), cellOf(zk, sc, c));
  }
  if (C.zgWs!.some(Boolean) && C.zk!.some(Boolean)) {
    for (const sc of ['write', 'read']) tp(`A. 3-node WS ${sc}s/s at C=64 vs ZooKeeper`, cellOf(C.zgWs!, sc, 64), cellOf(C.zk!, sc, 64), 1);
    for (const sc of ['write', 'read']) for (const c of concs()) p99(`A./B. 3-node WS ${sc} p99 at C=${c} vs ZooKeeper`, cellOf(C.zgWs!, sc, c), cellOf(C.zk!, sc, c));
  }
  if (C.zgRest!.some(Boolean) && C.etcd!.some(Boolean)) {
    for (const c of concs()) tp(`B. 3-node REST writes/s at C=${c} vs etcd HTTP/JSON`, cellOf(C.zgRest!, 'write', c), cellOf(C.etcd!, 'write', c), 1.5);
    for (const c of concs()) tp(`B. 3-node REST local reads/s at C=${c} vs etcd HTTP/JSON serializable`, cellOf(C.zgRest!, 'read', c), cellOf(C.etcdSer!, 'read', c), 1.5);
    for (const c of concs()) tp(`B. 3-node REST linearizable reads/s (?sync=true) at C=${c} vs etcd HTTP/JSON linearizable`, cellOf(C.zgRestSync!, 'read', c), cellOf(C.etcd!, 'read', c), 1.5);
    for (const c of concs()) tp(`B. (for reference) 3-node REST local reads/s at C=${c} vs etcd linearizable (the kit's default)`, cellOf(C.zgRest!, 'read', c), cellOf(C.etcd!, 'read', c), 1.5);
    // the same interface on both sides (HTTP/JSON, one connection per request in flight); the ZooKeeper rows below compare with its binary protocol
    for (const c of concs()) p99(`B. 3-node REST write p99 at C=${c} vs etcd HTTP/JSON`, cellOf(C.zgRest!, 'write', c), cellOf(C.etcd!, 'write', c));
    for (const c of concs()) p99(`B. 3-node REST local read p99 at C=${c} vs etcd HTTP/JSON serializable`, cellOf(C.zgRest!, 'read', c), cellOf(C.etcdSer!, 'read', c));
  }
  if (C.zgRest!.some(Boolean) && C.zk!.some(Boolean)) {
    for (const sc of ['write', 'read']) for (const c of concs()) p99(`B. 3-node REST ${sc} p99 at C=${c} vs ZooKeeper`, cellOf(C.zgRest!, sc, c), cellOf(C.zk!, sc, c));
  }
  for (const [name, docs] of [['ZooGate', C.zgFo!], ['ZooKeeper', C.zkFo!], ['etcd', C.etcdFo!]] as const) {
    const reps = docs.filter(Boolean).flatMap((d) => d?.scenarios?.failover?.runs ?? []);
    if (!reps.length) continue;
    const m = medianOf(reps.map((r: any) => r.recovery_ms));
    rows.push(`| B. failover median, ${name} (${reps.length} reps) | ${fmtInt(m)} ms | | | ≤ 1,000 ms${name === 'ZooGate' ? '' : ' (ZooGate\'s target; for comparison)'} | ${m == null ? '–' : m <= 1000 ? 'met' : name === 'ZooGate' ? '**missed**' : 'over'} |`);
  }
  if (!rows.length) return;
  L.push('## Targets (WebSocket, ensembles)');
  L.push('');
  L.push('| target | ZooGate | comparison | ratio | target | verdict |');
  L.push('|---|---:|---:|---:|---|---|');
  L.push(...rows);
  L.push('');
}

function renderClusterProf(L: string[]) {
  const p = results.cprof;
  if (!p) return;
  L.push('## Where the 3-node write path spends its time (WebSocket, C=64)');
  L.push('');
  L.push(`One more fresh 3-node ZooGate ensemble with every server under \`node --cpu-prof\` (\`ZG_CPU_PROF_DIR\` of \`bench/zoogate-cluster.sh\`), the kit's write scenario over \`zoogate-ws\` at C=64 (client on follower node ${p.follower}, leader node ${p.leader}), no prewarm; the servers stopped with SIGTERM so that node writes the profiles. Profiled run: ${fmtInt(p.run.ops_per_s)} writes/s, p50 ${fmtMs(p.run.p50)} / p99 ${fmtMs(p.run.p99)} ms; CPU % of a core ${Object.entries(p.run.cpu).map(([k, v]) => `${k} ${v}`).join(', ')}. Only the measured window is summarised, as for the standalone profiles.`);
  L.push('');
  for (const role of ['leader', 'follower']) {
    const n = p.nodes[role];
    if (!n) continue;
    L.push(`### ${role} (node ${n.id}: ${n.cpu_pct} % of a core, ${n.us_per_op} µs CPU per write)`);
    L.push('');
    L.push(summaryMarkdown(n.summary as ProfileSummary, 15));
  }
}

function renderMarkdown(): string {
  const m = results.machine;
  const L: string[] = [];
  const zgR: any[] = results.zgRounds.filter(Boolean);
  const zkR: any[] = results.zkRounds.filter(Boolean);
  L.push('# ZooGate vs ZooKeeper (and etcd): benchmarks');
  L.push('');
  L.push(`Written by \`npm run bench\` (bench/run.ts) on ${m.date.slice(0, 16).replace('T', ' ')} UTC, run id \`${RUN_ID}\` (raw JSON in \`.bench/results/${RUN_ID}/\`, not committed). Wall time of the whole run: ${results.wall_s ?? Math.round((Date.now() - t0) / 1000)} s.${FULL ? '' : ` Partial run (parts: ${[...only].join(', ')}).`}`);
  L.push('');
  L.push('## Machine');
  L.push('');
  L.push(`| | |\n|---|---|\n| CPUs (nproc) | ${m.nproc} |\n| CPU model | ${m.cpu_model} |\n| memory | ${m.mem_gib} GiB |\n| kernel | ${m.kernel} |\n| node | ${m.node} |\n| java | ${m.java ?? '–'} |\n| ZooKeeper | ${m.zookeeper ?? '–'} (Debian package) |\n| ZooGate commit | ${m.zoogate_commit ?? '–'} ${results.source ? (results.source.source === 'head' ? '(a `git archive` of this commit in `.bench/zoogate-src`, run from there: edits others make in the checkout during the run do not reach the servers)' : '(the working tree, copied to `.bench/zoogate-src` at the start)') : '(+ working tree)'} |\n| date | ${m.date} |`);
  L.push('');
  L.push('## How it was measured');
  L.push('');
  L.push(`- Load generator: the anchor kit's \`bench/run.mjs\` (copied to \`.bench/anchors-kit\`), closed loop, C workers each with one request in flight; 1,000 keys \`/bench/k00000…\` with 128-byte values created in setup; ${results.settings.prewarm_s} s un-recorded 50/50 prewarm, then per run ${results.settings.warmup_s} s warm-up + ${results.settings.duration_s} s measured (the kit's default is 10 s; shorter windows let each system run twice, alternating, in the time budget). Mixed is 90 % get / 10 % put at C=64 only (the kit's default). Before each run the kit waits up to ${results.settings.quiet_wait_s} s for other processes to go quiet; a run during which other processes used > 10 % of a core is repeated (up to ${args.attempts} attempts in all) and the cleanest attempt is kept.`);
  L.push(`- ZooGate: \`node --import tsx api/main.ts server\` standalone, fresh data dir, \`--log-level info\` (lifecycle lines only: restore, role, snapshots, stop; nothing per request) so that an unexpected stop is explained in the log; adapter \`bench/adapters/zoogate-rest.mjs\` (undici keep-alive Pool with one connection per in-flight request; put = \`PUT /znodes/k?version=-1\` with the raw body; get = \`GET /znodes/k\` with \`Accept: application/octet-stream\`).`);
  L.push(`- ZooKeeper: 3.8 standalone via the kit's \`zk-cluster.sh standalone-start\` (upstream defaults, fsync on, -Xmx512m), kit adapter \`zk.mjs\` (node-zookeeper-client, one pipelined session).`);
  L.push('- Both log every write durably before answering (ZooGate: SQLite WAL with synchronous=FULL, group commit; ZooKeeper: txn log fsync, group commit). One system runs at a time; server and client share the 2 cores.');
  for (const n of results.notes) L.push(`- Note: ${n}`);
  L.push('');

  if (zgR.length || zkR.length) {
    L.push('## Throughput and latency');
    L.push('');
    L.push(`${Math.max(zgR.length, zkR.length)} rounds, alternating ZooGate and ZooKeeper (each round a fresh server with a fresh data dir). Figures are means over the rounds; the per-round ratio compares the ZooGate and ZooKeeper runs adjacent in time.`);
    L.push('');
    L.push('| scenario | C | ZooGate ops/s | p50 ms | p99 ms | ZooKeeper ops/s | p50 ms | p99 ms | **ZooGate / ZooKeeper** (per round) | server CPU % of a core ZG / ZK | client CPU % ZG / ZK | other processes\' CPU % ZG / ZK (max) |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|');
    const rows: Array<[string, number]> = [];
    for (const sc of args.scenarios!.split(',')) {
      const cs = new Set<number>();
      for (const d of [...zgR, ...zkR]) for (const r of d?.scenarios?.[sc]?.runs ?? []) cs.add(r.concurrency);
      for (const c of [...cs].sort((a, b) => a - b)) rows.push([sc, c]);
    }
    const mean = (xs: Array<number | null | undefined>) => { const v = xs.filter((x): x is number => typeof x === 'number'); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };
    const agg = (docs: any[], sc: string, c: number, who: string) => {
      const rs = docs.map((d) => runOf(d, sc, c));
      return {
        per: rs.map((r) => r?.ops_per_s ?? null),
        ops: mean(rs.map((r) => r?.ops_per_s)),
        p50: mean(rs.map((r) => r?.latency_ms?.p50)),
        p99: mean(rs.map((r) => r?.latency_ms?.p99)),
        srv: mean(rs.map((r) => r?.cpu?.pct_of_one_core?.[who])),
        cli: mean(rs.map((r) => r?.cpu?.pct_of_one_core?.client)),
        oth: Math.max(...rs.map((r) => r?.cpu?.other_processes_pct_of_one_core ?? -1)),
      };
    };
    const table: Record<string, { a: ReturnType<typeof agg>; b: ReturnType<typeof agg> }> = {};
    const n0 = (x: number | null) => (x == null ? '–' : String(Math.round(x)));
    for (const [sc, c] of rows) {
      const a = agg(zgR, sc, c, 'zoogate');
      const b = agg(zkR, sc, c, 'zookeeper');
      table[`${sc}${c}`] = { a, b };
      const perRound = a.per.map((x, i) => ratio(x ?? undefined, b.per[i] ?? undefined)).join(', ');
      L.push(`| ${sc} | ${c} | ${fmtInt(a.ops)} | ${fmtMs(a.p50)} | ${fmtMs(a.p99)} | ${fmtInt(b.ops)} | ${fmtMs(b.p50)} | ${fmtMs(b.p99)} | **${ratio(a.ops ?? undefined, b.ops ?? undefined)}** (${perRound}) | ${n0(a.srv)} / ${n0(b.srv)} | ${n0(a.cli)} / ${n0(b.cli)} | ${a.oth < 0 ? '–' : Math.round(a.oth)} / ${b.oth < 0 ? '–' : Math.round(b.oth)} |`);
    }
    L.push('');
    L.push('Per round, ops/s:');
    L.push('');
    const nr = Math.max(zgR.length, zkR.length);
    L.push(`| scenario | C | ${Array.from({ length: nr }, (_, i) => `ZooGate r${i + 1} | ZooKeeper r${i + 1}`).join(' | ')} |`);
    L.push(`|---|---:|${'---:|'.repeat(2 * nr)}`);
    for (const [sc, c] of rows) {
      const { a, b } = table[`${sc}${c}`]!;
      L.push(`| ${sc} | ${c} | ${Array.from({ length: nr }, (_, i) => `${fmtInt(a.per[i])} | ${fmtInt(b.per[i])}`).join(' | ')} |`);
    }
    L.push('');
    if (results.fsync.length) {
      L.push(`Disk: 4 KiB write + fdatasync for 1 s in \`.bench/\` before each round (the servers' log sits on this disk, shared with the other sessions): ${results.fsync.map((f: any) => `${f.label.replace('before ', '')} p50 ${f.p50_ms} ms / p99 ${f.p99_ms} ms`).join('; ')}.`);
      L.push('');
    }
    const all = [...zgR, ...zkR];
    const errs = all.flatMap((d) => Object.entries(d?.scenarios ?? {}).flatMap(([sc, v]: [string, any]) => (v.runs ?? []).filter((r: any) => r.errors).map((r: any) => `${d.label} ${sc} C=${r.concurrency}: ${r.errors} errors ${JSON.stringify(r.error_kinds)}`)));
    L.push(errs.length ? `Errors: ${errs.join('; ')}` : 'No request failed in any measured run.');
    const other = all.flatMap((d) => Object.entries(d?.scenarios ?? {}).flatMap(([sc, v]: [string, any]) => (v.runs ?? []).map((r: any) => ({ l: `${d.label} ${sc} C=${r.concurrency}`, o: r.cpu?.other_processes_pct_of_one_core, n: r.attempts?.length ?? 1 }))));
    const noisy = other.filter((x) => x.o > 10);
    const repeated = other.filter((x) => x.n > 1).length;
    L.push(noisy.length
      ? `**Foreign load**: in ${noisy.length} of ${other.length} runs even the cleanest of the attempts saw other processes use more than 10 % of a core (${noisy.map((x) => `${x.l}: ${Math.round(x.o)} %`).join(', ')}); the box is shared with other sessions' test suites. ${repeated} runs needed more than one attempt.`
      : `The kept attempt of every run saw other processes use at most 10 % of a core (${repeated} of ${other.length} runs needed more than one attempt).`);
    L.push('');
    if (zgR.length && zkR.length) {
      L.push('### Targets');
      L.push('');
      L.push('Issue target: "REST reads/s and writes/s at 64 in flight at least half of standalone ZooKeeper\'s".');
      L.push('');
      L.push('| | ZooGate | ZooKeeper | ratio (per round) | target ≥ 0.50 |');
      L.push('|---|---:|---:|---:|---|');
      for (const sc of ['read', 'write']) {
        const t = table[`${sc}64`];
        if (!t) continue;
        const r = t.a.ops && t.b.ops ? t.a.ops / t.b.ops : null;
        const per = t.a.per.map((x, i) => (x && t.b.per[i] ? x / t.b.per[i]! : null));
        const verdict = r == null ? '–' : r >= 0.5 && per.every((x) => x == null || x >= 0.5) ? 'met' : r >= 0.5 ? 'met on the mean, not in every round' : '**not met**';
        L.push(`| ${sc}s/s at C=64 | ${fmtInt(t.a.ops)} | ${fmtInt(t.b.ops)} | ${r == null ? '–' : r.toFixed(2)} (${per.map((x) => (x == null ? '–' : x.toFixed(2))).join(', ')}) | ${verdict} |`);
      }
      L.push('');
    }
  }

  if (results.getab?.length) {
    L.push('### GET: raw bytes vs JSON');
    L.push('');
    L.push(`Same server, right after the runs above. Two adapters, \`get=raw\` (\`Accept: application/octet-stream\`: body = the data, version parsed from the \`Zoogate-Stat\` header) and \`get=json\` (default \`{"path","data","encoding","stat"}\`, data decoded by the client), read the same 1,000 keys with C requests in flight, switching every second (the first 50 ms of each slice not counted), ${args['getab-seconds']} s at C=64 and half that at C=1, after a 2 s warm-up. Interleaving makes drift and other sessions' load hit both alike. CPU per read = CPU time of the server process / of the client process over the mode's slices ÷ reads completed in them (server from /proc in 10 ms ticks).`);
    L.push('');
    L.push('| GET | C | reads/s | p50 ms | p99 ms | server CPU µs/read | client CPU µs/read |');
    L.push('|---|---:|---:|---:|---:|---:|---:|');
    const all = (results.getab as any[]).flat();
    for (const r of all) L.push(`| ${r.mode} | ${r.concurrency} | ${fmtInt(r.ops_per_s)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${r.server_us_per_op} | ${r.client_us_per_op} |`);
    L.push('');
    const r64 = all.find((x) => x.mode === 'raw' && x.concurrency === 64);
    const j64 = all.find((x) => x.mode === 'json' && x.concurrency === 64);
    if (r64 && j64) {
      const rt = r64.server_us_per_op + r64.client_us_per_op;
      const jt = j64.server_us_per_op + j64.client_us_per_op;
      const diff = Math.abs(rt - jt) / Math.max(rt, jt);
      L.push(`At C=64: raw ${r64.server_us_per_op} µs server + ${r64.client_us_per_op} µs client per read, JSON ${j64.server_us_per_op} + ${j64.client_us_per_op} µs; ${diff < 0.05 ? `a difference of ${(diff * 100).toFixed(1)} %, i.e. **no real difference**` : `**${rt < jt ? 'raw' : 'JSON'} is cheaper** by ${(diff * 100).toFixed(0)} % of CPU per read`} (throughput raw ${fmtInt(r64.ops_per_s)} vs JSON ${fmtInt(j64.ops_per_s)} reads/s). The Stat is serialised as JSON either way; raw saves encoding 128 bytes of data into the JSON string, but adds a 230-byte header that node validates character by character and the client parses.`);
      L.push('');
    }
  }

  renderWs(L);
  renderCluster(L);
  renderWatches(L);
  renderNewTargets(L);

  if (results.memzg || results.memzk) {
    L.push('## Memory and restart');
    L.push('');
    const g = results.memzg;
    const k = results.memzk;
    L.push('| | ZooGate | ZooKeeper |');
    L.push('|---|---:|---:|');
    const gz = g?.znodes;
    const kz = k?.znodes;
    L.push(`| znodes × data | ${fmtInt(gz)} × ${g?.data_bytes ?? '–'} B | ${fmtInt(kz)} × ${k?.data_bytes ?? '–'} B |`);
    L.push(`| path example | \`${g?.path_example ?? '–'}\` | \`${k?.path_example ?? '–'}\` |`);
    L.push(`| load | ${g ? `POST /multi, ${g.batch} creates each, 4 in flight: ${fmtInt(g.steps.loaded.load_ms)} ms (${fmtInt(g.steps.loaded.creates_per_s)} creates/s)` : '–'} | ${k ? `single creates, 64 in flight: ${fmtInt(k.steps.loaded.load_ms)} ms (${fmtInt(k.steps.loaded.creates_per_s)} creates/s)` : '–'} |`);
    L.push(`| RSS empty server | ${g ? `${g.steps.empty.rss_mib} MiB` : '–'} | ${k ? `${k.steps.empty.rss_mib.toFixed(1)} MiB` : '–'} |`);
    L.push(`| RSS after load | ${g ? `${g.steps.loaded.rss_mib} MiB` : '–'} | ${k ? `${k.steps.loaded.rss_mib.toFixed(1)} MiB (${k.heap_flags})` : '–'} |`);
    const zkPer = k ? Math.round(((k.steps.loaded.rss_mib - k.steps.empty.rss_mib) * 1048576) / kz) : null;
    const zkHeapPer = k?.steps.loaded.heap_used_after_full_gc_mib != null ? Math.round(((k.steps.loaded.heap_used_after_full_gc_mib - k.steps.empty.heap_used_after_full_gc_mib) * 1048576) / kz) : null;
    L.push(`| **bytes per znode** (RSS after load − RSS empty) / N | **${fmtInt(g?.bytes_per_znode)}** | **${fmtInt(zkPer)}** (live heap after full GC: ${fmtInt(zkHeapPer)}) |`);
    if (g) {
      const rl = Math.round(((g.steps.restart1_log_replay.rss_mib - g.steps.empty.rss_mib) * 1048576) / gz);
      L.push(`| RSS after restart from the log (bytes/znode) | ${g.steps.restart1_log_replay.rss_mib} MiB (${fmtInt(rl)}) | ${k ? `${k.steps.restart1?.rss_mib?.toFixed(1)} MiB` : '–'} |`);
      const rp = Math.round(((g.steps.restart2_snapshot.rss_mib - g.steps.empty.rss_mib) * 1048576) / gz);
      L.push(`| RSS after restart from snapshot (bytes/znode) | ${g.steps.restart2_snapshot.rss_mib} MiB (${fmtInt(rp)}) | ${k ? `${k.steps.restart2?.rss_mib?.toFixed(1)} MiB` : '–'} |`);
    }
    const gFiles = (fs: Array<{ file: string; bytes: number }>) => fs.map((f) => `${f.file} ${(f.bytes / 1048576).toFixed(1)} MB`).join(', ');
    const kFiles = (fs: Array<{ file: string; apparent_bytes: number; allocated_bytes: number }>) => {
      const logs = fs.filter((f) => f.file.startsWith('log.'));
      const snaps = fs.filter((f) => f.file.startsWith('snapshot.')).sort((a, b) => b.apparent_bytes - a.apparent_bytes);
      const sum = (xs: typeof fs, k: 'apparent_bytes' | 'allocated_bytes') => (xs.reduce((t, f) => t + f[k], 0) / 1048576).toFixed(0);
      return `${logs.length} txn logs (${sum(logs, 'allocated_bytes')} MB allocated, preallocated in 64 MB steps), ${snaps.length} snapshots (${sum(snaps, 'apparent_bytes')} MB; newest/largest ${snaps[0] ? (snaps[0].apparent_bytes / 1048576).toFixed(1) : '–'} MB)`;
    };
    L.push(`| files after load | ${g ? gFiles(g.steps.loaded.files) : '–'} | ${k ? kFiles(k.steps.loaded.files) : '–'} |`);
    L.push(`| snapshot | ${g ? `${((g.steps.snapshot.bytes ?? 0) / 1048576).toFixed(1)} MB written in ${fmtInt(g.steps.snapshot.ms)} ms (files then: ${gFiles(g.steps.snapshot.files)})` : '–'} | ${k ? `files after the restarts: ${kFiles(k.steps.restart4?.files ?? k.steps.restart2?.files ?? [])} (ZooKeeper snapshots every ~100k txns and at start-up; no autopurge by default)` : '–'} |`);
    L.push(`| restart from the log (kill -9 → ready) | ${g ? `${fmtInt(g.steps.restart1_log_replay.ms_from_spawn_to_ready)} ms (server restore ${fmtInt(g.steps.restart1_log_replay.server_restore_ms)} ms, ${fmtInt(g.steps.restart1_log_replay.replayed_txns)} txns replayed)` : '–'} | ${k ? `${fmtInt(k.steps.restart1.ms_from_spawn_to_first_read)} ms (graceful stop; txn-log replay)` : '–'} |`);
    L.push(`| restart from a snapshot (kill -9 → ready) | ${g ? `${fmtInt(g.steps.restart2_snapshot.ms_from_spawn_to_ready)} / ${fmtInt(g.steps.restart3_snapshot.ms_from_spawn_to_ready)} ms (server restore ${fmtInt(g.steps.restart2_snapshot.server_restore_ms)} / ${fmtInt(g.steps.restart3_snapshot.server_restore_ms)} ms)` : '–'} | ${k ? `${[2, 3, 4].map((i) => fmtInt(k.steps[`restart${i}`]?.ms_from_spawn_to_first_read)).join(' / ')} ms (graceful stop)` : '–'} |`);
    L.push(`| empty server start (baseline) | ${g ? `${fmtInt(g.steps.empty_start1.ms_from_spawn_to_ready)} / ${fmtInt(g.steps.empty_start2.ms_from_spawn_to_ready)} ms` : '–'} | ${k ? `${fmtInt(k.steps.empty_start?.ms_from_spawn_to_first_read)} / ${fmtInt(k.steps.empty_start2?.ms_from_spawn_to_first_read)} ms` : '–'} |`);
    L.push('');
    L.push('ZooGate restart time is from spawning `node --import tsx api/main.ts server` to the first `GET /ready` answered 200 (the tree is restored before the port opens, so the last znode is readable then; checked). "server restore" is the server\'s own log figure for reading snapshot + log. The load is N/batch multi transactions, far under `--snapshot-every` (100,000 txns), so restart 1 replays every znode from the log; for the snapshot restarts the server was started once with `--snapshot-every 1` and given one write, then killed with SIGKILL after the snapshot was written. ZooKeeper figures are the kit\'s `zk-memtest.mjs` (time from spawning the JVM to a successful read of the last znode; restart 1 replays its txn log, restarts 2-4 load the snapshot ZooKeeper takes at start-up).');
    L.push('');
  }

  if (results.prof) {
    L.push('## Where ZooGate\'s time goes (CPU profile, C=64)');
    L.push('');
    L.push('One extra run per scenario at C=64 with the server under `node --cpu-prof --cpu-prof-dir=.bench/prof/…` (fresh data dir, no prewarm; stopped with SIGTERM so node writes the profile). Only the samples of the measured window are summarised (located from the end of the profile; start-up, key setup and warm-up are left out). Aggregated by `bench/cpuprofile-summary.ts`: self time by function + script (tsx serves the project’s files transformed onto one line, so no line numbers for them); inclusive time counts a function once per sample. Native work shows under the JS function that called it: SQLite’s commit including its fsync is the self time of better-sqlite3’s `sqliteTransaction`, socket writes are `writev`. `__name` is the helper tsx/esbuild (keepNames) calls for every function or closure it names at run time: an artefact of running the TypeScript through tsx, absent from a tsc/esbuild build without keepNames.');
    L.push('');
    for (const [scn, p] of Object.entries(results.prof) as Array<[string, any]>) {
      L.push(`### ${scn} (profiled run: ${fmtInt(p.run.ops_per_s)} ops/s, server ${p.run.server_cpu_pct} % of a core, ${p.run.server_us_per_op} µs server CPU per op)`);
      L.push('');
      L.push(summaryMarkdown(p.summary as ProfileSummary, 15));
    }
  }
  renderClusterProf(L);
  renderGen(L);
  renderLogSync(L);
  renderDirectCommit(L);
  return L.join('\n') + '\n';
}

// ------------------------------------------------------------------ main

async function main() {
  if (args.render) {
    Object.assign(results, JSON.parse(readFileSync(join(OUT, 'summary.json'), 'utf8')));
    const md = renderMarkdown();
    writeFileSync(join(OUT, 'RESULTS.md'), md);
    if (args['results-md']) writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), md);
    log(`rendered ${join(OUT, 'RESULTS.md')}`);
    return;
  }
  results.machine = machine();
  const src = prepareSource();
  results.source = { ...src, dir: SRC };
  results.machine.zoogate_commit = src.commit.slice(0, 7);
  log(`ZooGate under test: ${src.source === 'head' ? `commit ${src.commit} (git archive)` : `the working tree at ${src.commit}`} in ${SRC}${src.dirty.length ? `; working-tree changes ${src.source === 'head' ? 'left out' : 'included'}: ${src.dirty.join(', ')}` : ''}`);
  log(`run ${RUN_ID}: parts ${[...only].join(',')}; machine ${JSON.stringify(results.machine)}`);
  const { patched } = prepareKit();
  results.kit = { source: SHARED_KIT, copy: KIT, patched_for_port: patched };
  const step = async (name: string, fn: () => Promise<void>, label = name) => {
    if (!only.has(name)) return;
    const ts = Date.now();
    try {
      await fn();
    } catch (e) {
      log(`part ${label} failed:`, (e as Error).stack);
      results.notes.push(`part ${label} failed: ${(e as Error).message}`);
    }
    results[`${label}_wall_s`] = Math.round((Date.now() - ts) / 1000);
    log(`part ${label} done in ${results[`${label}_wall_s`]} s`);
  };
  for (let r = 1; r <= Number(args.rounds); r++) {
    await step('zg', async () => { fsyncProbe(`before ZooGate round ${r}`); await partZoogateRest(r); }, `zg_r${r}`);
    await step('ws', async () => { fsyncProbe(`before ZooGate WebSocket round ${r}`); await partZoogateWs(r); }, `ws_r${r}`);
    await step('zk', async () => { fsyncProbe(`before ZooKeeper round ${r}`); await partZk(r); }, `zk_r${r}`);
  }
  for (let r = 1; r <= Number(args['cluster-rounds']); r++) {
    await step('zg3', () => partZg3(r), `zg3_r${r}`);
    await step('zk3', () => partZk3(r), `zk3_r${r}`);
    await step('etcd3', () => partEtcd3(r), `etcd3_r${r}`);
  }
  await step('wl', partWatchLatency);
  await step('fanzg', partFanoutZg);
  await step('fanzk', partFanoutZk);
  await step('cprof', partClusterProf);
  await step('gen', partGen);
  await step('logsync', partLogSync);
  await step('direct', partDirectCommit);
  await step('prof', partProf);
  await step('memzg', partMemZoogate);
  await step('memzk', partMemZk);
  results.finished = new Date().toISOString();
  results.wall_s = Math.round((Date.now() - t0) / 1000);
  writeFileSync(join(OUT, 'summary.json'), JSON.stringify(results, null, 2));
  const md = renderMarkdown();
  writeFileSync(join(OUT, 'RESULTS.md'), md);
  process.stdout.write(md);
  if (FULL || args['results-md']) {
    writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), md);
    log('wrote bench/RESULTS.md');
  } else {
    log(`partial run: report in ${join(OUT, 'RESULTS.md')} (bench/RESULTS.md untouched; --results-md writes it)`);
  }
  log(`done in ${Math.round((Date.now() - t0) / 1000)} s; raw results in ${OUT}`);
}

main()
  .catch((e) => {
    log('failed:', e.stack ?? e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    keepAlive.destroy();
    setTimeout(() => process.exit(), 200).unref();
  });
