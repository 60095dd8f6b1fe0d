import { parseArgs } from 'node:util';
import { resolve } from 'node:path';

/**
 * Every setting of a server, parsed and validated once (flags win over
 * ZOOGATE_* environment variables, which win over defaults) and passed down.
 * Nothing below api/ reads process.env.
 */
/**
 * V8 flags every launcher of a server process passes (`npm start`, the
 * `zoogate` command's shebang, `zoogate cluster`, the Dockerfile, the bench).
 * A larger young generation: the follower the bench reads from over the
 * WebSocket at 16 in flight kept about 1.4 MB of young objects alive at each
 * scavenge with V8's default 16 MB semi-space, scavenged every ~80 ms for
 * 3-8 ms (on two shared cores), and its read p99 was 4.5-4.9 ms; with 64 MB,
 * 1.3-2.0 ms (bench/RESULTS.md, "Young generation"). The leader and the other
 * follower, read the same way, kept a few KB; why that one node does is not
 * known yet. The price is memory under load: two
 * semi-spaces grown to 64 MB (~140 MB more RSS with a million znodes loaded);
 * an idle server does not grow them.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

export interface ServerConfig {
  readonly serverId: number;
  readonly host: string;
  readonly port: number;
  readonly peerPort: number;
  /** Ensemble members by id; empty for a standalone server. */
  readonly peers: ReadonlyMap<number, string>;
  readonly dataDir: string;
  readonly secret: string | null;
  readonly tickMs: number;
  /** Ticks a follower may take to connect and sync with a leader (ZooKeeper's initLimit). */
  readonly initLimitTicks: number;
  /** Ticks of silence after which a follower or leader gives up on the other (syncLimit). */
  readonly syncLimitTicks: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  /** Largest znode data (ZooKeeper's jute.maxbuffer default). */
  readonly maxDataBytes: number;
  /** A snapshot is written after this many transactions (ZooKeeper's snapCount). */
  readonly snapshotEveryTxnCount: number;
  /** Snapshots kept; the log is purged up to the oldest kept one (autopurge.snapRetainCount). */
  readonly snapshotRetainCount: number;
  /** Requests in the pipeline beyond which new writes get 429 Throttled (globalOutstandingLimit). */
  readonly maxOutstandingRequests: number;
  /** How long a request with Zoogate-Min-Zxid waits for this node to catch up before 503. */
  readonly minZxidWaitMs: number;
  readonly maxExpiredDeletesPerTick: number;
  /** Bytes a WebSocket or SSE client may leave unread before it is cut off (a slow consumer). */
  readonly clientBufferBytes: number;
  /** Concurrent TCP connections one client IP may hold (0: no limit); ZooKeeper's maxClientCnxns. */
  readonly maxClientConnections: number;
  /** `user:base64(sha1(user:password))` whose holder may do anything (zookeeper.DigestAuthenticationProvider.superDigest). */
  readonly superDigest: string | null;
  readonly logLevel: 'silent' | 'error' | 'info' | 'debug';
  /**
   * How the transaction log reaches the disk. `inline` (default): every append
   * is a SQLite commit with its fsync, on the event loop. `deferred`: SQLite
   * writes the WAL on append and the fdatasync runs on libuv's thread pool while
   * the event loop goes on; nothing that depends on the append (its ACK, its
   * commit, its answer) happens before the fsync completes (core/effects.ts
   * EffectRunner). On the bench machine (2 shared cores, fsync ~0.1-0.8 ms)
   * deferred was slower at 1 and 16 writes in flight and level to 9 % faster
   * at 64: the CPU, not the blocked loop, is the limit there,
   * and the thread-pool round trip lengthens a follower's ACK (bench/RESULTS.md,
   * "Log fsync"); a disk with millisecond fsyncs is where it should pay.
   */
  readonly logSync: 'deferred' | 'inline';
  /**
   * `on` (the default): as leader of a 3-server ensemble, tell each follower
   * when its own log holds a proposal durably (LOGGED), so that the follower
   * commits as soon as its log holds it too: the leader and it are a quorum.
   * A write sent to a follower is answered without the round trip of the
   * follower's ACK and the leader's COMMIT. `off`: ZooKeeper's message
   * pattern exactly. See core/zab/leader.ts selfLogged.
   */
  readonly directCommit: boolean;
  /** Chaos tests only (ZOOGATE_FAULT_FILE): a file whose presence makes log appends fail. */
  readonly faultFile: string | null;
}

