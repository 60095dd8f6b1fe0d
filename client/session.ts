/**
 * A ZooGate session over the WebSocket (`GET /ws`), as ZooKeeper's client
 * connection: one socket at a time to one node of a list, requests pipelined
 * with ids and answered in order, watch events delivered to watchers, and a
 * session that moves to another node when its socket drops (resumed with
 * `sessionId`, `lastZxid` and every watch it holds) until it is told, or can
 * tell, that it expired.
 *
 * Frames are the spec's `WsClientMessage` / `WsServerMessage`; every request
 * and result type is derived from the generated schemas (see types.ts).
 */
import WebSocket from 'ws';
import { fromWire, multiOpToWire, toWire } from './data.ts';
import { ZooGateError } from './errors.ts';
import { ZooGateRest } from './rest.ts';
import type {
  AclList, CreateMode, DataAs, DataInput, DataOf, MultiOpInput, MultiResponse, PersistentWatchMode, RemoveWatchKind, Stat, SyncResponse,
  WatchEvent, WatchKind, WsClientMessage, WsConnect, WsConnected, WsOp, WsParams, WsRequestOf, WsResultOf, WsServerMessage, WsWatch,
  ZnodeAcl, ZnodeChildren, ZnodeCreated, ZnodeSet, ZnodeValue,
} from './types.ts';

/** Where the session is: connecting for the first time, connected, looking for a node, or over. */
export type SessionState = 'Connecting' | 'Connected' | 'Disconnected' | 'Expired' | 'Closed';

/**
 * A change of state, as listeners see it. `Reconnected`: the same session
 * resumed on a node (its ephemerals and watches intact). `Expired`: the
 * session is gone (its ephemerals deleted, its watches dropped): build a new
 * one, as with ZooKeeper.
 */
export interface StateChange {
  readonly state: 'Connected' | 'Disconnected' | 'Reconnected' | 'Expired' | 'Closed';
  /** The node now connected to (Connected, Reconnected) or just lost (Disconnected). */
  readonly node?: string;
  readonly serverId?: number;
  /** Why (Disconnected, Expired, Closed): a close code and reason, `timeout`, `server`, `local`. */
  readonly reason?: string;
}

/** Called with the event that fired a watch. */
export type Watcher = (event: WatchEvent) => void;

export interface SessionOptions {
  /** The session timeout asked for, in ms (the server clamps it). */
  timeoutMs?: number;
  /** HTTP Basic credentials on the upgrade: ZooKeeper's `digest` identity. */
  auth?: { user: string; password: string };
  /** Try the nodes in a random order (default true), as ZooKeeper's connect string. */
  shuffle?: boolean;
  /**
   * Re-send reads (get, children, exists, getAcl, sync, addWatch,
   * removeWatches) that were in flight when the socket dropped, once resumed
   * (default true). Writes in flight are never re-sent: they fail with
   * ConnectionLoss and `outcomeUnknown`.
   */
  retryReads?: boolean;
  /** How long the first `connect` keeps trying the nodes (default 10 s). */
  connectTimeoutMs?: number;
  /** How long one attempt on one node may take (default: session timeout / number of nodes, at least 200 ms). */
  attemptTimeoutMs?: number;
  /**
   * A pause before looking for another node after the socket dropped (ZooKeeper
   * waits a random moment so clients do not all stampede). Default: random, up
   * to 1/20 of the session timeout (at most 100 ms).
   */
  reconnectDelayMs?: number;
  /** A zxid the session must not read behind (say, a REST client's `lastZxid`). */
  minZxid?: number;
}

export interface GetOptions<A extends DataAs> {
  /** Data as bytes (default) or as text. */
  as?: A;
  /** Set a one-shot data watch; a function is called when it fires (every event also reaches `onEvent`). */
  watch?: boolean | Watcher;
}

export interface WatchOption {
  watch?: boolean | Watcher;
}

export interface CreateOptions {
  mode?: CreateMode;
  ttl?: number;
  parents?: boolean;
  acl?: AclList | string;
}

