// The compose stack without Docker: for each service of docker-compose.yml, the
// command the image runs (the Dockerfile's ENTRYPOINT + CMD) is started as a plain
// process with the service's environment (the image's ENV, then the service's),
// changing only what a container has and loopback has not: host names (zoogate1 →
// 127.0.0.1), ports (free ones for 8181 and 2888, consistently in ZOOGATE_PORT,
// ZOOGATE_PEER_PORT and ZOOGATE_PEERS) and the data dir (a temp dir for /data).
// The three must form a quorum and replicate; then they are stopped as
// `docker stop` stops a container (SIGTERM) and must exit cleanly.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep, until } from '../support/process-cluster.ts';
import {
  type Service, ROOT, containerCommand, containerEnv, dockerignore, parsePeerList, readCompose, readImage, runtimeClosure,
} from './deploy-files.ts';

const image = readImage();
// No variables set: the defaults the file documents (ZOOGATE_SECRET's among them).
const compose = readCompose({});
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };

const env = (s: Service) => containerEnv(image, s);
const idOf = (s: Service) => Number(env(s).ZOOGATE_ID);
const byId = [...compose.services].sort((a, b) => idOf(a) - idOf(b));

describe('the image (Dockerfile)', () => {
  test('builds on node:20-bookworm and runs on node:20-bookworm-slim, as a non-root user', () => {
    assert.ok(image.stages.length >= 2, 'a multi-stage build');
    const build = image.stages[0]!;
    assert.equal(build.from, 'node:20-bookworm');
    assert.equal(image.runtime.from, 'node:20-bookworm-slim', 'the runtime shares the build stage\'s Node major and glibc (bookworm)');
    assert.ok(build.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)), 'the build stage installs with npm ci');
    assert.ok(image.runtime.instructions.some((i) => i.keyword === 'COPY' && /--from=/.test(i.args) && /node_modules/.test(i.args)),
      'the runtime takes node_modules (with the compiled better-sqlite3) from the build stage');
    assert.ok(image.user !== null && image.user !== 'root' && !/^0(:|$)/.test(image.user), `USER ${image.user}`);
  });

  test('data in a /data volume; client and peer ports exposed; a /ready healthcheck; zoogate server as the command', () => {
    assert.equal(image.env.ZOOGATE_DATA_DIR, '/data');
    assert.ok(image.volumes.includes('/data'), `VOLUME ${image.volumes.join(' ')}`);
    assert.ok(image.exposed.includes(Number(image.env.ZOOGATE_PORT ?? 8181)), `EXPOSE ${image.exposed.join(' ')}`);
    assert.ok(image.exposed.includes(Number(image.env.ZOOGATE_PEER_PORT ?? 2888)), `EXPOSE ${image.exposed.join(' ')}`);
    assert.ok(image.healthcheck !== null, 'a HEALTHCHECK');
    assert.match(image.healthcheck.test.join(' '), /\/ready\b/);
    const cmd = [...image.entrypoint, ...image.cmd];
    assert.equal(cmd[0], 'node');
    assert.ok(cmd.includes('server'), `runs zoogate server: ${cmd.join(' ')}`);
  });

  test('holds every file the server loads (not left out by .dockerignore) and installs every package it imports', () => {
    const cmd = [...image.entrypoint, ...image.cmd];
    const entry = cmd.slice(1).find((a, i, all) => !a.startsWith('-') && !['--import', '--require', '-r'].includes(all[i - 1] ?? ''));
    assert.ok(entry !== undefined, `an entry script in ${cmd.join(' ')}`);
    const preloads = cmd.slice(1).filter((_, i, all) => ['--import', '--require', '-r'].includes(all[i - 1] ?? ''));
    const { files, packages } = runtimeClosure(entry);
    const ignored = dockerignore();
    const copied = (f: string) => image.contextCopies.some((c) => f === c || f.startsWith(`${c}/`));
    for (const f of [...files, 'package.json', 'package-lock.json']) {
      assert.ok(copied(f), `${f} is loaded by the server but no COPY puts it in the image (COPY ${image.contextCopies.join(' ')})`);
      assert.ok(!ignored(f), `${f} is loaded by the server but .dockerignore leaves it out of the build context`);
    }
    const deps = Object.keys(pkg.dependencies ?? {});
    for (const p of [...packages, ...preloads]) {
      assert.ok(deps.includes(p), `${p} is imported at run time, so it must be in package.json's dependencies (the image prunes devDependencies)`);
    }
    for (const gone of ['node_modules', 'data', '.bench', 'tmp', 'bench/results']) assert.ok(ignored(gone), `.dockerignore leaves out ${gone}`);
  });
});

