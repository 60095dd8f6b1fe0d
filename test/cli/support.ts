/**
 * Runs the real `zoogate` command (node bin/zoogate.mjs …) as a child
 * process, as a user's shell would: one-shot (`zg`) or long-running
 * (`ZgProcess`: read its lines as they come, signal it, wait for its exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { until } from '../support/process-cluster.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/zoogate.mjs', import.meta.url));

export interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout's raw bytes. */
  readonly out: Buffer;
}

export interface RunOptions {
  /** Written to stdin, which is then closed (default: stdin closed at once). */
  input?: string | Uint8Array;
  /** Added to the environment; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  /** The child is killed after this long (the test then fails on its exit code). */
  killAfterMs?: number;
}

/** The environment of a child: this one's, minus ZOOGATE_* (so a developer's settings cannot leak in), plus `extra`. */
function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ZOOGATE_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** A long-running `zoogate` child: its output as it comes, and its end. */
export class ZgProcess {
  readonly proc: ChildProcess;
  private outChunks: Buffer[] = [];
  stderr = '';
  readonly exited: Promise<Result>;

  constructor(args: readonly string[], opts: RunOptions = {}) {
    // a process group of its own, so that killGroup() also reaches the COMMAND a lock or elect runs
    // (left behind, it would hold the stdout pipe open, and this process with it)
    this.proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.proc.stdout!.on('data', (d: Buffer) => this.outChunks.push(d));
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (d: string) => (this.stderr += d));
    if (opts.input !== undefined) this.proc.stdin!.end(opts.input);
    else this.proc.stdin!.end();
    const timer = opts.killAfterMs === undefined ? null : setTimeout(() => this.killGroup(), opts.killAfterMs);
    this.exited = new Promise((resolve) => {
      this.proc.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        const out = Buffer.concat(this.outChunks);
        resolve({ code, signal, stdout: out.toString('utf8'), stderr: this.stderr, out });
      });
    });
  }

  get stdout(): string {
    return Buffer.concat(this.outChunks).toString('utf8');
  }

  /** stdout's complete lines so far. */
  lines(): string[] {
    const s = this.stdout;
    const cut = s.lastIndexOf('\n');
    return cut < 0 ? [] : s.slice(0, cut).split('\n');
  }

  /** Waits until stdout holds at least `n` complete lines (fails if the process ends first). */
  async waitLines(n: number, timeoutMs = 10_000): Promise<string[]> {
    return until(`${n} line(s) from zoogate (stdout so far: ${JSON.stringify(this.stdout)}, stderr: ${JSON.stringify(this.stderr)})`, async () => {
      if (this.lines().length >= n) return this.lines();
      if (this.proc.exitCode !== null) throw new Error(`zoogate exited ${this.proc.exitCode}: ${this.stderr}`);
      return null;
    }, timeoutMs, 20);
  }

  /** Waits until stderr contains `text`. */
  async waitStderr(text: string, timeoutMs = 10_000): Promise<void> {
    await until(`stderr to show ${JSON.stringify(text)} (so far: ${JSON.stringify(this.stderr)})`, async () => {
      if (this.stderr.includes(text)) return true;
      if (this.proc.exitCode !== null) throw new Error(`zoogate exited ${this.proc.exitCode}: ${this.stderr}`);
      return null;
    }, timeoutMs, 20);
  }

  /** Waits until stderr matches `re`; resolves with the match. */
  async waitStderrMatch(re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    return until(`stderr to match ${re} (so far: ${JSON.stringify(this.stderr)})`, async () => {
      const m = re.exec(this.stderr);
      if (m !== null) return m;
      if (this.proc.exitCode !== null) throw new Error(`zoogate exited ${this.proc.exitCode}: ${this.stderr}`);
      return null;
    }, timeoutMs, 20);
  }

  /** Sends `sig` to zoogate alone (as `kill PID` would; a COMMAND it runs hears of it from zoogate). */
  signal(sig: NodeJS.Signals = 'SIGINT'): void {
    this.proc.kill(sig);
  }

  /** SIGKILL to zoogate and everything it started (clean-up after a test, passed or not). */
  killGroup(): void {
    try {
      if (this.proc.pid !== undefined) process.kill(-this.proc.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
}

/** Runs `zoogate ARGS…` to its end. */
export function zg(args: readonly string[], opts: RunOptions = {}): Promise<Result> {
  return new ZgProcess(args, { killAfterMs: 30_000, ...opts }).exited;
}

/** The JSON error object a --json run printed on stderr. */
export function jsonError(r: Result): { error: { code: string; message: string; path?: string }; failedOp?: number; results?: unknown[] } {
  const lines = r.stderr.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}
