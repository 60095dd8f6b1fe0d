/**
 * What every client command shares: the global options (--server, --json,
 * --user/--password, --timeout) resolved against the environment, the
 * clients built from them, stdout/stderr writers, and Ctrl-C.
 */
import { ZooGateRest } from '../client/rest.ts';
import type { SessionOptions, ZooGateSession } from '../client/session.ts';
import { pathError } from '../core/paths.ts';
import { Options } from './args.ts';
import { UsageError } from './errors.ts';

export const DEFAULT_SERVER = 'http://127.0.0.1:8181';
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;

/** `host:port` (a ZooKeeper connect string's form) or a URL; always a base URL without a trailing slash. */
export function normaliseServer(s: string): string {
  const t = s.trim().replace(/\/+$/, '');
  return /^[a-z]+:\/\//i.test(t) ? t : `http://${t}`;
}

export class Context {
  readonly json: boolean;
  readonly servers: readonly string[];
  readonly auth: { user: string; password: string } | undefined;
  /** How long to keep trying to reach the ensemble: each REST call, a session's connect. */
  readonly timeoutMs: number;
  private restClient: ZooGateRest | null = null;
  private readonly sessions = new Set<ZooGateSession>();
  private stopWaiters: ((signal: string) => void)[] = [];
  /** Set once SIGINT/SIGTERM arrived. */
  stopSignal: string | null = null;

  /** `timeoutIsWait`: the command's --timeout bounds a wait (lock, queue take), so reaching the ensemble takes the default. */
  constructor(readonly command: string, readonly opts: Options, env: NodeJS.ProcessEnv, timeoutIsWait = false) {
    this.json = opts.flag('json');
    const server = opts.string('server') ?? env.ZOOGATE_SERVER ?? DEFAULT_SERVER;
    this.servers = server.split(',').filter((s) => s.trim() !== '').map(normaliseServer);
    if (this.servers.length === 0) throw new UsageError('--server needs at least one URL', command);
    const user = opts.string('user') ?? env.ZOOGATE_USER;
    const password = opts.string('password') ?? env.ZOOGATE_PASSWORD;
    // an empty user with a password is sent as given: the server answers AuthFailed, as it should
    if (user !== undefined && (user !== '' || password !== undefined)) {
      if (password === undefined) throw new UsageError('--user needs --password (or ZOOGATE_PASSWORD)', command);
      this.auth = { user, password };
    } else if (opts.has('password')) {
      throw new UsageError('--password needs --user (or ZOOGATE_USER)', command);
    }
    this.timeoutMs = (timeoutIsWait ? undefined : opts.durationMs('timeout')) ?? DEFAULT_TIMEOUT_MS;
  }

  /** The REST client: the servers tried in the order given (predictable for scripts), each call retried for --timeout. */
  rest(): ZooGateRest {
    this.restClient ??= new ZooGateRest(this.servers, {
      shuffle: false,
      requestTimeoutMs: this.timeoutMs,
      retryTimeoutMs: this.timeoutMs,
      ...(this.auth ? { auth: this.auth } : {}),
    });
    return this.restClient;
  }

  /** A session over the WebSocket, closed when the command ends (so its ephemerals go at once). */
  async session(opts: SessionOptions = {}): Promise<ZooGateSession> {
    // loaded only by the commands that need a session: the others start faster without ws
    const { ZooGateSession } = await import('../client/session.ts');
    const s = await ZooGateSession.connect(this.servers, {
      shuffle: false,
      connectTimeoutMs: this.timeoutMs,
      timeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
      minZxid: this.restClient?.lastZxid,
      ...(this.auth ? { auth: this.auth } : {}),
      ...opts,
    });
    this.sessions.add(s);
    return s;
  }

  /** Closes every session this command opened (their ephemerals go now, not at their timeout). */
  async closeSessions(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.close().catch(() => {})));
    this.sessions.clear();
  }

  // ---- Ctrl-C ----

  /** Resolves with the signal's name at the first SIGINT or SIGTERM. Commands that run until stopped race their work against it. */
  stopped(): Promise<string> {
    if (this.stopSignal !== null) return Promise.resolve(this.stopSignal);
    return new Promise((resolve) => this.stopWaiters.push(resolve));
  }

  /** True when some command is waiting for a stop (else a signal ends the process at once). */
  get handlesStop(): boolean {
    return this.stopWaiters.length > 0;
  }

  signal(name: string): void {
    this.stopSignal ??= name;
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const w of waiters) w(name);
  }

  // ---- output ----

  /** A line (or lines) for people on stdout. */
  print(text: string): void {
    process.stdout.write(text.endsWith('\n') || text === '' ? text : text + '\n');
  }

  /** One JSON value on one line of stdout. */
  printJson(value: unknown): void {
    process.stdout.write(JSON.stringify(value) + '\n');
  }

  /**
   * Znode data, raw: exactly its bytes, so `get /x > file` and `set /x - < file`
   * round-trip; a newline is added only on a terminal, and only when the data
   * does not end with one (so the prompt does not glue to it).
   */
  printData(data: Uint8Array, newline: 'tty' | 'always' = 'tty'): void {
    process.stdout.write(data);
    const endsWithNewline = data.length > 0 && data[data.length - 1] === 0x0a;
    if (!endsWithNewline && (newline === 'always' || process.stdout.isTTY)) process.stdout.write('\n');
  }

  /** A note for people on stderr (progress, moves between servers); never in --json mode. */
  note(text: string): void {
    if (!this.json) process.stderr.write(`zoogate: ${text}\n`);
  }
}

/** A znode path argument, checked with ZooKeeper's client rules before anything is sent. */
export function znodePath(p: string | undefined, command: string, what = 'PATH', sequential = false): string {
  if (p === undefined) throw new UsageError(`missing ${what}`, command);
  const err = pathError(sequential ? p + '1' : p);
  if (err !== null) throw new UsageError(`invalid ${what} ${JSON.stringify(p)}: ${err}`, command);
  return p;
}

/** Reads all of stdin as bytes (for `-` as DATA). */
export async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const b = Buffer.concat(chunks);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** DATA as given: `-` reads stdin, anything else is the text itself (sent as UTF-8). */
export async function dataArg(d: string | undefined): Promise<string | Uint8Array> {
  if (d === undefined) return '';
  return d === '-' ? readStdin() : d;
}
