/**
 * A small ZooKeeper wire-protocol (jute over TCP) client for differential
 * tests. It speaks exactly the requests a test asks for, with no client-side
 * rewriting: create2 (stat on create), createContainer, createTTL, multi with
 * any version (including 0) and every server error code. node-zookeeper-client
 * cannot do these (no create2/container/TTL opcodes, `version || -1` in its
 * transaction builder, client-side path asserts that reject the `/q/` prefix
 * form, and unknown error codes throw), so the conformance test talks to
 * ZooKeeper through this instead.
 */
import { connect, type Socket } from 'node:net';

export const OpCode = {
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getACL: 6,
  setACL: 7,
  ping: 11,
  getChildren2: 12,
  check: 13,
  multi: 14,
  create2: 15,
  createContainer: 19,
  createTTL: 21,
  auth: 100,
  closeSession: -11,
  error: -1,
} as const;

/** CreateMode flags as ZooKeeper numbers them. */
export const CreateFlag = {
  PERSISTENT: 0,
  EPHEMERAL: 1,
  PERSISTENT_SEQUENTIAL: 2,
  EPHEMERAL_SEQUENTIAL: 3,
  CONTAINER: 4,
  PERSISTENT_WITH_TTL: 5,
  PERSISTENT_SEQUENTIAL_WITH_TTL: 6,
} as const;

/** KeeperException.Code → the name ZooGate uses for it (API.md "Errors"). */
export const ZK_ERROR_NAMES: Readonly<Record<number, string>> = {
  0: 'Ok',
  [-1]: 'SystemError',
  [-2]: 'RuntimeInconsistency',
  [-3]: 'DataInconsistency',
  [-4]: 'ConnectionLoss',
  [-5]: 'MarshallingError',
  [-6]: 'Unimplemented',
  [-7]: 'OperationTimeout',
  [-8]: 'BadArguments',
  [-13]: 'NewConfigNoQuorum',
  [-14]: 'ReconfigInProgress',
  [-15]: 'UnknownSession',
  [-100]: 'APIError',
  [-101]: 'NoNode',
  [-102]: 'NoAuth',
  [-103]: 'BadVersion',
  [-108]: 'NoChildrenForEphemerals',
  [-110]: 'NodeExists',
  [-111]: 'NotEmpty',
  [-112]: 'SessionExpired',
  [-113]: 'InvalidCallback',
  [-114]: 'InvalidACL',
  [-115]: 'AuthFailed',
  [-118]: 'SessionMoved',
  [-119]: 'NotReadOnly',
  [-120]: 'EphemeralOnLocalSession',
  [-121]: 'NoWatcher',
  [-122]: 'RequestTimeout',
  [-123]: 'ReconfigDisabled',
  [-124]: 'SessionClosedRequireSaslAuth',
  [-125]: 'QuotaExceeded',
  [-127]: 'Throttled',
};

export function zkErrorName(code: number): string {
  return ZK_ERROR_NAMES[code] ?? `ZkError(${code})`;
}

export class ZkWireError extends Error {
  constructor(readonly code: number, readonly op: string, readonly path?: string) {
    super(`${op}${path === undefined ? '' : ' ' + path}: ${zkErrorName(code)} (${code})`);
    this.name = 'ZkWireError';
  }
  get codeName(): string {
    return zkErrorName(this.code);
  }
}

export interface ZkAcl {
  readonly perms: number;
  readonly scheme: string;
  readonly id: string;
}

export const OPEN_ACL_UNSAFE: readonly ZkAcl[] = [{ perms: 31, scheme: 'world', id: 'anyone' }];

export interface ZkStat {
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  /** 0n when none. */
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: number;
}

export type ZkOp =
  | { readonly type: 'create'; readonly path: string; readonly data?: Buffer | null; readonly acl?: readonly ZkAcl[]; readonly flags?: number; readonly ttl?: number }
  | { readonly type: 'delete'; readonly path: string; readonly version?: number }
  | { readonly type: 'setData'; readonly path: string; readonly data?: Buffer | null; readonly version?: number }
  | { readonly type: 'check'; readonly path: string; readonly version: number };

export type ZkOpResult =
  | { readonly type: 'create'; readonly path: string; readonly stat: ZkStat | null }
  | { readonly type: 'delete' }
  | { readonly type: 'setData'; readonly stat: ZkStat }
  | { readonly type: 'check' }
  | { readonly type: 'error'; readonly err: number };