interface Pending {
  readonly id: number;
  readonly op: WsOp;
  readonly frame: WsClientMessage;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: ZooGateError) => void;
  /** What to register once the answer says the watch is set. */
  readonly watch?: { path: string; kind: 'data' | 'children' | 'exists-or-data' | 'persistent' | 'persistent_recursive'; fn: Watcher | null };
  readonly remove?: { path: string; kind: RemoveWatchKind };
}

type AttemptResult =
  | { kind: 'connected' }
  | { kind: 'expired'; state: 'Expired' | 'Closed' }
  | { kind: 'stale' | 'failed'; reason: string };

/** One socket and where it is in its life. */
interface Conn {
  readonly ws: WebSocket;
  readonly url: string;
  phase: 'handshake' | 'live' | 'dead';
  settle: ((r: AttemptResult) => void) | null;
  /** The session ended on this socket (a `state` frame). */
  ended: boolean;
}

const WRITES: ReadonlySet<WsOp> = new Set<WsOp>(['create', 'set', 'delete', 'multi', 'setAcl']);
const ONE_SHOT: Record<WatchEvent['event'], readonly WatchKind[]> = {
  NodeCreated: ['data', 'exists'],
  NodeDataChanged: ['data', 'exists'],
  NodeChildrenChanged: ['children'],
  NodeDeleted: ['data', 'exists', 'children'],
};
const REMOVES: Record<RemoveWatchKind, readonly WatchKind[]> = {
  data: ['data', 'exists'],
  children: ['children'],
  persistent: ['persistent'],
  persistent_recursive: ['persistent_recursive'],
  any: ['data', 'exists', 'children', 'persistent', 'persistent_recursive'],
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Every zxid a result shows (stats, a multi's or sync's zxid): the client has seen at least the highest. */
function maxZxid(v: unknown, depth = 0): number {
  if (typeof v !== 'object' || v === null || depth > 4) return 0;
  let m = 0;
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'number' && (k === 'zxid' || k === 'czxid' || k === 'mzxid' || k === 'pzxid')) m = Math.max(m, x);
    else if (typeof x === 'object') m = Math.max(m, maxZxid(x, depth + 1));
  }
  return m;
}

/**
 * A ZooGate session. Create one with `await ZooGateSession.connect(urls)`.
 * Methods return promises that settle with the spec's result types or reject
 * with a `ZooGateError`; state changes and watch events reach listeners
 * (`onState`, `onEvent`, `events()`).
 */
export class ZooGateSession {
  readonly urls: readonly string[];
  private readonly opts: SessionOptions;
  private readonly order: string[];
  private next = 0;

  private _state: SessionState = 'Connecting';
  private _sessionId: string | null = null;
  private _timeoutMs = 0;
  private _serverId: number | null = null;
  private zxid: number;
  /**
   * The zxid through which every event of this session has arrived: what a
   * resume asks the next node to replay after. A socket that dies in the middle
   * of one transaction's events (a delete firing a data and a child watch) has
   * delivered some of them only, so an event at Z vouches for Z-1, a response
   * (sent after the events of every transaction it reflects) for its zxid.
   */
  private eventsThrough = 0;
  /** The events of the newest transaction seen, so a replay of it is not delivered twice. */
  private lastEventZxid = 0;
  private lastEventKeys = new Set<string>();
  private everConnected = false;

  private conn: Conn | null = null;
  private lastHeard = 0;
  private liveness: NodeJS.Timeout | null = null;
  private reconnecting = false;
  private closing: Promise<void> | null = null;

  private nextId = 1;
  private readonly inflight = new Map<number, Pending>();
  private queue: Pending[] = [];

  /** The watches held, by kind and path; a path's set holds the watcher functions (empty: the default watcher only). */
  private readonly watches: Record<WatchKind, Map<string, Set<Watcher>>> = {
    data: new Map(), exists: new Map(), children: new Map(), persistent: new Map(), persistent_recursive: new Map(),
  };

  private readonly stateListeners = new Set<(c: StateChange) => void>();
  private readonly eventListeners = new Set<(e: WatchEvent) => void>();
  private readonly compactedListeners = new Set<(info: { lastZxid: number; node: string }) => void>();
  private readonly errorListeners = new Set<(e: unknown) => void>();
  private readonly endWaiters = new Set<() => void>();

