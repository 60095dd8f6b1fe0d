import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A port that is free now, for a server process to bind a moment later. Taken
 * at random below the kernel's ephemeral range (32768-60999 here), not from
 * listen(0): a port the kernel just handed out and we released goes back to
 * the pool that outgoing connections draw their source ports from, and a test
 * server then finds it taken (EADDRINUSE) by some client's connection.
 */
export async function freePort(): Promise<number> {
  return freePortRun(1);
}

/** Ports handed out by this process: never handed out twice (a cluster picks all its ports before any server binds one). */
const handedOut = new Set<number>();

/** `n` consecutive ports that are free now (`zoogate cluster` takes base, base+1, …), as freePort. */
export async function freePortRun(n: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - n));
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = !handedOut.has(base + i) && (await canListen(base + i));
    if (!ok) continue;
    for (let i = 0; i < n; i++) handedOut.add(base + i);
    return base;
  }
  throw new Error(`no ${n} free port(s) found in 20000-31999`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export interface Member {
  readonly id: number;
  readonly port: number;
  readonly peerPort: number;
  readonly url: string;
  proc: ChildProcess | null;
  log: string;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds (bounded), never a fixed wait. */
export async function until<T>(what: string, cond: () => Promise<T | null | undefined | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * A real ensemble of `zoogate server` processes on loopback, each with its own
 * SQLite file, for cluster and fault tests: start, kill -9, restart, and ask
 * who leads.
 */
export class ProcessCluster {
  readonly members: Member[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'zoogate-cluster-'));
  private peersArg = '';

  constructor(readonly size: number, readonly extraArgs: string[] = [], readonly secret = 'cluster-test-secret') {}

  async init(): Promise<this> {
    for (let id = 1; id <= this.size; id++) {
      const port = await freePort();
      const peerPort = await freePort();
      this.members.push({ id, port, peerPort, url: `http://127.0.0.1:${port}`, proc: null, log: '' });
    }
    this.peersArg = this.members.map((m) => `${m.id}=127.0.0.1:${m.peerPort}`).join(',');
    return this;
  }

  member(id: number): Member {
    return this.members[id - 1]!;
  }

  start(id: number, opts: { secret?: string } = {}): void {
    const m = this.member(id);
    m.log = '';
    const args = ['--import', 'tsx', 'api/main.ts', 'server', '--id', String(id), '--host', '127.0.0.1', '--port', String(m.port),
      '--peer-port', String(m.peerPort), '--peers', this.peersArg, '--data-dir', join(this.dir, `n${id}`), '--tick-ms', '100',
      '--log-level', 'info', ...this.extraArgs];
    const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ZOOGATE_SECRET: opts.secret ?? this.secret } });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      m.log += d;
      if (m.log.length > 4_000_000) m.log = m.log.slice(-2_000_000);
    });
    m.proc = proc;
  }

  startAll(): void {
    for (const m of this.members) this.start(m.id);
  }

  async kill(id: number): Promise<void> {
    const m = this.member(id);
    const p = m.proc;
    if (p === null || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
    m.proc = null;
  }

  async cluster(id: number): Promise<{ state: string; leaderId: number | null; lastZxid: number; epoch: number } | null> {
    try {
      const r = await fetch(`${this.member(id).url}/cluster`, { signal: AbortSignal.timeout(1000) });
      return r.ok ? ((await r.json()) as never) : null;
    } catch {
      return null;
    }
  }

  async ready(id: number): Promise<boolean> {
    try {
      const r = await fetch(`${this.member(id).url}/ready`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      return r.status === 200;
    } catch {
      return false;
    }
  }

  /** Waits until the given members all serve, following one leader; returns its id. */
  async waitStable(ids = this.members.map((m) => m.id), timeoutMs = 20_000): Promise<number> {
    return until(`members ${ids.join(',')} to serve one leader`, async () => {
      const views = await Promise.all(ids.map((id) => this.cluster(id)));
      const ready = await Promise.all(ids.map((id) => this.ready(id)));
      if (views.some((v) => v === null) || ready.some((r) => !r)) return null;
      const leaders = new Set(views.map((v) => v!.leaderId));
      if (leaders.size !== 1) return null;
      const leader = views[0]!.leaderId!;
      return ids.includes(leader) ? leader : null;
    }, timeoutMs);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