class Writer {
  private bufs: Buffer[] = [];
  int(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.bufs.push(b);
    return this;
  }
  long(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    this.bufs.push(b);
    return this;
  }
  bool(v: boolean): this {
    this.bufs.push(Buffer.from([v ? 1 : 0]));
    return this;
  }
  buffer(v: Buffer | null | undefined): this {
    if (v === null || v === undefined) return this.int(-1);
    this.int(v.length);
    this.bufs.push(v);
    return this;
  }
  string(v: string): this {
    return this.buffer(Buffer.from(v, 'utf8'));
  }
  acl(acl: readonly ZkAcl[]): this {
    this.int(acl.length);
    for (const a of acl) this.int(a.perms).string(a.scheme).string(a.id);
    return this;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.bufs);
  }
}

class Reader {
  private off = 0;
  constructor(private readonly b: Buffer) {}
  int(): number {
    const v = this.b.readInt32BE(this.off);
    this.off += 4;
    return v;
  }
  long(): bigint {
    const v = this.b.readBigInt64BE(this.off);
    this.off += 8;
    return v;
  }
  num(): number {
    const v = this.long();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`long ${v} does not fit a JS number`);
    return Number(v);
  }
  bool(): boolean {
    return this.b[this.off++] !== 0;
  }
  buffer(): Buffer | null {
    const n = this.int();
    if (n < 0) return null;
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return Buffer.from(v);
  }
  string(): string {
    return (this.buffer() ?? Buffer.alloc(0)).toString('utf8');
  }
  stat(): ZkStat {
    return {
      czxid: this.num(),
      mzxid: this.num(),
      ctime: this.num(),
      mtime: this.num(),
      version: this.int(),
      cversion: this.int(),
      aversion: this.int(),
      ephemeralOwner: this.long(),
      dataLength: this.int(),
      numChildren: this.int(),
      pzxid: this.num(),
    };
  }
  acl(): ZkAcl[] {
    const n = this.int();
    const out: ZkAcl[] = [];
    for (let i = 0; i < n; i++) out.push({ perms: this.int(), scheme: this.string(), id: this.string() });
    return out;
  }
  get remaining(): number {
    return this.b.length - this.off;
  }
}

interface Reply {
  readonly err: number;
  readonly zxid: number;
  readonly body: Reader;
}

const isTtlFlag = (flags: number | undefined) => flags === CreateFlag.PERSISTENT_WITH_TTL || flags === CreateFlag.PERSISTENT_SEQUENTIAL_WITH_TTL;

/**
 * The opcode the Java client uses (ZooKeeper.setCreateHeader, Op.Create): TTL
 * modes travel as createTTL (with ttl -1 when none is given, which the server
 * refuses as BadArguments), containers as createContainer, the rest as
 * create2 for a single create (so that the Stat comes back) and as create
 * inside a multi. A ttl with a non-TTL mode also travels as createTTL,
 * so that the server's own check (EphemeralType.validateTTL) answers it.
 */
function createOpcode(op: { flags?: number; ttl?: number }, single: number): number {
  if (op.ttl !== undefined || isTtlFlag(op.flags)) return OpCode.createTTL;
  if (op.flags === CreateFlag.CONTAINER) return OpCode.createContainer;
  return single;
}

function writeCreate(w: Writer, op: { path: string; data?: Buffer | null; acl?: readonly ZkAcl[]; flags?: number; ttl?: number }): void {
  w.string(op.path).buffer(op.data ?? Buffer.alloc(0)).acl(op.acl ?? OPEN_ACL_UNSAFE).int(op.flags ?? 0);
  if (op.ttl !== undefined || isTtlFlag(op.flags)) w.long(op.ttl ?? -1);
}

export interface ZkConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly sessionTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
}

export class ZkWireClient {
  private buf: Buffer = Buffer.alloc(0);
  private xid = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private authWaiters: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = [];
  private pingTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private failure: Error | null = null;
  sessionId = 0n;
  negotiatedTimeoutMs = 0;

  private constructor(private readonly sock: Socket) {}