describe('the stack (docker-compose.yml)', () => {
  test('three servers, each its own service, id, client port (8181-8183), data volume and healthcheck', () => {
    assert.equal(compose.services.length, 3, `services: ${compose.services.map((s) => s.name).join(', ')}`);
    assert.deepEqual(byId.map(idOf), [1, 2, 3]);
    const peerLists = new Set(compose.services.map((s) => env(s).ZOOGATE_PEERS));
    assert.equal(peerLists.size, 1, 'every service has the same ZOOGATE_PEERS');
    const peers = parsePeerList([...peerLists][0]!);
    assert.deepEqual(peers.map((p) => p.id).sort(), [1, 2, 3]);
    const volumesSeen = new Set<string>();
    for (const [i, s] of byId.entries()) {
      const e = env(s);
      const me = peers.find((p) => p.id === idOf(s));
      assert.ok(me, `${s.name}: ZOOGATE_PEERS lists its id`);
      assert.equal(me.host, s.name, `${s.name}: its peer entry names its own service (resolvable on the compose network)`);
      assert.equal(me.port, Number(e.ZOOGATE_PEER_PORT), `${s.name}: its peer entry's port is its ZOOGATE_PEER_PORT`);
      assert.deepEqual(s.ports, [{ host: 8181 + i, container: Number(e.ZOOGATE_PORT) }], `${s.name}: client port published on ${8181 + i}`);
      const data = s.volumes.filter((v) => v.target === e.ZOOGATE_DATA_DIR);
      assert.equal(data.length, 1, `${s.name}: one volume at ZOOGATE_DATA_DIR ${e.ZOOGATE_DATA_DIR}`);
      assert.ok(compose.volumes.includes(data[0]!.source), `${s.name}: ${data[0]!.source} is a named volume`);
      assert.ok(!volumesSeen.has(data[0]!.source), `${s.name}: its data volume is its own`);
      volumesSeen.add(data[0]!.source);
      assert.equal(s.raw.restart, 'unless-stopped', s.name);
      const build = s.raw.build as string | { context?: string } | undefined;
      assert.equal(typeof build === 'string' ? build : build?.context, '.', `${s.name}: built from this Dockerfile`);
      assert.ok(s.healthcheck !== null && Array.isArray(s.healthcheck.test), `${s.name}: a healthcheck`);
      assert.match((s.healthcheck.test as string[]).join(' '), /\/ready\b/, s.name);
      assert.ok(e.ZOOGATE_SECRET, `${s.name}: a secret by default`);
    }
  });

  test('the secret comes from the environment (ZOOGATE_SECRET), with a default', () => {
    const set = readCompose({ ZOOGATE_SECRET: 'from-the-environment' });
    for (const s of set.services) assert.equal(s.environment.ZOOGATE_SECRET, 'from-the-environment', s.name);
  });
});

// ------------------------------------------------------------------ running it

interface StackNode {
  readonly service: Service;
  readonly id: number;
  readonly port: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly env: Record<string, string>;
  readonly url: string;
  proc: ChildProcess | null;
  exited: Promise<number | null> | null;
  log: string;
}

const RUN_DIR = mkdtempSync(join(tmpdir(), 'zoogate-compose-'));
const nodes: StackNode[] = [];

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/**
 * The service's container environment with only hosts, ports and the data dir
 * changed for loopback; everything else (id, secret, tick, log level, ...) as is.
 */