  private constructor(urls: string | readonly string[], opts: SessionOptions) {
    const list = (typeof urls === 'string' ? urls.split(',') : [...urls]).map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
    if (list.length === 0) throw new ZooGateError('BadArguments', 'no node URL given');
    for (const u of list) {
      if (!/^(https?|wss?):\/\/[^/]/.test(u)) throw new ZooGateError('BadArguments', `a node URL is http(s)://host:port: ${JSON.stringify(u)}`);
    }
    this.urls = list;
    this.opts = opts;
    this.order = opts.shuffle === false ? [...list] : shuffled(list);
    this.zxid = opts.minZxid ?? 0;
  }

  /** Opens a session on one of the nodes; resolves once connected, rejects (ConnectionLoss) if none would have it in time. */
  static async connect(urls: string | readonly string[], opts: SessionOptions = {}): Promise<ZooGateSession> {
    const s = new ZooGateSession(urls, opts);
    await s.establish(true);
    return s;
  }

  // ---- what the session is ----

  get state(): SessionState {
    return this._state;
  }
  /** The session id (16 hex digits), the owner of its ephemeral nodes. */
  get sessionId(): string {
    return this._sessionId ?? '';
  }
  /** The negotiated session timeout in ms. */
  get timeoutMs(): number {
    return this._timeoutMs;
  }
  /** The id of the node connected to, while connected. */
  get serverId(): number | null {
    return this._state === 'Connected' ? this._serverId : null;
  }
  /** The URL of the node connected to, while connected. */
  get node(): string | null {
    return this._state === 'Connected' ? (this.conn?.url ?? null) : null;
  }
  /** The highest zxid seen (connect, stats, events, multi, sync): the session never resumes on a node behind it. */
  get lastZxid(): number {
    return this.zxid;
  }

  // ---- listeners ----

