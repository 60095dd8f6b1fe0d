// Real `zoogate server` processes on loopback whose peer links all pass through
// the fault proxy, with process faults (kill -9, SIGSTOP/SIGCONT) and disk faults
// (ZOOGATE_FAULT_FILE) at the runner's command.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaultNetwork } from './fault-proxy.ts';
import { freePort, sleep } from '../support/process-cluster.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Debian's libfaketime (package faketime): steps a process's wall clock at run time, its monotonic clock untouched. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

export interface ChaosMember {
  readonly id: number;
  readonly port: number;
  readonly peerPort: number;
  readonly url: string;
  readonly dataDir: string;
  readonly faultFile: string;
  /** libfaketime's offset file for this member's wall clock ("+0", "+2h", "-30m"). */
  readonly clockFile: string;
  proc: ChildProcess | null;
  paused: boolean;
  /** Exit codes of earlier runs of this member (70: stopped itself on a storage failure). */
  exits: Array<number | null>;
  log: string;
}

export class ChaosCluster {
  readonly members: ChaosMember[] = [];
  net!: FaultNetwork;

  private constructor(readonly dir: string, readonly tickMs: number, readonly extraArgs: string[]) {}

  static async create(size: number, dir: string, seed: number, opts: { tickMs?: number; extraArgs?: string[] } = {}): Promise<ChaosCluster> {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const c = new ChaosCluster(dir, opts.tickMs ?? 100, opts.extraArgs ?? []);
    for (let id = 1; id <= size; id++) {
      const port = await freePort();
      const peerPort = await freePort();
      c.members.push({
        id, port, peerPort, url: `http://127.0.0.1:${port}`, dataDir: join(dir, `n${id}`), faultFile: join(dir, `n${id}.fault`),
        clockFile: join(dir, `n${id}.clock`),
        proc: null, paused: false, exits: [], log: '',
      });
    }
    c.net = await FaultNetwork.create(c.members.map((m) => ({ id: m.id, peerPort: m.peerPort })), { seed });
    return c;
  }

  member(id: number): ChaosMember {
    return this.members[id - 1]!;
  }

  isUp(id: number): boolean {
    const m = this.member(id);
    return m.proc !== null && m.proc.exitCode === null && m.proc.signalCode === null;
  }

  start(id: number): void {
    const m = this.member(id);
    if (this.isUp(id)) return;
    const args = ['--import', 'tsx', 'api/main.ts', 'server', '--id', String(id), '--host', '127.0.0.1', '--port', String(m.port),
      '--peer-port', String(m.peerPort), '--peers', this.net.peersArgFor(id), '--data-dir', m.dataDir, '--tick-ms', String(this.tickMs),
      '--log-level', 'info', ...this.extraArgs];
    writeFileSync(m.clockFile, '+0');
    const clock = ChaosCluster.canStepClocks
      ? { LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: m.clockFile, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_CACHE_DURATION: '1' }
      : {};
    const proc = spawn(process.execPath, args, {
      cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ZOOGATE_SECRET: 'chaos-secret', ZOOGATE_FAULT_FILE: m.faultFile, ...clock },
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      m.log += d;
      if (m.log.length > 2_000_000) m.log = m.log.slice(-1_000_000);
    });
    proc.on('exit', (code) => m.exits.push(code));
    m.proc = proc;
    m.paused = false;
  }

  async kill(id: number): Promise<void> {
    const m = this.member(id);
    const p = m.proc;
    if (p === null) return;
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
    m.proc = null;
    m.paused = false;
  }

  pause(id: number): void {
    const m = this.member(id);
    if (!this.isUp(id) || m.paused) return;
    m.proc!.kill('SIGSTOP');
    m.paused = true;
  }

  resume(id: number): void {
    const m = this.member(id);
    if (m.proc === null || !m.paused) return;
    m.proc.kill('SIGCONT');
    m.paused = false;
  }

  static readonly canStepClocks = existsSync(LIBFAKETIME);

  /** Steps this member's wall clock by `offset` (libfaketime syntax: "+2h", "-45m", "+0"); its monotonic clock runs on. */
  stepClock(id: number, offset: string): void {
    writeFileSync(this.member(id).clockFile, offset);
  }

  /** The next log append on this member fails: "eio" (an I/O error) or "full" (a real SQLITE_FULL). */
  diskFault(id: number, kind: 'eio' | 'full'): void {
    writeFileSync(this.member(id).faultFile, kind);
  }

  clearDiskFault(id: number): void {
    try {
      unlinkSync(this.member(id).faultFile);
    } catch {
      // not there
    }
  }

  async json<T>(id: number, path: string, timeoutMs = 1000): Promise<T | null> {
    if (!this.isUp(id) || this.member(id).paused) return null;
    try {
      const r = await fetch(`${this.member(id).url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) {
        await r.arrayBuffer();
        return null;
      }
      return (await r.json()) as T;
    } catch {
      return null;
    }
  }

  /** The id of the member that serves as leader, as the members that serve see it, or null. */
  async leader(): Promise<number | null> {
    const views = await Promise.all(this.members.map((m) => this.json<{ state: string; leaderId: number | null }>(m.id, '/cluster')));
    const l = views.find((v) => v?.state === 'LEADING');
    return l ? (l as { leaderId: number }).leaderId : null;
  }

  /** Waits until every member serves one leader. */
  async waitStable(timeoutMs = 30_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const views = await Promise.all(this.members.map((m) => this.json<{ leaderId: number | null }>(m.id, '/cluster')));
      const ready = await Promise.all(this.members.map((m) => this.json<{ ready: boolean }>(m.id, '/ready')));
      const leaders = new Set(views.map((v) => v?.leaderId ?? null));
      if (ready.every((r) => r?.ready) && leaders.size === 1 && !leaders.has(null)) return [...leaders][0]!;
      if (Date.now() > end) throw new Error(`the ensemble did not settle: ${JSON.stringify(views)}`);
      await sleep(100);
    }
  }

  /** SIGTERM every member (after resuming paused ones) and wait for them to exit. */
  async stopAll(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      const p = m.proc;
      if (p === null || p.exitCode !== null || p.signalCode !== null) return;
      if (m.paused) this.resume(m.id);
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }));
  }

  async destroy(keepFiles = false): Promise<void> {
    for (const m of this.members) {
      if (m.paused) this.resume(m.id);
      await this.kill(m.id);
    }
    await this.net.close();
    if (!keepFiles) rmSync(this.dir, { recursive: true, force: true });
  }
}