function loopbackEnv(s: Service, local: ReadonlyMap<string, { port: number; peerPort: number; dataDir: string }>): Record<string, string> {
  const e = { ...env(s) };
  const mine = local.get(s.name)!;
  const out: Record<string, string> = { ...e, ZOOGATE_HOST: '127.0.0.1', ZOOGATE_PORT: String(mine.port), ZOOGATE_PEER_PORT: String(mine.peerPort), ZOOGATE_DATA_DIR: mine.dataDir };
  out.ZOOGATE_PEERS = parsePeerList(e.ZOOGATE_PEERS!).map((p) => {
    const target = compose.services.find((t) => t.name === p.host || t.raw.hostname === p.host);
    assert.ok(target, `ZOOGATE_PEERS names ${p.host}, which is no service of the stack`);
    assert.equal(p.port, Number(env(target).ZOOGATE_PEER_PORT), `ZOOGATE_PEERS gives ${p.host}:${p.port}, but ${target.name} listens for peers on ${env(target).ZOOGATE_PEER_PORT}`);
    return `${p.id}=127.0.0.1:${local.get(target.name)!.peerPort}`;
  }).join(',');
  // only what the brief allows to differ from the container's environment
  const changed = Object.keys(out).filter((k) => out[k] !== e[k]).sort();
  for (const k of changed) assert.ok(['ZOOGATE_DATA_DIR', 'ZOOGATE_HOST', 'ZOOGATE_PEERS', 'ZOOGATE_PEER_PORT', 'ZOOGATE_PORT'].includes(k), `rewrote ${k}`);
  return out;
}

/** What a process needs from the host besides the container's environment: where node's tools are, a home. */
function hostBase(): Record<string, string> {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  return base;
}