  /** State changes; returns a function that removes the listener. */
  onState(fn: (change: StateChange) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** Every watch event (the default watcher); returns a function that removes the listener. */
  onEvent(fn: (event: WatchEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  /**
   * After a move, the node could not replay what the persistent watches missed
   * (its log no longer reaches back to the session's lastZxid): they fire from
   * now on, and what changed meanwhile must be read. One-shot watches are not
   * affected.
   */
  onCompacted(fn: (info: { lastZxid: number; node: string }) => void): () => void {
    this.compactedListeners.add(fn);
    return () => this.compactedListeners.delete(fn);
  }

  /** Errors thrown by listeners and watchers (otherwise swallowed). */
  onError(fn: (err: unknown) => void): () => void {
    this.errorListeners.add(fn);
    return () => this.errorListeners.delete(fn);
  }

  /** The watch events from now on, as an async iterator; it ends when the session does (or on `break`). */
  events(): AsyncIterableIterator<WatchEvent> {
    const buffered: WatchEvent[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const stop = () => {
      done = true;
      offEvent();
      this.endWaiters.delete(onEnd);
      wake?.();
    };
    const offEvent = this.onEvent((e) => {
      buffered.push(e);
      wake?.();
    });
    const onEnd = () => stop();
    if (this.ended) done = true;
    else this.endWaiters.add(onEnd);
    const it: AsyncIterableIterator<WatchEvent> = {
      next: async () => {
        while (buffered.length === 0 && !done) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (buffered.length > 0) return { value: buffered.shift()!, done: false };
        return { value: undefined, done: true };
      },
      return: async () => {
        stop();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  // ---- operations ----

  /**
   * Sends one request as the spec defines it (`WsRequest`) and resolves with
   * its result (`WsResult` for that op). The typed methods below are built on it.
   */
  request<O extends WsOp>(op: O, params: WsParams<O>): Promise<WsResultOf<O>> {
    return this.submit(op, params) as Promise<WsResultOf<O>>;
  }

  async create(path: string, data?: DataInput, opts: CreateOptions = {}): Promise<ZnodeCreated> {
    return this.request('create', { path, ...(data === undefined ? {} : toWire(data)), mode: opts.mode, ttl: opts.ttl, parents: opts.parents, acl: opts.acl });
  }

  get(path: string, opts?: GetOptions<'bytes'>): Promise<ZnodeValue<Uint8Array>>;
  get(path: string, opts: GetOptions<'utf8'>): Promise<ZnodeValue<string>>;
  async get<A extends DataAs>(path: string, opts: GetOptions<A> = {}): Promise<ZnodeValue<DataOf<A>>> {
    const as = (opts.as ?? 'bytes') as A;
    const params: WsParams<'get'> = { path, encoding: as === 'bytes' ? 'base64' : undefined, watch: opts.watch ? true : undefined };
    const r = (await this.submit('get', params, opts.watch ? { path, kind: 'data', fn: typeof opts.watch === 'function' ? opts.watch : null } : undefined)) as WsResultOf<'get'>;
    return { path: r.path, data: fromWire(r.data, r.encoding, as), stat: r.stat };
  }

  async children(path: string, opts: WatchOption = {}): Promise<ZnodeChildren> {
    const params: WsParams<'children'> = { path, watch: opts.watch ? true : undefined };
    return (await this.submit('children', params, opts.watch ? { path, kind: 'children', fn: typeof opts.watch === 'function' ? opts.watch : null } : undefined)) as ZnodeChildren;
  }

  /** The Stat, or null; `watch` sets a data watch on an existing node, an exists watch (NodeCreated) on an absent one. */
  async exists(path: string, opts: WatchOption = {}): Promise<Stat | null> {
    const params: WsParams<'exists'> = { path, watch: opts.watch ? true : undefined };
    const r = (await this.submit('exists', params, opts.watch ? { path, kind: 'exists-or-data', fn: typeof opts.watch === 'function' ? opts.watch : null } : undefined)) as WsResultOf<'exists'>;
    return r.stat;
  }

  async set(path: string, data: DataInput, opts: { version?: number } = {}): Promise<ZnodeSet> {
    return this.request('set', { path, ...toWire(data), version: opts.version });
  }

  async delete(path: string, opts: { version?: number; recursive?: boolean } = {}): Promise<void> {
    await this.request('delete', { path, version: opts.version, recursive: opts.recursive });
  }

  async multi(ops: readonly MultiOpInput[]): Promise<MultiResponse> {
    return this.request('multi', { ops: ops.map(multiOpToWire) });
  }

  /** The node connected to catches up with the leader (so the next read is linearizable). */
  async sync(path = '/'): Promise<SyncResponse> {
    return this.request('sync', { path });
  }

  async getAcl(path: string): Promise<ZnodeAcl> {
    return this.request('getAcl', { path });
  }

  async setAcl(path: string, acl: AclList, opts: { aversion?: number } = {}): Promise<ZnodeAcl> {
    return this.request('setAcl', { path, acl, aversion: opts.aversion });
  }

  /** A watch that stays (ZooKeeper's addWatch): every change of `path`, or (recursive) at or under it. */
  async addWatch(path: string, mode: PersistentWatchMode, watcher?: Watcher): Promise<void> {
    await this.submit('addWatch', { path, mode } satisfies WsParams<'addWatch'>, { path, kind: mode, fn: watcher ?? null });
  }

  /** Drops this session's watches of a kind on a path (NoWatcher if none). */
  async removeWatches(path: string, kind: RemoveWatchKind = 'any'): Promise<void> {
    const p = this.submit('removeWatches', { path, kind } satisfies WsParams<'removeWatches'>, undefined, { path, kind });
    await p;
  }

  /** The watches this session holds, as it re-registers them when it moves. */
  heldWatches(): WsWatch[] {
    const out: WsWatch[] = [];
    for (const kind of Object.keys(this.watches) as WatchKind[]) for (const path of this.watches[kind].keys()) out.push({ path, kind });
    return out;
  }

  /**
   * Closes the session (`{"type":"close"}`): its ephemeral nodes go at once.
   * Requests already sent are answered first. Idempotent.
   */
  close(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.closing ??= this.doClose();
    return this.closing;
  }

  // ---- requests ----

  private get ended(): boolean {
    return this._state === 'Expired' || this._state === 'Closed';
  }

  private submit(op: WsOp, params: object, watch?: Pending['watch'], remove?: Pending['remove']): Promise<unknown> {
    if (this.ended || this.closing !== null) {
      return Promise.reject(new ZooGateError(this._state === 'Expired' ? 'SessionExpired' : 'SessionClosed', `the session is ${this.closing ? 'closing' : this._state.toLowerCase()}`, { path: (params as { path?: string }).path }));
    }
    const id = this.nextId++;
    // fields left undefined are dropped by JSON.stringify; the frame is the spec's WsRequest for `op`
    const frame = { type: 'request', id, op, ...params } as WsRequestOf<typeof op>;
    return new Promise((resolve, reject) => {
      const p: Pending = { id, op, frame, resolve, reject, watch, remove };
      if (this._state === 'Connected' && this.conn !== null) this.sendPending(p);
      else this.queue.push(p);
    });
  }

  private sendPending(p: Pending): void {
    const ws = this.conn!.ws;
    // a socket already closing (its close event not yet here) never sends it: it waits for the next node
    if (ws.readyState !== ws.OPEN) {
      this.queue.push(p);
      return;
    }
    this.inflight.set(p.id, p);
    ws.send(JSON.stringify(p.frame));
  }

  private onResponse(msg: Extract<WsServerMessage, { type: 'response' }>): void {
    const id = typeof msg.id === 'number' ? msg.id : Number(msg.id);
    const p = this.inflight.get(id);
    if (p === undefined) return;
    this.inflight.delete(id);
    if (msg.ok) {
      this.observe(maxZxid(msg.result));
      if (typeof msg.zxid === 'number' && msg.zxid > this.eventsThrough) this.eventsThrough = msg.zxid;
      if (p.watch) this.register(p.watch, p.op === 'exists' ? (msg.result as WsResultOf<'exists'>).stat : null);
      if (p.remove) for (const k of REMOVES[p.remove.kind]) this.watches[k].delete(p.remove.path);
      p.resolve(msg.result);
    } else {
      const path = msg.error.path ?? (p.frame as { path?: string }).path;
      // 504 OperationTimeout on a write (its leader went): "may or may not have been applied", as over REST
      const outcomeUnknown = msg.error.code === 'OperationTimeout' && WRITES.has(p.op);
      p.reject(new ZooGateError(msg.error.code, msg.error.message, { path, failedOp: msg.failedOp, results: msg.results, node: this.conn?.url, outcomeUnknown }));
    }
  }

  private register(w: NonNullable<Pending['watch']>, stat: Stat | null): void {
    const kind: WatchKind = w.kind === 'exists-or-data' ? (stat === null ? 'exists' : 'data') : w.kind;
    let set = this.watches[kind].get(w.path);
    if (set === undefined) this.watches[kind].set(w.path, (set = new Set()));
    if (w.fn) set.add(w.fn);
  }

  /** Which watches an event fires, as the server decides it: one-shot ones are consumed, persistent ones stay. */
  private onWatchEvent(ev: WatchEvent): void {
    // a resume replays from eventsThrough: drop what this session already had
    const key = `${ev.event} ${ev.path}`;
    if (ev.zxid < this.lastEventZxid || (ev.zxid === this.lastEventZxid && this.lastEventKeys.has(key))) return;
    if (ev.zxid > this.lastEventZxid) {
      this.lastEventZxid = ev.zxid;
      this.lastEventKeys = new Set();
    }
    this.lastEventKeys.add(key);
    if (ev.zxid - 1 > this.eventsThrough) this.eventsThrough = ev.zxid - 1;
    this.observe(ev.zxid);
    const fired = new Set<Watcher>();
    for (const kind of ONE_SHOT[ev.event]) {
      const set = this.watches[kind].get(ev.path);
      if (set === undefined) continue;
      this.watches[kind].delete(ev.path);
      for (const f of set) fired.add(f);
    }
    for (const f of this.watches.persistent.get(ev.path) ?? []) fired.add(f);
    if (ev.event !== 'NodeChildrenChanged' && this.watches.persistent_recursive.size > 0) {
      for (let p = ev.path; ; p = parentOf(p)) {
        for (const f of this.watches.persistent_recursive.get(p) ?? []) fired.add(f);
        if (p === '/') break;
      }
    }
    for (const f of this.eventListeners) this.safely(() => f(ev));
    for (const f of fired) this.safely(() => f(ev));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      for (const l of this.errorListeners) {
        try {
          l(e);
        } catch {
          // an error listener that throws has nowhere left to report to
        }
      }
    }
  }

  private emitState(change: StateChange): void {
    for (const f of this.stateListeners) this.safely(() => f(change));
  }

  private observe(zxid: number): void {
    if (Number.isSafeInteger(zxid) && zxid > this.zxid) this.zxid = zxid;
  }

  // ---- connecting ----

  private attemptTimeout(): number {
    if (this.opts.attemptTimeoutMs !== undefined) return this.opts.attemptTimeoutMs;
    const t = this._timeoutMs || this.opts.timeoutMs || 10_000;
    return Math.max(200, Math.floor(t / this.urls.length));
  }

  private hello(): WsConnect {
    if (this._sessionId === null) {
      return { type: 'connect', timeoutMs: this.opts.timeoutMs, lastZxid: this.zxid > 0 ? this.zxid : undefined };
    }
    return { type: 'connect', sessionId: this._sessionId, lastZxid: this.eventsThrough > 0 ? this.eventsThrough : undefined, watches: this.heldWatches() };
  }

  /**
   * Goes round the nodes until one takes the session. First connect: until
   * `connectTimeoutMs`. Resume: until the session's timeout has passed since
   * the last word from any node, after which it has certainly expired on the
   * ensemble's side too (or will, once the ensemble is back): Expired.
   */
  private async establish(initial: boolean): Promise<void> {
    const deadline = () => (initial ? start + (this.opts.connectTimeoutMs ?? 10_000) : this.lastHeard + this._timeoutMs);
    const start = Date.now();
    let lastReason = 'no node tried';
    for (let round = 0; ; round++) {
      for (let i = 0; i < this.order.length; i++) {
        if (this.ended || (this.closing !== null && !initial)) return;
        const left = deadline() - Date.now();
        if (left <= 0) break;
        const url = this.order[this.next]!;
        this.next = (this.next + 1) % this.order.length;
        const r = await this.attempt(url, Math.min(this.attemptTimeout(), left));
        if (r.kind === 'connected') return;
        if (r.kind === 'expired') {
          if (initial) throw new ZooGateError('SessionExpired', `${url} refused to open a session`, { node: url });
          this.end(r.state, 'server');
          return;
        }
        lastReason = `${url}: ${r.reason}`;
      }
      if (deadline() - Date.now() <= 0) break;
      await sleep(Math.min(25 * 2 ** Math.min(round, 4), Math.max(0, deadline() - Date.now())));
    }
    if (initial) {
      this._state = 'Closed';
      throw new ZooGateError('ConnectionLoss', `no node took the session in time (last: ${lastReason})`);
    }
    this.end('Expired', `timeout: no node reachable for the session timeout (${this._timeoutMs} ms); last: ${lastReason}`);
  }

  /** One try on one node: open the socket, send connect, and see what comes back. */
  private attempt(url: string, timeoutMs: number): Promise<AttemptResult> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = {};
      const auth = this.opts.auth;
      if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { headers, handshakeTimeout: timeoutMs, perMessageDeflate: false });
      const conn: Conn = { ws, url, phase: 'handshake', settle: null, ended: false };
      const timer = setTimeout(() => conn.settle?.({ kind: 'failed', reason: `no answer in ${timeoutMs} ms` }), timeoutMs);
      conn.settle = (r) => {
        conn.settle = null;
        clearTimeout(timer);
        if (r.kind !== 'connected') {
          conn.phase = 'dead';
          ws.removeAllListeners('message');
          ws.terminate();
        }
        resolve(r);
      };
      ws.on('open', () => ws.send(JSON.stringify(this.hello() satisfies WsClientMessage)));
      ws.on('message', (data) => this.onFrame(conn, data));
      ws.on('ping', () => {
        if (conn.phase === 'live') this.lastHeard = Date.now();
      });
      ws.on('close', (code, reason) => this.onSocketClose(conn, code, String(reason)));
      ws.on('error', () => {}); // a close follows
    });
  }

  private onFrame(conn: Conn, data: WebSocket.RawData): void {
    if (conn.phase === 'dead') return;
    let msg: WsServerMessage;
    try {
      msg = JSON.parse(String(data)) as WsServerMessage;
    } catch {
      return;
    }
    if (conn.phase === 'handshake') {
      if (msg.type === 'connected') {
        // closed meanwhile (close() while this attempt was under way): the session is over here
        if (this.ended) return conn.settle?.({ kind: 'failed', reason: 'the session is over' });
        // the resume asked for events after eventsThrough, which may be behind what this session has seen:
        // a node behind that is stale for it (the server's own check compares with eventsThrough only)
        if (this.everConnected && msg.zxid < this.zxid) return conn.settle?.({ kind: 'stale', reason: `StaleServer: ${conn.url} has applied ${msg.zxid}, the session has seen ${this.zxid}` });
        conn.phase = 'live';
        this.goLive(conn, msg);
        conn.settle?.({ kind: 'connected' });
      } else if (msg.type === 'state') {
        conn.settle?.({ kind: 'expired', state: msg.state });
      } else if (msg.type === 'error') {
        conn.settle?.({ kind: msg.code === 'StaleServer' ? 'stale' : 'failed', reason: `${msg.code}: ${msg.message}` });
      }
      return;
    }
    if (conn !== this.conn) return;
    this.lastHeard = Date.now();
    switch (msg.type) {
      case 'response':
        return this.onResponse(msg);
      case 'event':
        return this.onWatchEvent(msg);
      case 'compacted':
        for (const f of this.compactedListeners) this.safely(() => f({ lastZxid: msg.lastZxid, node: conn.url }));
        return;
      case 'state':
        conn.ended = true;
        return this.end(msg.state, this.closing !== null && msg.state === 'Closed' ? 'local' : 'server');
      default:
        return; // pong; an error frame is followed by a close
    }
  }

  /** Connected (first time or resumed): send what waited, then tell the listeners. */
  private goLive(conn: Conn, msg: WsConnected): void {
    const resumed = this.everConnected;
    this.everConnected = true;
    this.conn = conn;
    this._sessionId = msg.sessionId;
    this._timeoutMs = msg.timeoutMs;
    this._serverId = msg.serverId;
    this.observe(msg.zxid);
    // a new session has no watch whose events could still be coming; a resumed one gets its replay next
    if (!resumed && msg.zxid > this.eventsThrough) this.eventsThrough = msg.zxid;
    this.lastHeard = Date.now();
    this._state = 'Connected';
    this.startLiveness(conn);
    const waiting = this.queue.sort((a, b) => a.id - b.id);
    this.queue = [];
    for (const p of waiting) this.sendPending(p);
    this.emitState({ state: resumed ? 'Reconnected' : 'Connected', node: conn.url, serverId: msg.serverId });
  }

  /**
   * The server pings every third of the timeout; a socket silent for two
   * thirds of it is dead (a node stopped, a network gone) and is dropped, so
   * the session moves on while it still lives.
   */
  private startLiveness(conn: Conn): void {
    this.stopLiveness();
    const every = Math.max(50, Math.floor(this._timeoutMs / 3));
    const silent = Math.max(100, Math.floor((this._timeoutMs * 2) / 3));
    this.liveness = setInterval(() => {
      if (conn === this.conn && Date.now() - this.lastHeard > silent) {
        conn.ws.terminate();
        this.lost(conn, `nothing heard for ${silent} ms`);
      }
    }, every);
  }

  private stopLiveness(): void {
    if (this.liveness !== null) clearInterval(this.liveness);
    this.liveness = null;
  }

  private onSocketClose(conn: Conn, code: number, reason: string): void {
    if (conn.phase === 'handshake') {
      conn.settle?.({ kind: 'failed', reason: `closed ${code}${reason ? ` ${reason}` : ''}` });
      return;
    }
    if (conn.phase === 'dead') return;
    conn.phase = 'dead';
    if (conn !== this.conn || conn.ended) return;
    this.lost(conn, `closed ${code}${reason ? ` ${reason}` : ''}`);
  }

  /**
   * The socket is gone but the session may live: writes in flight fail with
   * ConnectionLoss and `outcomeUnknown` (never re-sent), reads wait to be
   * re-sent (or fail, with `retryReads: false`), and the session looks for
   * another node.
   */
  private lost(conn: Conn, reason: string): void {
    if (conn !== this.conn) return;
    conn.phase = 'dead';
    this.conn = null;
    this.stopLiveness();
    this._state = 'Disconnected';
    const retryReads = this.opts.retryReads ?? true;
    const retry: Pending[] = [];
    for (const p of this.inflight.values()) {
      const write = WRITES.has(p.op);
      if (!write && retryReads) retry.push(p);
      else {
        p.reject(new ZooGateError('ConnectionLoss', `${conn.url}: connection lost (${reason})${write ? '; the write may or may not have been applied' : ''}`, {
          path: (p.frame as { path?: string }).path, node: conn.url, outcomeUnknown: write,
        }));
      }
    }
    this.inflight.clear();
    this.queue = [...retry, ...this.queue];
    this.emitState({ state: 'Disconnected', node: conn.url, reason });
    if (this.closing === null) void this.reconnect(); // else close() finishes the job
  }

  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      // again if the node that took the session lost it before this loop noticed
      while (this._state === 'Disconnected' && this.closing === null) {
        const delay = this.opts.reconnectDelayMs ?? Math.random() * Math.min(100, this._timeoutMs / 20);
        if (delay > 0) await sleep(delay);
        await this.establish(false);
      }
    } catch (e) {
      this.end('Expired', `reconnect failed: ${(e as Error).message}`);
    } finally {
      this.reconnecting = false;
    }
  }

