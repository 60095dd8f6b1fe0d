/**
 * What every example shares: where the ensemble is (`--server URL,...`,
 * `ZOOGATE_SERVER`, or the three servers `zoogate cluster` starts), sessions
 * spread over its servers, a log line with the time since the start, a
 * fresh base path per run, and a `main` that cleans up and exits.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ZooGateError, ZooGateRest, ZooGateSession, type SessionOptions } from '../client/index.ts';

/** The servers `zoogate cluster` (npm run cluster) starts. */
export const DEFAULT_SERVERS = ['http://127.0.0.1:8181', 'http://127.0.0.1:8182', 'http://127.0.0.1:8183'];

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: { server: { type: 'string' }, role: { type: 'string' }, base: { type: 'string' }, id: { type: 'string' } },
  strict: false,
});

/** An option given on the command line (`--role`, `--base`, `--id` are used by examples that start helper processes). */
export function arg(name: 'role' | 'base' | 'id'): string | undefined {
  const v = args[name];
  return typeof v === 'string' ? v : undefined;
}

/** The ensemble's URLs: `--server a,b,c`, else `ZOOGATE_SERVER`, else the local `zoogate cluster`. */
export function servers(): string[] {
  const given = typeof args.server === 'string' ? args.server : process.env.ZOOGATE_SERVER;
  if (given === undefined || given.trim() === '') return DEFAULT_SERVERS;
  return given.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => (/^https?:\/\//.test(s) ? s : `http://${s}`));
}

const started = performance.now();

/** Prints a line, prefixed with the seconds since the example started. */
export function say(line: string): void {
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s] ${line}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Throws (the example then exits 1) unless `cond` holds. */
export function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const sessions: ZooGateSession[] = [];

/**
 * A session on the ensemble, starting on server `first` (0-based, modulo
 * their number) and moving to the others in order if it dies: `connect(i)`
 * for i = 0, 1, 2 … spreads clients over the servers.
 */
export async function connect(first = 0, opts: SessionOptions = {}): Promise<ZooGateSession> {
  const urls = servers();
  const k = first % urls.length;
  const s = await ZooGateSession.connect([...urls.slice(k), ...urls.slice(0, k)], { timeoutMs: 10_000, shuffle: false, ...opts });
  sessions.push(s);
  return s;
}

/** A REST client on the ensemble. */
export function rest(): ZooGateRest {
  return new ZooGateRest(servers());
}

/** `/examples/<name>-<random>`: each run works in a tree of its own. */
export function basePath(name: string): string {
  return arg('base') ?? `/examples/${name}-${randomBytes(3).toString('hex')}`;
}

const codeOf = (e: unknown) => (e instanceof ZooGateError ? e.code : '');

/**
 * Creates the run's base node (persistent) under `/examples`, a container.
 * The base exists for the whole run, so `/examples` always has a child while
 * any example runs and is never removed under one (a create with `parents`
 * would then make it again, as a persistent node that nobody removes).
 */
async function makeBase(base: string): Promise<void> {
  const zk = rest();
  for (let attempt = 0; ; attempt++) {
    try {
      await zk.create(base);
      return;
    } catch (e) {
      if (codeOf(e) === 'NodeExists') return;
      if (codeOf(e) !== 'NoNode' || attempt >= 10) throw e;
    }
    await zk.create('/examples', undefined, { mode: 'container' }).catch((e: unknown) => {
      if (codeOf(e) !== 'NodeExists') throw e;
    });
  }
}

/**
 * Runs an example: `fn` gets the run's base path (created under the
 * container `/examples`, which the server removes once empty); then it
 * is deleted, every session opened with `connect` is closed, and the process
 * exits: 0, or 1 with the error if anything failed. A watchdog ends a run
 * that hangs (exit 2).
 */
export function main(name: string, fn: (base: string) => Promise<void>, opts: { cleanUp?: boolean; watchdogMs?: number } = {}): void {
  const base = basePath(name);
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name}: still running after ${(opts.watchdogMs ?? 60_000) / 1000} s: giving up\n`);
    process.exit(2);
  }, opts.watchdogMs ?? 60_000);
  watchdog.unref();
  void (async () => {
    let code = 0;
    try {
      await makeBase(base);
      await fn(base);
    } catch (e) {
      code = 1;
      process.stderr.write(`${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    await Promise.all(sessions.map((s) => Promise.race([s.close(), sleep(2000)]).catch(() => {})));
    if (opts.cleanUp !== false) {
      const zk = rest();
      for (let attempt = 1; ; attempt++) {
        try {
          await zk.delete(base, { recursive: true });
          break;
        } catch (e) {
          if (codeOf(e) === 'NoNode') break;
          if (attempt === 5) {
            process.stderr.write(`${name}: could not delete ${base}: ${String(e)}\n`);
            break;
          }
          await sleep(100 * attempt); // a node created meanwhile (NotEmpty), a server moving: again
        }
      }
    }
    process.exit(code);
  })();
}