function start(n: StackNode): void {
  const cmd = containerCommand(image, n.service);
  assert.equal(cmd[0], 'node', `the image runs node: ${cmd.join(' ')}`);
  // the image's WORKDIR holds the repository's files at the same relative paths (checked above)
  const proc = spawn(process.execPath, cmd.slice(1), { cwd: ROOT, env: { ...hostBase(), ...n.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  n.proc = proc;
  n.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  const keep = (d: string) => {
    n.log += d;
    if (n.log.length > 1_000_000) n.log = n.log.slice(-500_000);
  };
  proc.stdout!.setEncoding('utf8').on('data', keep);
  proc.stderr!.setEncoding('utf8').on('data', keep);
}

type ClusterView = { serverId: number; state: string; leaderId: number | null; members: { id: number }[] };

/** The views of the three if they are one LEADING and two FOLLOWING, all naming that leader and all ready; else null. */
async function quorum(): Promise<ClusterView[] | null> {
  const vs = await Promise.all(nodes.map((n) => json<ClusterView>(`${n.url}/cluster`).then((r) => r.body)));
  if (vs.some((v) => v === null)) return null;
  if (vs.map((v) => v!.state).sort().join() !== 'FOLLOWING,FOLLOWING,LEADING') return null;
  const leader = vs.find((v) => v!.state === 'LEADING')!.serverId;
  if (!vs.every((v) => v!.leaderId === leader)) return null;
  const ready = await Promise.all(nodes.map((n) => fetch(`${n.url}/ready`, { signal: AbortSignal.timeout(2000) }).then(async (r) => { await r.arrayBuffer(); return r.status; })));
  return ready.every((st) => st === 200) ? (vs as ClusterView[]) : null;
}

async function json<T>(url: string): Promise<{ status: number; body: T | null }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return { status: r.status, body: (await r.json().catch(() => null)) as T | null };
}

function runCheck(argv: readonly string[], childEnv: Record<string, string>, timeoutMs: number): Promise<number | null> {
  const [cmd, ...args] = argv;
  const p = spawn(cmd === 'node' ? process.execPath : cmd!, args, { cwd: ROOT, env: { ...hostBase(), ...childEnv }, stdio: 'ignore' });
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => p.once('exit', (code) => { clearTimeout(timer); resolve(code); }));
}

const logs = () => nodes.map((n) => `--- ${n.service.name} (exit ${n.proc?.exitCode ?? 'running'}):\n${n.log.slice(-3000)}`).join('\n');

after(async () => {
  for (const n of nodes) {
    if (n.proc !== null && n.proc.exitCode === null && n.proc.signalCode === null) {
      n.proc.kill('SIGKILL');
      await n.exited;
    }
  }
  rmSync(RUN_DIR, { recursive: true, force: true });
});

describe('each service started as its container starts it, on loopback', { timeout: 150_000 }, () => {
  test('the three form a quorum, a write on any one reads back on the others, and SIGTERM stops each cleanly', async () => {
    const ports = await distinctFreePorts(2 * byId.length);
    const local = new Map(byId.map((s, i) => [s.name, { port: ports[2 * i]!, peerPort: ports[2 * i + 1]!, dataDir: join(RUN_DIR, s.name) }]));
    for (const s of byId) {
      const l = local.get(s.name)!;
      nodes.push({ service: s, id: idOf(s), port: l.port, peerPort: l.peerPort, dataDir: l.dataDir, env: loopbackEnv(s, local), url: `http://127.0.0.1:${l.port}`, proc: null, exited: null, log: '' });
    }
    for (const n of nodes) start(n);

    // a quorum: one LEADING, two FOLLOWING, all naming the same leader, all ready
    const deadline = Date.now() + 90_000;
    let views: ClusterView[] | null = null;
    while (views === null) {
      for (const n of nodes) if (n.proc!.exitCode !== null) assert.fail(`${n.service.name} exited with ${n.proc!.exitCode}\n${logs()}`);
      if (Date.now() > deadline) assert.fail(`the three services did not form a quorum in 90 s\n${logs()}`);
      views = await quorum().catch(() => null);
      if (views === null) await sleep(200);
    }
    for (const [i, v] of views.entries()) {
      assert.equal(v.serverId, nodes[i]!.id);
      assert.deepEqual(v.members.map((m) => m.id).sort(), [1, 2, 3]);
    }

    // the healthchecks Docker would run (the compose file's and the image's) pass in each one's environment
    for (const n of nodes) {
      const checks = [image.healthcheck!.test];
      const t = n.service.healthcheck!.test as string[];
      assert.equal(t[0], 'CMD', `${n.service.name}: healthcheck in exec (CMD) form`);
      checks.push(t.slice(1));
      for (const c of checks) assert.equal(await runCheck(c, n.env, 20_000), 0, `${n.service.name}: healthcheck ${c.join(' ')}`);
    }

    // a write on each server reads back on the other two
    const tag = `compose-${process.pid}-${Date.now()}`;
    for (const w of nodes) {
      const path = `/${tag}-${w.service.name}`;
      const r = await fetch(`${w.url}/znodes${path}`, { method: 'POST', body: `written on ${w.service.name}` });
      const body = await r.text();
      assert.equal(r.status, 201, `create ${path} on ${w.service.name}: ${body}`);
      const zxid = (JSON.parse(body) as { stat: { czxid: number } }).stat.czxid;
      for (const n of nodes.filter((x) => x !== w)) {
        const got = await until(`${path} on ${n.service.name}`, async () => {
          const g = await fetch(`${n.url}/znodes${path}`, { headers: { 'zoogate-min-zxid': String(zxid) }, signal: AbortSignal.timeout(5000) });
          return g.status === 200 ? ((await g.json()) as { data: string }) : null;
        }, 20_000, 100);
        assert.equal(got.data, `written on ${w.service.name}`, `${path} read on ${n.service.name}`);
      }
    }

    // docker stop: SIGTERM, then SIGKILL after the grace period; each must go in time and cleanly
    const grace = /^(\d+)s$/.exec(String(nodes[0]!.service.raw.stop_grace_period ?? '10s'));
    const graceMs = (grace ? Number(grace[1]) : 10) * 1000;
    for (const n of nodes) n.proc!.kill('SIGTERM');
    for (const n of nodes) {
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([n.exited!, new Promise<string>((r) => { timer = setTimeout(() => r('still running'), graceMs); })]);
      clearTimeout(timer);
      assert.equal(code, 0, `${n.service.name} after SIGTERM: ${code}\n${n.log.slice(-3000)}`);
      assert.ok(existsSync(join(n.dataDir, 'zoogate.db')), `${n.service.name} kept its data in ZOOGATE_DATA_DIR`);
    }
  });
});