  static connect(opts: ZkConnectOptions): Promise<ZkWireClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: opts.host, port: opts.port });
      sock.setNoDelay(true);
      const client = new ZkWireClient(sock);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`ZooKeeper at ${opts.host}:${opts.port}: no connect response within ${opts.connectTimeoutMs ?? 5000} ms`));
      }, opts.connectTimeoutMs ?? 5000);
      let connected = false;
      sock.on('error', (e) => {
        if (!connected) {
          clearTimeout(timer);
          reject(e);
        }
        client.fail(e);
      });
      sock.on('close', () => {
        if (!connected) {
          clearTimeout(timer);
          reject(new Error(`ZooKeeper at ${opts.host}:${opts.port} closed the connection before the session was set up`));
        }
        client.fail(new Error('connection to ZooKeeper closed'));
      });
      sock.on('connect', () => {
        const w = new Writer().int(0).long(0).int(opts.sessionTimeoutMs ?? 4000).long(0).buffer(Buffer.alloc(16)).bool(false);
        client.sendFrame(w.toBuffer());
      });
      sock.on('data', (chunk: Buffer) => {
        client.buf = client.buf.length === 0 ? chunk : Buffer.concat([client.buf, chunk]);
        while (client.buf.length >= 4) {
          const len = client.buf.readInt32BE(0);
          if (client.buf.length < 4 + len) break;
          const frame = client.buf.subarray(4, 4 + len);
          client.buf = client.buf.subarray(4 + len);
          if (!connected) {
            connected = true;
            clearTimeout(timer);
            const r = new Reader(frame);
            r.int(); // protocol version
            const timeout = r.int();
            client.sessionId = r.long();
            if (timeout <= 0) {
              sock.destroy();
              reject(new Error('ZooKeeper refused the session (timeout <= 0)'));
              return;
            }
            client.negotiatedTimeoutMs = timeout;
            client.pingTimer = setInterval(() => client.ping(), Math.max(100, Math.floor(timeout / 3)));
            client.pingTimer.unref();
            resolve(client);
          } else {
            client.onFrame(frame);
          }
        }
      });
    });
  }

  get sessionIdHex(): string {
    return this.sessionId.toString(16).padStart(16, '0');
  }

  private sendFrame(payload: Buffer): void {
    const len = Buffer.alloc(4);
    len.writeInt32BE(payload.length);
    this.sock.write(Buffer.concat([len, payload]));
  }

  private ping(): void {
    if (this.closed || this.failure) return;
    this.sendFrame(new Writer().int(-2).int(OpCode.ping).toBuffer());
  }

  private fail(e: Error): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const p of this.authWaiters) p.reject(e);
    this.authWaiters = [];
  }

  private onFrame(frame: Buffer): void {
    const r = new Reader(frame);
    const xid = r.int();
    const zxid = r.num();
    const err = r.int();
    if (xid === -2 || xid === -1) return; // ping reply, watch notification
    if (xid === -4) {
      this.authWaiters.shift()?.resolve({ err, zxid, body: r });
      return;
    }
    const p = this.pending.get(xid);
    if (p === undefined) return;
    this.pending.delete(xid);
    p.resolve({ err, zxid, body: r });
  }

  /** Sends one request; resolves with the raw reply (never rejects on a ZooKeeper error code). */
  request(type: number, body: Buffer): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const xid = this.xid++;
    return new Promise((resolve, reject) => {
      this.pending.set(xid, { resolve, reject });
      this.sendFrame(Buffer.concat([new Writer().int(xid).int(type).toBuffer(), body]));
    });
  }

  private async call(op: string, path: string | undefined, type: number, body: Buffer): Promise<Reply> {
    const reply = await this.request(type, body);
    if (reply.err !== 0) throw new ZkWireError(reply.err, op, path);
    return reply;
  }

  async addAuth(scheme: string, auth: string): Promise<void> {
    if (this.failure) throw this.failure;
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.authWaiters.push({ resolve, reject });
      this.sendFrame(Buffer.concat([new Writer().int(-4).int(OpCode.auth).toBuffer(), new Writer().int(0).string(scheme).buffer(Buffer.from(auth)).toBuffer()]));
    });
    if (reply.err !== 0) throw new ZkWireError(reply.err, 'addAuth');
  }

  /** create2 / createContainer / createTTL, chosen by flags and ttl as the Java client does. */
  async create(path: string, data: Buffer | null, opts: { acl?: readonly ZkAcl[]; flags?: number; ttl?: number } = {}): Promise<{ path: string; stat: ZkStat; zxid: number }> {
    const w = new Writer();
    writeCreate(w, { path, data, ...opts });
    const r = await this.call('create', path, createOpcode(opts, OpCode.create2), w.toBuffer());
    return { path: r.body.string(), stat: r.body.stat(), zxid: r.zxid };
  }

  async delete(path: string, version = -1): Promise<{ zxid: number }> {
    const r = await this.call('delete', path, OpCode.delete, new Writer().string(path).int(version).toBuffer());
    return { zxid: r.zxid };
  }

  /** null when the node does not exist. */
  async exists(path: string): Promise<ZkStat | null> {
    const r = await this.request(OpCode.exists, new Writer().string(path).bool(false).toBuffer());
    if (r.err === -101) return null;
    if (r.err !== 0) throw new ZkWireError(r.err, 'exists', path);
    return r.body.stat();
  }

  async getData(path: string): Promise<{ data: Buffer; stat: ZkStat }> {
    const r = await this.call('getData', path, OpCode.getData, new Writer().string(path).bool(false).toBuffer());
    return { data: r.body.buffer() ?? Buffer.alloc(0), stat: r.body.stat() };
  }

  async setData(path: string, data: Buffer | null, version = -1): Promise<{ stat: ZkStat; zxid: number }> {
    const r = await this.call('setData', path, OpCode.setData, new Writer().string(path).buffer(data ?? Buffer.alloc(0)).int(version).toBuffer());
    return { stat: r.body.stat(), zxid: r.zxid };
  }

  async getChildren(path: string): Promise<{ children: string[]; stat: ZkStat }> {
    const r = await this.call('getChildren', path, OpCode.getChildren2, new Writer().string(path).bool(false).toBuffer());
    const n = r.body.int();
    const children: string[] = [];
    for (let i = 0; i < n; i++) children.push(r.body.string());
    return { children, stat: r.body.stat() };
  }

  async getACL(path: string): Promise<{ acl: ZkAcl[]; stat: ZkStat }> {
    const r = await this.call('getACL', path, OpCode.getACL, new Writer().string(path).toBuffer());
    return { acl: r.body.acl(), stat: r.body.stat() };
  }

  async setACL(path: string, acl: readonly ZkAcl[], version = -1): Promise<{ stat: ZkStat; zxid: number }> {
    const r = await this.call('setACL', path, OpCode.setACL, new Writer().string(path).acl(acl).int(version).toBuffer());
    return { stat: r.body.stat(), zxid: r.zxid };
  }

  /**
   * A multi. Resolves with the per-op results whether it succeeded or not (a
   * failed multi answers Ok / the error / RuntimeInconsistency per op) and the
   * multi's zxid.
   */
  async multi(ops: readonly ZkOp[]): Promise<{ results: ZkOpResult[]; zxid: number }> {
    const w = new Writer();
    for (const op of ops) {
      switch (op.type) {
        case 'create': {
          // Op.create: plain creates travel as `create` (no stat back), containers and TTL nodes with their own opcodes.
          w.int(createOpcode(op, OpCode.create)).bool(false).int(-1);
          writeCreate(w, op);
          break;
        }
        case 'delete':
          w.int(OpCode.delete).bool(false).int(-1).string(op.path).int(op.version ?? -1);
          break;
        case 'setData':
          w.int(OpCode.setData).bool(false).int(-1).string(op.path).buffer(op.data ?? Buffer.alloc(0)).int(op.version ?? -1);
          break;
        case 'check':
          w.int(OpCode.check).bool(false).int(-1).string(op.path).int(op.version);
          break;
      }
    }
    w.int(-1).bool(true).int(-1);
    const r = await this.call('multi', undefined, OpCode.multi, w.toBuffer());
    const results: ZkOpResult[] = [];
    for (;;) {
      const type = r.body.int();
      const done = r.body.bool();
      r.body.int(); // err
      if (done) break;
      switch (type) {
        case OpCode.create:
          results.push({ type: 'create', path: r.body.string(), stat: null });
          break;
        case OpCode.create2:
        case OpCode.createContainer:
        case OpCode.createTTL:
          results.push({ type: 'create', path: r.body.string(), stat: r.body.stat() });
          break;
        case OpCode.delete:
          results.push({ type: 'delete' });
          break;
        case OpCode.setData:
          results.push({ type: 'setData', stat: r.body.stat() });
          break;
        case OpCode.check:
          results.push({ type: 'check' });
          break;
        case OpCode.error:
          results.push({ type: 'error', err: r.body.int() });
          break;
        default:
          throw new Error(`multi: unexpected result type ${type}`);
      }
    }
    return { results, zxid: r.zxid };
  }

  /** closeSession: the server removes the session's ephemerals in that transaction. */
  async close(): Promise<{ zxid: number }> {
    if (this.closed) return { zxid: 0 };
    const r = await this.request(OpCode.closeSession, Buffer.alloc(0));
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.sock.end();
    this.sock.destroy();
    return { zxid: r.zxid };
  }

  /** Drops the TCP connection without closing the session. */
  destroy(): void {
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.sock.destroy();
  }
}
