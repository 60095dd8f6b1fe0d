/**
 * ZooGate over REST: the client generated from openapi.yaml (openapi-fetch
 * over the generated `paths`), wrapped for people. One `ZooGateRest` talks to
 * a list of nodes: it stays on one while it answers and moves to the next on a
 * connection error or `503 NoQuorum`, for reads always and for writes only
 * when the write certainly was not applied; it sends the highest
 * `Zoogate-Zxid` it has seen as `Zoogate-Min-Zxid`, so moving between nodes
 * never shows older state than it has seen.
 */
import createClient from 'openapi-fetch';
import type { paths } from '../api/generated/openapi.ts';
import { fromWire, multiOpToWire, toBytes } from './data.ts';
import { codeOfStatus, ZooGateError } from './errors.ts';
import type {
  AclList, Cluster, CreateMode, DataAs, DataInput, DataOf, ErrorCode, MultiOpInput, MultiOpOutcome, MultiResponse, SessionInfo,
  SessionJson, Stat, SyncResponse, ZnodeAcl, ZnodeChildren, ZnodeCreated, ZnodeData, ZnodeSet, ZnodeValue,
} from './types.ts';

type Api = ReturnType<typeof createClient<paths>>;
type Method = 'get' | 'head' | 'post' | 'put' | 'delete';
/** The query of an operation, from the generated paths (with `satisfies`, a misspelt parameter does not compile). */
type QueryOf<P extends keyof paths, M extends Method> = NonNullable<NonNullable<paths[P][M]> extends { parameters: { query?: infer Q } } ? Q : never>;
type HeaderOf<P extends keyof paths, M extends Method> = NonNullable<NonNullable<paths[P][M]> extends { parameters: { header?: infer H } } ? H : never>;

export interface RestOptions {
  /** Start on a random node of the list (default true), as ZooKeeper shuffles its connect string. */
  shuffle?: boolean;
  /** HTTP Basic credentials: ZooKeeper's `digest` identity `user:base64(sha1(user:password))`. */
  auth?: { user: string; password: string };
  /** How long one request to one node may take (default 10 s). */
  requestTimeoutMs?: number;
  /**
   * How long to keep moving between nodes while they are unreachable or
   * without quorum (default 5 s), before the last error is thrown.
   */
  retryTimeoutMs?: number;
  /** A zxid this client must not read behind (say, another client's `lastZxid`). */
  minZxid?: number;
  /** A fetch to use instead of the global one. */
  fetch?: (input: Request) => Promise<Response>;
}

/** Options every call takes. */
export interface CallOptions {
  /** The session the request runs in (`Zoogate-Session`): owns ephemerals, receives watches. */
  session?: string;
}

export interface ReadOptions extends CallOptions {
  /** Catch the node up with the leader first (a linearizable read). */
  sync?: boolean;
  /** Set a one-shot watch for `session` (its events arrive on that session's WebSocket). */
  watch?: boolean;
}

export interface GetOptions<A extends DataAs> extends ReadOptions {
  /** Data as bytes (default) or as text (UTF-8; invalid sequences replaced). */
  as?: A;
}

export interface CreateOptions extends CallOptions {
  mode?: CreateMode;
  /** For the `*_with_ttl` modes, in ms. */
  ttl?: number;
  /** Create missing ancestors in the same transaction. */
  parents?: boolean;
  /** The ACL, as a list or in the `Zoogate-Acl` form (`world:anyone:r,digest:alice:HASH:cdrwa`). */
  acl?: AclList | string;
}

export interface VersionOptions extends CallOptions {
  /** Expected data version; -1 or absent matches any. */
  version?: number;
}

export interface DeleteOptions extends VersionOptions {
  /** Delete the whole subtree in one transaction. */
  recursive?: boolean;
}

