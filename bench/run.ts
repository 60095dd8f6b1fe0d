/**
 * `npm run bench`: ZooGate standalone side by side with standalone ZooKeeper 3.8, measured with the
 * anchor kit (/work/shared/anchors) in one session, one system at a time. Writes bench/RESULTS.md
 * (full runs) and keeps raw JSON under .bench/results/<run id>/.
 *
 *   npm run bench                              # everything (~12-15 min)
 *   npm run bench -- --only zg,zk              # parts: zg (ZooGate REST + GET raw/JSON A/B), zk, prof, mem (zg + zk),
 *                                              #        memzg, memzk; "rest" = zg,zk
 *   npm run bench -- --duration 5 --only zg    # shorter measured windows (seconds; kit default 10)
 *   npm run bench -- --mem-znodes 200000       # memory/restart test size (default 1,000,000)
 *   npm run bench -- --results-md              # write bench/RESULTS.md from a partial run too
 *   --quiet-wait S (10): before each measured run, wait up to S s for other processes to go quiet;
 *   --attempts N (3): repeat a run whose window saw > 10 % of a core used by other processes.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import http from 'node:http';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { summarise, summaryMarkdown, type ProfileSummary } from './cpuprofile-summary.ts';

const execFileP = promisify(execFile);
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SHARED_KIT = '/work/shared/anchors';
const SCRATCH = join(ROOT, '.bench');
const KIT = join(SCRATCH, 'anchors-kit');
const KIT_BENCH = join(KIT, 'bench');
const ZK_SCRIPT = join(KIT, 'zk-cluster.sh');

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'zg,zk,prof,mem' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    prewarm: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,16,64' },
    scenarios: { type: 'string', default: 'write,read,mixed' },
    'quiet-wait': { type: 'string', default: '10' },
    attempts: { type: 'string', default: '3' },
    'mem-znodes': { type: 'string', default: '1000000' },
    'zk-mem-znodes': { type: 'string' },
    'mem-batch': { type: 'string', default: '1000' },
    'getcmp-rounds': { type: 'string', default: '3' },
    'results-md': { type: 'boolean', default: false },
  },
});

const only = new Set(args.only!.split(',').flatMap((p) => (p === 'rest' ? ['zg', 'zk'] : p === 'mem' ? ['memzg', 'memzk'] : [p])));
for (const p of only) if (!['zg', 'zk', 'prof', 'memzg', 'memzk'].includes(p)) throw new Error(`unknown part ${p} (zg, zk, rest, prof, mem, memzg, memzk)`);
const FULL = ['zg', 'zk', 'prof', 'memzg', 'memzk'].every((p) => only.has(p));
const RUN_ID = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
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

function prepareKit(): { patched: string[] } {
  if (!existsSync(SHARED_KIT)) throw new Error(`anchor kit not found at ${SHARED_KIT}`);
  mkdirSync(KIT, { recursive: true });
  // refresh the kit's files (keeps an existing bench/node_modules)
  cpSync(SHARED_KIT, KIT, { recursive: true, force: true });
  if (!existsSync(join(KIT_BENCH, 'node_modules'))) {
    log('npm install in the kit copy', KIT_BENCH);
    execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: KIT_BENCH, stdio: 'inherit' });
  }
  cpSync(join(ROOT, 'bench', 'adapters', 'zoogate-rest.mjs'), join(KIT_BENCH, 'adapters', 'zoogate-rest.mjs'));
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
  return { patched };
}

interface KitRun {
  label: string;
  file: string;
  json: any;
}

async function runKit(opts: { target: string; port: number; pids: Record<string, number>; label: string; scenarios: string; concurrency?: string; duration?: string; warmup?: string; prewarm?: string; extra?: string[] }): Promise<KitRun> {
  const file = join(OUT, `${opts.label}.json`);
  const a = [
    'run.mjs', '--target', opts.target, '--endpoints', `127.0.0.1:${opts.port}`,
    '--pids', Object.entries(opts.pids).map(([k, v]) => `${k}:${v}`).join(','),
    '--label', opts.label, '--scenarios', opts.scenarios,
    '--concurrency', opts.concurrency ?? args.concurrency!,
    '--duration', opts.duration ?? args.duration!, '--warmup', opts.warmup ?? args.warmup!,
    '--prewarm', opts.prewarm ?? args.prewarm!, '--quiet-wait', args['quiet-wait']!, '--attempts', args.attempts!,
    '--out', file, ...(opts.extra ?? []),
  ];
  log(`kit: node ${a.join(' ')}`);
  await new Promise<void>((res, rej) => {
    const p = spawn(process.execPath, a, { cwd: KIT_BENCH, stdio: ['ignore', 'inherit', 'pipe'] });
    p.stderr!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.trim()) process.stderr.write(`    ${opts.label}: ${line}\n`);
    });
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`run.mjs ${opts.label} exited ${code}`))));
  });
  return { label: opts.label, file, json: JSON.parse(readFileSync(file, 'utf8')) };
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
    [...(o.nodeArgs ?? []), '--import', 'tsx', 'api/main.ts', 'server', '--port', String(port), '--host', '127.0.0.1', '--data-dir', o.dataDir, '--log-level', o.logLevel ?? 'error', ...(o.serverArgs ?? [])],
    { cwd: ROOT, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
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

async function stopZoogate(z: Zg, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (z.proc.exitCode !== null || z.proc.signalCode !== null) return;
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
  return { port, note: `port 2191 was taken by a process this bench did not start; ZooKeeper ran on ${port} (the kit's scripts were given ZK_STANDALONE_PORT)` };
}

// ------------------------------------------------------------------ parts

const results: any = {
  run_id: RUN_ID,
  started: new Date().toISOString(),
  parts: [...only],
  settings: { duration_s: Number(args.duration), warmup_s: Number(args.warmup), prewarm_s: Number(args.prewarm), concurrency: args.concurrency, scenarios: args.scenarios, quiet_wait_s: Number(args['quiet-wait']) },
  notes: [] as string[],
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

async function partZoogateRest() {
  const dataDir = join(SCRATCH, 'zg-data');
  rmSync(dataDir, { recursive: true, force: true });
  const z = await startZoogate({ dataDir, logFile: join(OUT, 'zoogate-rest.log') });
  started.push(z);
  log(`ZooGate pid ${z.pid} on ${z.port} ready in ${z.readyMs} ms`);
  try {
    const main = await runKit({ target: 'zoogate-rest', port: z.port, pids: { zoogate: z.pid }, label: 'zoogate-standalone', scenarios: args.scenarios! });
    results.zg = main.json;
    // GET: raw bytes (Accept: application/octet-stream) vs the JSON document, alternating on the same server
    const rounds = Number(args['getcmp-rounds']);
    const cmp: any[] = [];
    for (let i = 1; i <= rounds; i++) {
      for (const mode of i % 2 ? ['json', 'raw'] : ['raw', 'json']) {
        const r = await runKit({ target: 'zoogate-rest', port: z.port, pids: { zoogate: z.pid }, label: `zoogate-get-${mode}-${i}`, scenarios: 'read', concurrency: '1,64', duration: '3', warmup: '1', prewarm: '0', extra: ['--opt', `get=${mode}`] });
        for (const run of r.json.scenarios.read.runs) cmp.push({ mode, round: i, ...pick(run, 'zoogate') });
      }
    }
    results.getcmp = cmp;
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

async function partZk() {
  const why = zkAvailable();
  if (why) {
    log(`ZooKeeper not available (${why}): install it with  apt-get update && apt-get install -y zookeeper  (continuing with ZooGate alone)`);
    results.notes.push(`ZooKeeper was not measured: ${why}. Install it with \`apt-get install -y zookeeper\`.`);
    return;
  }
  const { port, note } = await zkPort();
  if (note) results.notes.push(note);
  const base = join(SCRATCH, 'zk');
  rmSync(base, { recursive: true, force: true });
  zkToStop.push({ base, port });
  log(await zkCmd('standalone-start', base, port));
  const pid = Number(readFileSync(join(base, 'standalone', 'pid'), 'utf8'));
  try {
    await sleep(2000);
    const r = await runKit({ target: 'zk', port, pids: { zookeeper: pid }, label: 'zk-standalone', scenarios: args.scenarios! });
    results.zk = r.json;
  } finally {
    log(await zkCmd('standalone-stop', base, port));
    zkToStop = zkToStop.filter((z) => z.base !== base);
  }
}

async function partProf() {
  const prof: Record<string, any> = {};
  for (const scn of ['write', 'read']) {
    const dataDir = join(SCRATCH, 'zg-prof-data');
    const profDir = join(SCRATCH, 'prof', RUN_ID, scn);
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    const z = await startZoogate({ dataDir, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`], logFile: join(OUT, `zoogate-prof-${scn}.log`) });
    started.push(z);
    let run: any;
    let kitExit = 0;
    let sigterm = 0;
    try {
      const r = await runKit({ target: 'zoogate-rest', port: z.port, pids: { zoogate: z.pid }, label: `zoogate-prof-${scn}`, scenarios: scn, concurrency: '64', prewarm: '0' });
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
  results.prof = prof;
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

function renderMarkdown(): string {
  const m = results.machine;
  const L: string[] = [];
  const zg = results.zg;
  const zk = results.zk;
  L.push('# ZooGate vs ZooKeeper: standalone benchmark');
  L.push('');
  L.push(`Written by \`npm run bench\` (bench/run.ts) on ${m.date.slice(0, 16).replace('T', ' ')} UTC, run id \`${RUN_ID}\` (raw JSON in \`.bench/results/${RUN_ID}/\`, not committed). Wall time of the whole run: ${Math.round((Date.now() - t0) / 1000)} s.${FULL ? '' : ` Partial run (parts: ${[...only].join(', ')}).`}`);
  L.push('');
  L.push('## Machine');
  L.push('');
  L.push(`| | |\n|---|---|\n| CPUs (nproc) | ${m.nproc} |\n| CPU model | ${m.cpu_model} |\n| memory | ${m.mem_gib} GiB |\n| kernel | ${m.kernel} |\n| node | ${m.node} |\n| java | ${m.java ?? '–'} |\n| ZooKeeper | ${m.zookeeper ?? '–'} (Debian package) |\n| ZooGate commit | ${m.zoogate_commit ?? '–'} (+ working tree) |\n| date | ${m.date} |`);
  L.push('');
  L.push('## How it was measured');
  L.push('');
  L.push(`- Load generator: the anchor kit's \`bench/run.mjs\` (copied to \`.bench/anchors-kit\`), closed loop, C workers each with one request in flight; 1,000 keys \`/bench/k00000…\` with 128-byte values created in setup; ${results.settings.prewarm_s} s un-recorded 50/50 prewarm, then per run ${results.settings.warmup_s} s warm-up + ${results.settings.duration_s} s measured. Mixed is 90 % get / 10 % put at C=64 only (the kit's default). Before each run the kit waits up to ${results.settings.quiet_wait_s} s for other processes to go quiet; a run during which other processes used > 10 % of a core is repeated (up to ${args.attempts} attempts in all) and the cleanest attempt is kept.`);
  L.push(`- ZooGate: \`node --import tsx api/main.ts server\` standalone, fresh data dir, \`--log-level error\`; adapter \`bench/adapters/zoogate-rest.mjs\` (undici keep-alive Pool with one connection per in-flight request; put = \`PUT /znodes/k?version=-1\` with the raw body; get = \`GET /znodes/k\` with \`Accept: application/octet-stream\`).`);
  L.push(`- ZooKeeper: 3.8 standalone via the kit's \`zk-cluster.sh standalone-start\` (upstream defaults, fsync on, -Xmx512m), kit adapter \`zk.mjs\` (node-zookeeper-client, one pipelined session).`);
  L.push('- Both log every write durably before answering (ZooGate: SQLite WAL with synchronous=FULL, group commit; ZooKeeper: txn log fsync, group commit). One system runs at a time; server and client share the 2 cores.');
  for (const n of results.notes) L.push(`- Note: ${n}`);
  L.push('');

  if (zg || zk) {
    L.push('## Throughput and latency');
    L.push('');
    L.push('| scenario | C | ZooGate ops/s | p50 ms | p99 ms | ZooKeeper ops/s | p50 ms | p99 ms | ZooGate / ZooKeeper ops/s | server CPU % of a core ZG / ZK | client CPU % ZG / ZK |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const rows: Array<[string, number]> = [];
    for (const s of args.scenarios!.split(',')) {
      const cs = new Set<number>();
      for (const d of [zg, zk]) for (const r of d?.scenarios?.[s]?.runs ?? []) cs.add(r.concurrency);
      for (const c of [...cs].sort((a, b) => a - b)) rows.push([s, c]);
    }
    for (const [s, c] of rows) {
      const a = runOf(zg, s, c);
      const b = runOf(zk, s, c);
      const cpu = (r: any, k: string) => (r?.cpu?.pct_of_one_core?.[k] == null ? '–' : Math.round(r.cpu.pct_of_one_core[k]));
      L.push(`| ${s} | ${c} | ${fmtInt(a?.ops_per_s)} | ${fmtMs(a?.latency_ms?.p50)} | ${fmtMs(a?.latency_ms?.p99)} | ${fmtInt(b?.ops_per_s)} | ${fmtMs(b?.latency_ms?.p50)} | ${fmtMs(b?.latency_ms?.p99)} | **${ratio(a?.ops_per_s, b?.ops_per_s)}** | ${cpu(a, 'zoogate')} / ${cpu(b, 'zookeeper')} | ${cpu(a, 'client')} / ${cpu(b, 'client')} |`);
    }
    const errs = [zg, zk].flatMap((d) => Object.entries(d?.scenarios ?? {}).flatMap(([s, v]: [string, any]) => (v.runs ?? []).filter((r: any) => r.errors).map((r: any) => `${d.label} ${s} C=${r.concurrency}: ${r.errors} errors ${JSON.stringify(r.error_kinds)}`)));
    L.push('');
    L.push(errs.length ? `Errors: ${errs.join('; ')}` : 'No request failed in any measured run.');
    const other = [zg, zk].flatMap((d) => Object.entries(d?.scenarios ?? {}).flatMap(([s, v]: [string, any]) => (v.runs ?? []).map((r: any) => ({ l: `${d.label} ${s} C=${r.concurrency}`, o: r.cpu?.other_processes_pct_of_one_core, n: r.attempts?.length ?? 1 }))));
    const noisy = other.filter((x) => x.o > 10 || x.n > 1);
    L.push(noisy.length ? `Foreign load: ${noisy.map((x) => `${x.l} kept attempt with ${x.o} % of a core used by other processes (${x.n} attempts)`).join('; ')}.` : 'Foreign load stayed under 10 % of a core in every measured run.');
    L.push('');
    if (zg && zk) {
      L.push('### Targets');
      L.push('');
      L.push('Issue target: "REST reads/s and writes/s at 64 in flight at least half of standalone ZooKeeper\'s".');
      L.push('');
      L.push('| | ZooGate | ZooKeeper | ratio | target ≥ 0.50 |');
      L.push('|---|---:|---:|---:|---|');
      for (const s of ['read', 'write']) {
        const a = runOf(zg, s, 64);
        const b = runOf(zk, s, 64);
        const r = a && b ? a.ops_per_s / b.ops_per_s : null;
        L.push(`| ${s}s/s at C=64 | ${fmtInt(a?.ops_per_s)} | ${fmtInt(b?.ops_per_s)} | ${r == null ? '–' : r.toFixed(2)} | ${r == null ? '–' : r >= 0.5 ? 'met' : '**not met**'} |`);
      }
      L.push('');
    }
  }

  if (results.getcmp?.length) {
    L.push('### GET: raw bytes vs JSON');
    L.push('');
    L.push(`Same server, right after the runs above; read scenario, 1 s warm-up + 3 s measured per run, ${args['getcmp-rounds']} rounds alternating the order; medians over the rounds. "raw" = \`Accept: application/octet-stream\` (body = data, version parsed from the \`Zoogate-Stat\` header); "json" = default \`{"path","data","encoding","stat"}\` decoded by the client. CPU per op = process CPU time / completed ops.`);
    L.push('');
    L.push('| GET | C | ops/s (per round) | median ops/s | p50 ms | p99 ms | server CPU µs/op | client CPU µs/op |');
    L.push('|---|---:|---|---:|---:|---:|---:|---:|');
    const agg: Record<string, any> = {};
    for (const mode of ['raw', 'json']) {
      for (const c of [1, 64]) {
        const rs = results.getcmp.filter((x: any) => x.mode === mode && x.concurrency === c);
        if (!rs.length) continue;
        const mean = (f: (x: any) => number) => { const v = rs.map(f).sort((a: number, b: number) => a - b); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
        agg[`${mode}${c}`] = { ops: mean((x) => x.ops_per_s), srv: mean((x) => x.server_us_per_op), cli: mean((x) => x.client_us_per_op) };
        L.push(`| ${mode} | ${c} | ${rs.map((x: any) => fmtInt(x.ops_per_s)).join(', ')} | ${fmtInt(mean((x) => x.ops_per_s))} | ${fmtMs(mean((x) => x.p50))} | ${fmtMs(mean((x) => x.p99))} | ${mean((x) => x.server_us_per_op).toFixed(0)} | ${mean((x) => x.client_us_per_op).toFixed(0)} |`);
      }
    }
    L.push('');
    const r64 = agg.raw64;
    const j64 = agg.json64;
    if (r64 && j64) {
      const cheaper = r64.srv + r64.cli <= j64.srv + j64.cli ? 'raw' : 'json';
      L.push(`At C=64 raw costs ${r64.srv.toFixed(0)} µs server + ${r64.cli.toFixed(0)} µs client CPU per read, JSON ${j64.srv.toFixed(0)} + ${j64.cli.toFixed(0)} µs; throughput raw ${fmtInt(r64.ops)} vs JSON ${fmtInt(j64.ops)} ops/s. Cheaper in total CPU: **${cheaper}**${Math.abs(r64.srv + r64.cli - j64.srv - j64.cli) / (j64.srv + j64.cli) < 0.1 ? ' (by less than 10 %, which is inside this box\'s run-to-run noise)' : ''}.`);
      L.push('');
    }
  }

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
      const rp = Math.round(((g.steps.restart2_snapshot.rss_mib - g.steps.empty.rss_mib) * 1048576) / gz);
      L.push(`| RSS after restart from snapshot (bytes/znode) | ${g.steps.restart2_snapshot.rss_mib} MiB (${fmtInt(rp)}) | ${k ? `${k.steps.restart2?.rss_mib?.toFixed(1)} MiB` : '–'} |`);
    }
    const gFiles = (fs: Array<{ file: string; bytes: number }>) => fs.map((f) => `${f.file} ${(f.bytes / 1048576).toFixed(1)} MB`).join(', ');
    const kFiles = (fs: Array<{ file: string; apparent_bytes: number }>) => fs.map((f) => `${f.file} ${(f.apparent_bytes / 1048576).toFixed(1)} MB`).join(', ');
    L.push(`| files after load | ${g ? gFiles(g.steps.loaded.files) : '–'} | ${k ? kFiles(k.steps.loaded.files) : '–'} |`);
    L.push(`| snapshot | ${g ? `${((g.steps.snapshot.bytes ?? 0) / 1048576).toFixed(1)} MB written in ${fmtInt(g.steps.snapshot.ms)} ms (files then: ${gFiles(g.steps.snapshot.files)})` : '–'} | ${k ? kFiles((k.steps.restart2?.files ?? []).filter((f: any) => f.file.startsWith('snapshot'))) : '–'} |`);
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
  return L.join('\n') + '\n';
}

// ------------------------------------------------------------------ main

async function main() {
  results.machine = machine();
  log(`run ${RUN_ID}: parts ${[...only].join(',')}; machine ${JSON.stringify(results.machine)}`);
  const { patched } = prepareKit();
  results.kit = { source: SHARED_KIT, copy: KIT, patched_for_port: patched };
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!only.has(name)) return;
    const ts = Date.now();
    try {
      await fn();
    } catch (e) {
      log(`part ${name} failed:`, (e as Error).stack);
      results.notes.push(`part ${name} failed: ${(e as Error).message}`);
    }
    results[`${name}_wall_s`] = Math.round((Date.now() - ts) / 1000);
    log(`part ${name} done in ${results[`${name}_wall_s`]} s`);
  };
  await step('zg', partZoogateRest);
  await step('zk', partZk);
  await step('prof', partProf);
  await step('memzg', partMemZoogate);
  await step('memzk', partMemZk);
  results.finished = new Date().toISOString();
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