interface Setting {
  readonly flag: string;
  readonly env: string;
  readonly def: string | null;
  readonly help: string;
}

const SETTINGS = {
  id: { flag: 'id', env: 'ZOOGATE_ID', def: '1', help: 'server id, 1-255' },
  host: { flag: 'host', env: 'ZOOGATE_HOST', def: '0.0.0.0', help: 'address the client and peer ports bind to' },
  port: { flag: 'port', env: 'ZOOGATE_PORT', def: '8181', help: 'client HTTP and WebSocket port' },
  peerPort: { flag: 'peer-port', env: 'ZOOGATE_PEER_PORT', def: '2888', help: 'peer (ZAB) port' },
  peers: { flag: 'peers', env: 'ZOOGATE_PEERS', def: '', help: 'ensemble: 1=host:2888,2=host:2888,3=host:2888 (absent: standalone)' },
  dataDir: { flag: 'data-dir', env: 'ZOOGATE_DATA_DIR', def: './data', help: 'where the SQLite file lives' },
  secret: { flag: 'secret', env: 'ZOOGATE_SECRET', def: null, help: 'shared by the members; peers without it are refused' },
  tickMs: { flag: 'tick-ms', env: 'ZOOGATE_TICK_MS', def: '2000', help: 'tick length in ms (session timeouts are 2 to 20 ticks)' },
  initLimit: { flag: 'init-limit', env: 'ZOOGATE_INIT_LIMIT', def: '10', help: 'ticks a follower may take to sync with the leader' },
  syncLimit: { flag: 'sync-limit', env: 'ZOOGATE_SYNC_LIMIT', def: '5', help: 'ticks of silence before a follower or leader gives up on the other' },
  snapshotEvery: { flag: 'snapshot-every', env: 'ZOOGATE_SNAPSHOT_EVERY', def: '100000', help: 'transactions between snapshots' },
  snapshotRetain: { flag: 'snapshot-retain', env: 'ZOOGATE_SNAPSHOT_RETAIN', def: '3', help: 'snapshots kept (the log is purged behind the oldest)' },
  maxData: { flag: 'max-data-bytes', env: 'ZOOGATE_MAX_DATA_BYTES', def: '1048575', help: 'largest znode data in bytes' },
  maxOutstanding: { flag: 'max-outstanding', env: 'ZOOGATE_MAX_OUTSTANDING', def: '1000', help: 'writes in the pipeline beyond which clients get 429' },
  minZxidWait: { flag: 'min-zxid-wait-ms', env: 'ZOOGATE_MIN_ZXID_WAIT_MS', def: '2000', help: 'how long Zoogate-Min-Zxid waits before 503' },
  maxClientConnections: { flag: 'max-client-connections', env: 'ZOOGATE_MAX_CLIENT_CONNECTIONS', def: '1024', help: 'concurrent connections per client IP (0: no limit)' },
  clientBuffer: { flag: 'client-buffer-bytes', env: 'ZOOGATE_CLIENT_BUFFER_BYTES', def: '8388608', help: 'unread bytes after which a WebSocket/SSE client is cut off' },
  superDigest: { flag: 'super-digest', env: 'ZOOGATE_SUPER_DIGEST', def: null, help: 'user:base64(sha1(user:password)) of the superuser' },
  logLevel: { flag: 'log-level', env: 'ZOOGATE_LOG_LEVEL', def: 'info', help: 'silent, error, info or debug' },
  directCommit: { flag: 'direct-commit', env: 'ZOOGATE_DIRECT_COMMIT', def: 'on', help: 'on: a follower of a 3-server ensemble commits once it and the leader hold a write durably, without the ACK/COMMIT round trip; off: ZooKeeper\'s messages exactly' },
  logSync: { flag: 'log-sync', env: 'ZOOGATE_LOG_SYNC', def: 'inline', help: 'log fsync on the event loop (inline) or on the thread pool (deferred); durable before any ack either way' },
} as const satisfies Record<string, Setting>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function int(name: string, raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number (got ${JSON.stringify(raw)})`);
  const v = Number(raw);
  if (v < min || v > max) throw new ConfigError(`${name} must be between ${min} and ${max} (got ${v})`);
  return v;
}

export function parsePeers(raw: string): Map<number, string> {
  const peers = new Map<number, string>();
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)=([^:]+|\[[^\]]+\]):(\d+)$/.exec(part);
    if (!m) throw new ConfigError(`peer ${JSON.stringify(part)} is not id=host:port`);
    const id = int('peer id', m[1]!, 1, 255);
    if (peers.has(id)) throw new ConfigError(`peer id ${id} appears twice`);
    peers.set(id, `${m[2]}:${int('peer port', m[3]!, 1, 65535)}`);
  }
  return peers;
}

/** Builds the config from argv (after the subcommand) and an environment. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const options = Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }]));
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const get = (s: Setting): string | null => values[s.flag] ?? env[s.env] ?? s.def;
  const tickMs = int('--tick-ms', get(SETTINGS.tickMs)!, 10, 60_000);
  const logLevel = get(SETTINGS.logLevel)!;
  if (!['silent', 'error', 'info', 'debug'].includes(logLevel)) throw new ConfigError(`--log-level must be silent, error, info or debug`);
  const logSync = get(SETTINGS.logSync)!;
  if (logSync !== 'deferred' && logSync !== 'inline') throw new ConfigError('--log-sync must be deferred or inline');
  const directCommit = get(SETTINGS.directCommit)!;
  if (directCommit !== 'on' && directCommit !== 'off') throw new ConfigError('--direct-commit must be on or off');
  const superDigest = get(SETTINGS.superDigest);
  if (superDigest !== null && superDigest.split(':').length !== 2) throw new ConfigError('--super-digest must be user:base64(sha1(user:password))');
  const peers = parsePeers(get(SETTINGS.peers) ?? '');
  const serverId = int('--id', get(SETTINGS.id)!, 1, 255);
  if (peers.size > 0 && !peers.has(serverId)) throw new ConfigError(`--peers does not list this server's --id ${serverId}`);
  const cfg: ServerConfig = {
    serverId,
    host: get(SETTINGS.host)!,
    port: int('--port', get(SETTINGS.port)!, 0, 65535),
    peerPort: int('--peer-port', get(SETTINGS.peerPort)!, 0, 65535),
    peers,
    dataDir: resolve(get(SETTINGS.dataDir)!),
    secret: get(SETTINGS.secret),
    tickMs,
    initLimitTicks: int('--init-limit', get(SETTINGS.initLimit)!, 1, 1000),
    syncLimitTicks: int('--sync-limit', get(SETTINGS.syncLimit)!, 1, 1000),
    minSessionTimeoutMs: 2 * tickMs,
    maxSessionTimeoutMs: 20 * tickMs,
    maxDataBytes: int('--max-data-bytes', get(SETTINGS.maxData)!, 1, 64 * 1024 * 1024),
    snapshotEveryTxnCount: int('--snapshot-every', get(SETTINGS.snapshotEvery)!, 1, 1e9),
    snapshotRetainCount: int('--snapshot-retain', get(SETTINGS.snapshotRetain)!, 1, 1000),
    maxOutstandingRequests: int('--max-outstanding', get(SETTINGS.maxOutstanding)!, 1, 1e7),
    minZxidWaitMs: int('--min-zxid-wait-ms', get(SETTINGS.minZxidWait)!, 0, 600_000),
    maxExpiredDeletesPerTick: 1000,
    clientBufferBytes: int('--client-buffer-bytes', get(SETTINGS.clientBuffer)!, 1024, 1 << 30),
    maxClientConnections: int('--max-client-connections', get(SETTINGS.maxClientConnections)!, 0, 1e6),
    superDigest,
    logLevel: logLevel as ServerConfig['logLevel'],
    logSync,
    directCommit: directCommit === 'on',
    faultFile: env.ZOOGATE_FAULT_FILE ?? null,
  };
  return { ...cfg, ...overrides };
}

export function configHelp(): string {
  return Object.values(SETTINGS)
    .map((s: Setting) => `  --${s.flag.padEnd(18)} ${s.env.padEnd(26)} ${s.help}${s.def !== null && s.def !== '' ? ` (default ${s.def})` : ''}`)
    .join('\n');
}