/** What kind of call: reads move freely between nodes; writes only when surely not applied. */
type Kind = 'read' | 'write';

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Errors from fetch that happen before the request could have left: safe to send elsewhere, even a write. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The znode path as the `{path}` parameter: without its leading slash (empty for the root). */
function param(path: string): { path: { path: string } } {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new ZooGateError('BadArguments', `a znode path is absolute: ${JSON.stringify(path)}`, { path });
  return { path: { path: path.slice(1) } };
}

/** Raw data bytes as the request body (never JSON), per the contract. */
function rawBody(data: DataInput) {
  return {
    body: toBytes(data) as never,
    bodySerializer: (b: unknown) => b as Uint8Array,
    headers: { 'content-type': 'application/octet-stream' },
  };
}

/**
 * A REST client for a ZooGate ensemble. Every method throws a `ZooGateError`
 * on failure; see the class's module comment for failover and `Zoogate-Min-Zxid`.
 */
export class ZooGateRest {
  readonly urls: readonly string[];
  private readonly apis: Api[];
  private current: number;
  private zxid: number;
  private readonly requestTimeoutMs: number;
  private readonly retryTimeoutMs: number;

  constructor(urls: string | readonly string[], opts: RestOptions = {}) {
    const list = (typeof urls === 'string' ? urls.split(',') : [...urls]).map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== '');
    if (list.length === 0) throw new ZooGateError('BadArguments', 'no node URL given');
    this.urls = list;
    const headers: Record<string, string> = {};
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`;
    this.apis = list.map((baseUrl) => createClient<paths>({ baseUrl, headers, ...(opts.fetch ? { fetch: opts.fetch } : {}) }));
    this.current = opts.shuffle === false ? 0 : Math.floor(Math.random() * list.length);
    this.zxid = opts.minZxid ?? 0;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.retryTimeoutMs = opts.retryTimeoutMs ?? 5_000;
  }

  /** The highest zxid seen (every answer's `Zoogate-Zxid`): this client never reads state older than it. */
  get lastZxid(): number {
    return this.zxid;
  }

  /** The node the next request goes to first. */
  get node(): string {
    return this.urls[this.current]!;
  }

  /** Raises the floor of what this client may read (a zxid another client or a session has seen). */
  observeZxid(zxid: number): void {
    if (Number.isSafeInteger(zxid) && zxid > this.zxid) this.zxid = zxid;
  }

  // ---- znodes ----

  /** `GET /znodes/{path}`: data (bytes by default, `as: 'utf8'` for text) and Stat. */
  get(path: string, opts?: GetOptions<'bytes'>): Promise<ZnodeValue<Uint8Array>>;
  get(path: string, opts: GetOptions<'utf8'>): Promise<ZnodeValue<string>>;
  async get<A extends DataAs>(path: string, opts: GetOptions<A> = {}): Promise<ZnodeValue<DataOf<A>>> {
    const as = (opts.as ?? 'bytes') as A;
    const r = await this.run<ZnodeData>('read', path, (api, signal) => api.GET('/znodes/{path}', {
      params: {
        ...param(path),
        query: { encoding: as === 'bytes' ? 'base64' : undefined, sync: opts.sync || undefined, watch: opts.watch || undefined } satisfies QueryOf<'/znodes/{path}', 'get'>,
        header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/znodes/{path}', 'get'>,
      },
      signal,
    }) as Promise<Answer<ZnodeData>>);
    return { path: r.path, data: fromWire(r.data, r.encoding, as), stat: r.stat };
  }

  /** `GET /znodes/{path}?children=true`: the children's names, sorted, and the node's Stat. */
  async children(path: string, opts: ReadOptions = {}): Promise<ZnodeChildren> {
    return this.run<ZnodeChildren>('read', path, (api, signal) => api.GET('/znodes/{path}', {
      params: {
        ...param(path),
        query: { children: true, sync: opts.sync || undefined, watch: opts.watch || undefined } satisfies QueryOf<'/znodes/{path}', 'get'>,
        header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/znodes/{path}', 'get'>,
      },
      signal,
    }) as Promise<Answer<ZnodeChildren>>);
  }

  /** `HEAD /znodes/{path}`: the Stat, or null when the node does not exist. */
  async exists(path: string, opts: ReadOptions = {}): Promise<Stat | null> {
    try {
      return await this.run<Stat>('read', path, async (api, signal) => {
        const r = await api.HEAD('/znodes/{path}', {
          params: {
            ...param(path),
            query: { sync: opts.sync || undefined, watch: opts.watch || undefined } satisfies QueryOf<'/znodes/{path}', 'head'>,
            header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/znodes/{path}', 'head'>,
          },
          signal,
        });
        const stat = r.response.headers.get('zoogate-stat');
        return r.response.ok ? { data: JSON.parse(stat ?? 'null') as Stat, response: r.response } : { error: undefined, response: r.response };
      });
    } catch (e) {
      if (e instanceof ZooGateError && e.code === 'NoNode') return null;
      throw e;
    }
  }

  /** `POST /znodes/{path}`: creates a node (for sequential modes `path` is the prefix); the path actually created and its Stat. */
  async create(path: string, data?: DataInput, opts: CreateOptions = {}): Promise<ZnodeCreated> {
    const acl = opts.acl === undefined ? undefined : typeof opts.acl === 'string' ? opts.acl : opts.acl.map((e) => `${e.scheme}:${e.id}:${e.perms}`).join(',');
    return this.run<ZnodeCreated>('write', path, (api, signal) => api.POST('/znodes/{path}', {
      params: {
        ...param(path),
        query: { mode: opts.mode, ttl: opts.ttl, parents: opts.parents || undefined } satisfies QueryOf<'/znodes/{path}', 'post'>,
        header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session, 'Zoogate-Acl': acl } satisfies HeaderOf<'/znodes/{path}', 'post'>,
      },
      ...(data === undefined ? {} : rawBody(data)),
      signal,
    }) as Promise<Answer<ZnodeCreated>>);
  }

  /** `PUT /znodes/{path}`: sets the data, conditionally on `version`. */
  async set(path: string, data: DataInput, opts: VersionOptions = {}): Promise<ZnodeSet> {
    return this.run<ZnodeSet>('write', path, (api, signal) => api.PUT('/znodes/{path}', {
      params: {
        ...param(path),
        query: { version: opts.version } satisfies QueryOf<'/znodes/{path}', 'put'>,
        header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/znodes/{path}', 'put'>,
      },
      ...rawBody(data),
      signal,
    }) as Promise<Answer<ZnodeSet>>);
  }

  /** `DELETE /znodes/{path}`, conditionally on `version`; `recursive` takes the whole subtree. */
  async delete(path: string, opts: DeleteOptions = {}): Promise<void> {
    await this.run<undefined>('write', path, (api, signal) => api.DELETE('/znodes/{path}', {
      params: {
        ...param(path),
        query: { version: opts.version, recursive: opts.recursive || undefined } satisfies QueryOf<'/znodes/{path}', 'delete'>,
        header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/znodes/{path}', 'delete'>,
      },
      signal,
    }) as Promise<Answer<undefined>>);
  }

  /** `GET /znodes/{path}?acl=true`. */
  async getAcl(path: string, opts: Omit<ReadOptions, 'watch'> = {}): Promise<ZnodeAcl> {
    return this.run<ZnodeAcl>('read', path, (api, signal) => api.GET('/znodes/{path}', {
      params: {
        ...param(path),
        query: { acl: true, sync: opts.sync || undefined } satisfies QueryOf<'/znodes/{path}', 'get'>,
        header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/znodes/{path}', 'get'>,
      },
      signal,
    }) as Promise<Answer<ZnodeAcl>>);
  }

  /** `PUT /znodes/{path}?acl=true`, conditionally on `aversion`. */
  async setAcl(path: string, acl: AclList, opts: CallOptions & { aversion?: number } = {}): Promise<ZnodeAcl> {
    return this.run<ZnodeAcl>('write', path, (api, signal) => api.PUT('/znodes/{path}', {
      params: {
        ...param(path),
        query: { acl: true, aversion: opts.aversion } satisfies QueryOf<'/znodes/{path}', 'put'>,
        header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/znodes/{path}', 'put'>,
      },
      body: acl,
      headers: { 'content-type': 'application/json' },
      signal,
    }) as Promise<Answer<ZnodeAcl>>);
  }

  /** `POST /multi`: all or nothing. A failure carries `failedOp` and `results`. */
  async multi(ops: readonly MultiOpInput[], opts: CallOptions = {}): Promise<MultiResponse> {
    return this.run<MultiResponse>('write', undefined, (api, signal) => api.POST('/multi', {
      params: { header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/multi', 'post'> },
      body: { ops: ops.map(multiOpToWire) },
      signal,
    }) as Promise<Answer<MultiResponse>>);
  }

  /** `POST /sync/{path}`: the node this client uses catches up with the leader. */
  async sync(path = '/', opts: CallOptions = {}): Promise<SyncResponse> {
    return this.run<SyncResponse>('read', path, (api, signal) => api.POST('/sync/{path}', {
      params: { ...param(path), header: { 'Zoogate-Min-Zxid': this.floor(), 'Zoogate-Session': opts.session } satisfies HeaderOf<'/sync/{path}', 'post'> },
      signal,
    }) as Promise<Answer<SyncResponse>>);
  }

  // ---- sessions ----

  /** `POST /sessions`: a session kept alive by `keepAlive` or by the requests that name it. */
  async openSession(timeoutMs?: number): Promise<SessionJson> {
    return this.run<SessionJson>('write', undefined, (api, signal) => api.POST('/sessions', {
      params: { header: { 'Zoogate-Min-Zxid': this.floor() } satisfies HeaderOf<'/sessions', 'post'> },
      body: timeoutMs === undefined ? {} : { timeoutMs },
      signal,
    }) as Promise<Answer<SessionJson>>);
  }

  /** `POST /sessions/{id}/keepalive` (safe to repeat, so it moves between nodes like a read). */
  async keepAlive(sessionId: string): Promise<SessionJson> {
    return this.run<SessionJson>('read', undefined, (api, signal) => api.POST('/sessions/{id}/keepalive', {
      params: { path: { id: sessionId }, header: { 'Zoogate-Min-Zxid': this.floor() } satisfies HeaderOf<'/sessions/{id}/keepalive', 'post'> },
      signal,
    }) as Promise<Answer<SessionJson>>);
  }

  /** `GET /sessions/{id}`: timeout and ephemeral nodes. */
  async sessionInfo(sessionId: string): Promise<SessionInfo> {
    return this.run<SessionInfo>('read', undefined, (api, signal) => api.GET('/sessions/{id}', {
      params: { path: { id: sessionId }, header: { 'Zoogate-Min-Zxid': this.floor() } satisfies HeaderOf<'/sessions/{id}', 'get'> },
      signal,
    }) as Promise<Answer<SessionInfo>>);
  }

  /** `DELETE /sessions/{id}`: the session and its ephemerals go in one transaction. */
  async closeSession(sessionId: string): Promise<void> {
    await this.run<undefined>('write', undefined, (api, signal) => api.DELETE('/sessions/{id}', {
      params: { path: { id: sessionId }, header: { 'Zoogate-Min-Zxid': this.floor() } satisfies HeaderOf<'/sessions/{id}', 'delete'> },
      signal,
    }) as Promise<Answer<undefined>>);
  }

  // ---- operations ----

  /** `GET /cluster` of the current node. */
  async cluster(): Promise<Cluster> {
    return this.run<Cluster>('read', undefined, (api, signal) => api.GET('/cluster', { signal }) as Promise<Answer<Cluster>>);
  }

  // ---- the machinery ----

  private floor(): number | undefined {
    return this.zxid > 0 ? this.zxid : undefined;
  }

  private observe(response: Response): void {
    const z = response.headers.get('zoogate-zxid');
    if (z !== null && /^\d+$/.test(z)) this.observeZxid(Number(z));
  }

  /**
   * Sends a call to the current node, moving on to the next while that is
   * safe: a read on any connection failure, a timeout or 503; a write only on
   * 503 NoQuorum (never applied, by the contract) or when the connection could
   * not even be opened. A write sent and not answered fails with
   * ConnectionLoss and `outcomeUnknown`, and is not sent again.
   */
  private async run<T>(kind: Kind, path: string | undefined, send: (api: Api, signal: AbortSignal) => Promise<Answer<T>>): Promise<T> {
    const deadline = Date.now() + this.retryTimeoutMs;
    const n = this.apis.length;
    let last: ZooGateError | null = null;
    for (let round = 0; ; round++) {
      for (let i = 0; i < n; i++) {
        const idx = (this.current + i) % n;
        const node = this.urls[idx]!;
        let r: Answer<T>;
        try {
          r = await send(this.apis[idx]!, AbortSignal.timeout(this.requestTimeoutMs));
        } catch (e) {
          if (e instanceof ZooGateError) throw e;
          const notSent = NOT_SENT.has(causeCode(e));
          const timedOut = (e as Error)?.name === 'TimeoutError';
          if (kind === 'write' && !notSent) {
            this.current = (idx + 1) % n;
            throw new ZooGateError('ConnectionLoss', `${node}: ${timedOut ? 'no answer in time' : describe(e)}; the write may or may not have been applied`, {
              path, node, outcomeUnknown: true, cause: e,
            });
          }
          last = new ZooGateError('ConnectionLoss', `${node}: ${timedOut ? 'no answer in time' : describe(e)}`, { path, node, cause: e });
          continue;
        }
        this.observe(r.response);
        if (r.response.ok) {
          this.current = idx;
          return r.data as T;
        }
        const err = toError(r, path, node, kind);
        // 503: no quorum, not caught up with Zoogate-Min-Zxid, or read-only; never applied, so try elsewhere
        if (err.code === 'NoQuorum' || err.code === 'NotReadOnly') {
          last = err;
          continue;
        }
        this.current = idx;
        throw err;
      }
      if (Date.now() >= deadline) throw last!;
      await sleep(Math.min(50 * 2 ** round, 500, Math.max(0, deadline - Date.now())));
    }
  }
}

function causeCode(e: unknown): string {
  const c = (e as { cause?: { code?: unknown } })?.cause?.code;
  return typeof c === 'string' ? c : '';
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : '';
  const msg = typeof cause?.message === 'string' ? cause.message : e instanceof Error ? e.message : String(e);
  return code ? `${code} ${msg}` : msg;
}

/** The ZooGateError of an error answer: the code from the body (or the status, for HEAD), status, path, multi details. */
function toError(r: Answer<unknown>, path: string | undefined, node: string, kind: Kind): ZooGateError {
  const status = r.response.status;
  const body = r.error as { error?: { code?: string; message?: string; path?: string }; failedOp?: number; results?: MultiOpOutcome[] } | string | undefined;
  const detail = typeof body === 'object' && body !== null ? body.error : undefined;
  const code = (typeof detail?.code === 'string' ? detail.code : codeOfStatus(status)) as ErrorCode;
  const retryAfter = r.response.headers.get('retry-after');
  const b = typeof body === 'object' && body !== null ? body : undefined;
  return new ZooGateError(code, detail?.message ?? (typeof body === 'string' && body !== '' ? body : `${code} (HTTP ${status})`), {
    status,
    path: detail?.path ?? path,
    node,
    // 504: "may or may not have been applied"
    outcomeUnknown: kind === 'write' && code === 'OperationTimeout',
    failedOp: b?.failedOp,
    results: b?.results,
    retryAfterMs: retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined,
  });
}