  /** The session is over: everything waiting fails, watches go, listeners hear it once. */
  private end(state: 'Expired' | 'Closed', reason: string): void {
    if (this.ended) return;
    this._state = state;
    this.stopLiveness();
    const code = state === 'Expired' ? 'SessionExpired' : 'SessionClosed';
    const node = this.conn?.url;
    for (const p of [...this.inflight.values(), ...this.queue]) {
      const sent = this.inflight.has(p.id);
      p.reject(new ZooGateError(code, `the session ${state === 'Expired' ? 'expired' : 'was closed'}${sent && WRITES.has(p.op) ? '; the write may or may not have been applied' : ''}`, {
        path: (p.frame as { path?: string }).path, node, outcomeUnknown: sent && WRITES.has(p.op),
      }));
    }
    this.inflight.clear();
    this.queue = [];
    for (const m of Object.values(this.watches)) m.clear();
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      conn.phase = 'dead';
      conn.ws.close();
      setTimeout(() => conn.ws.terminate(), 1000).unref();
    }
    this.emitState({ state, reason });
    for (const w of [...this.endWaiters]) w();
    this.endWaiters.clear();
  }

  private async doClose(): Promise<void> {
    const conn = this.conn;
    if (this._state === 'Connected' && conn !== null) {
      // answers to what was sent come first (a read queued behind a write would lose its answer to the close)
      const drainBy = Date.now() + Math.min(this._timeoutMs || 5000, 5000);
      while (this.inflight.size > 0 && this.conn === conn && Date.now() < drainBy) await sleep(5);
      if (this.conn === conn && !this.ended) {
        conn.ws.send(JSON.stringify({ type: 'close' } satisfies WsClientMessage));
        // answered by `state` Closed (then end()); a socket lost meanwhile leaves it to closeElsewhere
        const by = Date.now() + 5000;
        while (!this.ended && this.conn === conn && Date.now() < by) await sleep(5);
      }
    }
    if (!this.ended) await this.closeElsewhere();
  }

  /** Closing while no socket is open: close the session over REST on any node that answers (best effort). */
  private async closeElsewhere(): Promise<void> {
    if (this.ended) return;
    const id = this._sessionId;
    if (id !== null) {
      const rest = new ZooGateRest(this.urls, { shuffle: false, requestTimeoutMs: 1000, retryTimeoutMs: 1000, ...(this.opts.auth ? { auth: this.opts.auth } : {}) });
      await rest.closeSession(id).catch(() => {});
    }
    this.end('Closed', 'local');
  }
}
