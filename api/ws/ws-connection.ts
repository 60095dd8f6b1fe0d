import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { AuthId } from '../../core/acl.ts';
import { ZkError } from '../../core/errors.ts';
import type { SessionId, Zxid } from '../../core/ids.ts';
import { validatePath } from '../../core/paths.ts';
import { MultiError } from '../../core/request/prep.ts';
import type { WriteRequest } from '../../core/request/requests.ts';
import { eventsOfTxn, type WatchEvent } from '../../core/tree/txn-events.ts';
import { REMOVE_KINDS, type RemoveKind, type Registration, WATCH_KINDS } from '../../core/watch/watch-manager.ts';
import type { ServerConfig } from '../config.ts';
import { authOf, errorBody } from '../http-util.ts';
import type { Logger } from '../logger.ts';
import { buildCreate, type Caller, checkVersion, exists, getAcl, getChildren, getData } from '../operations.ts';
import { decodeJsonData, parseAclJson, parseMulti } from '../parse.ts';
import { presentAcl, presentMultiResult } from '../present.ts';
import type { ServerNode, WriteOutcome } from '../server-node.ts';
import { missedTxns } from '../replay.ts';
import type { SessionChannel, WatchHub } from '../watch-hub.ts';
import type { WsEventJson, WsServerMessage } from '../schema.ts';
import { textFrames } from './frames.ts';

type Json = Record<string, unknown>;

interface Pending {
  readonly id: unknown;
  /** A read runs when it reaches the head of the queue, so it sees this client's earlier writes. */
  read: Json | null;
  response?: Json;
}

const CLOSE_POLICY = 1008;
const CLOSE_SLOW = 4008;
const CLOSE_MOVED = 4001;
const CLOSE_SESSION_ENDED = 4000;
const CLOSE_NOT_SERVING = 4002;

/**
 * One client's WebSocket (API.md "WebSocket"): a connect handshake that opens
 * or resumes a session, then requests answered in the order they were sent
 * (reads wait behind the same client's pending writes, as ZooKeeper's FIFO
 * client order), watch events in zxid order before any answer that shows the
 * change, pings that keep the session alive, and a cut-off for a client that
 * does not read what it is sent.
 */
export class WsConnection implements SessionChannel {
  sessionId: SessionId = '';
  private state: 'new' | 'connecting' | 'open' | 'closed' = 'new';
  private readonly queue: Pending[] = [];
  readonly auth: AuthId[];
  readonly remote: string;
  readonly connectedAt = Date.now();
  private lastSeen = performance.now();
  private heartbeat: NodeJS.Timeout | null = null;
  private timeoutMs = 0;

  constructor(
    private readonly ws: WebSocket,
    req: IncomingMessage,
    private readonly node: ServerNode,
    private readonly hub: WatchHub,
    private readonly cfg: ServerConfig,
    private readonly log: Logger,
  ) {
    this.remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    this.socket = req.socket;
    let auth: AuthId[] = [];
    try {
      auth = authOf(req, cfg.superDigest);
    } catch (e) {
      this.fail((e as ZkError).code ?? 'AuthFailed', (e as Error).message);
    }
    this.auth = auth;
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('pong', () => this.seen());
    ws.on('close', () => this.onClose());
    ws.on('error', () => this.onClose());
  }

  // ---- SessionChannel ----

  sendEvent(ev: WatchEvent): void {
    const msg: WsEventJson = { type: 'event', event: ev.type, path: ev.path, zxid: ev.zxid };
    this.send(msg);
  }

  endSession(state: 'Expired' | 'Closed'): void {
    this.send({ type: 'state', state });
    this.close(CLOSE_SESSION_ENDED, state === 'Expired' ? 'session expired' : 'session closed');
  }

  displace(): void {
    this.close(CLOSE_MOVED, 'session moved to another connection');
  }

  abandon(reason: string): void {
    this.close(CLOSE_NOT_SERVING, reason.slice(0, 120));
  }

  // ---- transport ----

  private send(msg: WsServerMessage | Json): void {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount + this.outboxChars > this.cfg.clientBufferBytes) {
      this.log.info({ session: this.sessionId, buffered: this.ws.bufferedAmount + this.outboxChars }, 'cutting off a slow WebSocket consumer');
      this.close(CLOSE_SLOW, `slow consumer: more than ${this.cfg.clientBufferBytes} bytes unread`);
      return;
    }
    // Everything sent in this turn (the answers to every request one read brought, their events)
    // leaves in one buffer and one write, on the next tick (frames.ts), in the order sent.
    const text = JSON.stringify(msg);
    if (this.outbox.length === 0) process.nextTick(this.flushOutbox);
    this.outbox.push(text);
    this.outboxChars += text.length;
  }

  private readonly socket: Socket;
  private outbox: string[] = [];
  private outboxChars = 0;
  private readonly flushOutbox = () => {
    if (this.outbox.length === 0) return;
    const messages = this.outbox;
    this.outbox = [];
    this.outboxChars = 0;
    // a socket closing (the client's close frame came meanwhile) takes no more messages, as ws.send
    if (this.ws.readyState === this.ws.OPEN) this.socket.write(textFrames(messages));
  };

  private close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.flushOutbox(); // what was sent before the close frame goes before it
    this.onClose();
    this.ws.close(code, reason);
    // a peer that never answers the close handshake is dropped
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private fail(code: string, message: string): void {
    this.send({ type: 'error', code, message });
    this.close(CLOSE_POLICY, message.slice(0, 120));
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.hub.detach(this);
  }

  private seen(): void {
    this.lastSeen = performance.now();
    if (this.state === 'open') this.node.touchSession(this.sessionId);
  }

  /**
   * Pings every third of the session timeout. A silent client's session expires
   * on its own (and is told so); the socket of a client silent for longer than
   * that (its session kept alive by someone else) is dropped.
   */
  private startHeartbeat(): void {
    const every = Math.max(50, Math.floor(this.timeoutMs / 3));
    const silentLimit = this.timeoutMs + 2 * this.cfg.tickMs;
    this.heartbeat = setInterval(() => {
      if (performance.now() - this.lastSeen > silentLimit) {
        this.ws.terminate();
        this.onClose();
        return;
      }
      this.ws.ping();
    }, every);
    this.heartbeat.unref();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.seen();
    if (this.state === 'closed') return;
    let msg: Json;
    try {
      const v: unknown = JSON.parse(data.toString('utf8'));
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      msg = v as Json;
    } catch {
      return this.fail('BadArguments', `frames are JSON objects${isBinary ? ' in text frames' : ''}`);
    }
    switch (msg.type) {
      case 'connect':
        if (this.state !== 'new') return this.fail('BadArguments', 'connect is sent once, first');
        return this.connect(msg);
      case 'request':
        if (this.state !== 'open') return this.fail('BadArguments', 'send connect and wait for connected first');
        return this.request(msg);
      case 'ping':
        return this.send({ type: 'pong' });
      case 'close':
        if (this.state !== 'open') return this.fail('BadArguments', 'no session to close');
        this.node.submitWith({ op: 'closeSession', sessionId: this.sessionId }, { sessionId: null, auth: this.auth }, () => {});
        return;
      default:
        return this.fail('BadArguments', `unknown message type ${JSON.stringify(msg.type)}`);
    }
  }

  // ---- connect / resume ----

  private connect(msg: Json): void {
    // A server without a leader cannot tell a live session from a dead one: the client must go elsewhere.
    if (!this.node.serving) {
      this.send({ type: 'error', code: 'NoQuorum', message: `server ${this.cfg.serverId} is ${this.node.replica.state.toLowerCase()}, not serving; connect to another server` });
      return this.close(CLOSE_NOT_SERVING, 'not serving');
    }
    this.state = 'connecting';
    const { sessionId, timeoutMs, lastZxid, watches } = msg;
    let regs: Registration[];
    try {
      checkFields(msg, CONNECT_FIELDS, 'connect');
      regs = parseWatches(watches);
      if (lastZxid !== undefined && (typeof lastZxid !== 'number' || !Number.isSafeInteger(lastZxid) || lastZxid < 0)) throw new ZkError('BadArguments', 'lastZxid must be a zxid');
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0)) throw new ZkError('BadArguments', 'timeoutMs must be a positive integer');
      if (sessionId !== undefined && typeof sessionId !== 'string') throw new ZkError('BadArguments', 'sessionId must be a string');
    } catch (e) {
      return this.fail('BadArguments', (e as Error).message);
    }
    // ZooKeeper refuses a client that has seen more than this server has applied, new session or not.
    if (typeof lastZxid === 'number' && lastZxid > this.node.lastZxid) {
      return this.fail('StaleServer', `this server is at zxid ${this.node.lastZxid}, behind the client's ${lastZxid}; try another server`);
    }
    if (sessionId === undefined) {
      if (regs.length > 0) return this.fail('BadArguments', 'watches are re-registered when resuming a session (with sessionId)');
      const id = randomBytes(8).toString('hex');
      const t = this.node.sessionTimeout((timeoutMs as number | undefined) ?? null);
      this.node.submitWith({ op: 'createSession', sessionId: id, timeoutMs: t }, { sessionId: null, auth: this.auth }, (err) => {
        if (err) return this.fail(err.code, err.message);
        this.opened(id, t, [], 0);
      });
      return;
    }
    const session = this.node.tree.sessions.get(sessionId);
    if (session === undefined || !this.node.touchSession(sessionId)) {
      this.send({ type: 'state', state: 'Expired' });
      return this.close(CLOSE_SESSION_ENDED, 'session expired');
    }
    this.opened(sessionId, session.timeoutMs, regs, typeof lastZxid === 'number' ? lastZxid : this.node.lastZxid);
  }

  private opened(sessionId: SessionId, timeoutMs: number, regs: Registration[], lastZxid: Zxid): void {
    if (this.state !== 'connecting') return; // the socket went away meanwhile
    this.sessionId = sessionId;
    this.timeoutMs = timeoutMs;
    this.state = 'open';
    this.hub.attach(this);
    this.send({ type: 'connected', sessionId, timeoutMs, serverId: this.cfg.serverId, zxid: this.node.lastZxid });
    if (regs.length > 0) {
      let missed: WatchEvent[] = [];
      if (regs.some((r) => r.kind === 'persistent' || r.kind === 'persistent_recursive')) {
        const txns = missedTxns(this.node.store, lastZxid, this.node.lastZxid);
        // A partial replay would be a silent gap: say so instead; the persistent watches fire from now on.
        if (Array.isArray(txns)) missed = txns.flatMap((t) => eventsOfTxn(t));
        else this.send({ type: 'compacted', lastZxid, message: `${txns.compacted}: persistent watches missed changes; read the current state` });
      }
      for (const ev of this.hub.watches.resume(sessionId, lastZxid, regs, this.node.tree, missed)) this.sendEvent(ev);
    }
    this.startHeartbeat();
  }

  // ---- requests ----

  private callerOf: Caller | null = null;
  /** Who reads: fixed once the session is open (reads run only then). */
  private get caller(): Caller {
    return (this.callerOf ??= { node: this.node, hub: this.hub, auth: this.auth, sessionId: this.sessionId });
  }

  private request(msg: Json): void {
    const id = msg.id;
    if (typeof id !== 'string' && typeof id !== 'number') return this.fail('BadArguments', 'a request needs an id (string or number)');
    const entry: Pending = { id, read: null };
    this.queue.push(entry);
    try {
      checkFields(msg, REQUEST_FIELDS.get(msg.op as string) ?? BASE_REQUEST_FIELDS, 'op');
      const write = this.toWrite(msg);
      if (write === null) {
        entry.read = msg;
      } else if (write === 'sync') {
        this.node.syncWith((err, zxid) => this.settle(entry, err, () => ({ zxid })));
      } else {
        if (this.node.outstanding >= this.cfg.maxOutstandingRequests) throw new ZkError('Throttled', 'too many requests outstanding; retry later');
        this.node.submitWith(write.req, { sessionId: this.sessionId, auth: this.auth }, (err, out) => this.settle(entry, err, () => write.present(out!)));
        return;
      }
    } catch (e) {
      entry.response = this.errorResponse(id, e);
    }
    this.flush();
  }

  private settle(entry: Pending, err: ZkError | null, ok: () => Json): void {
    entry.response = err ? this.errorResponse(entry.id, err) : { type: 'response', id: entry.id, ok: true, result: ok() };
    this.flush();
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.response === undefined) {
        if (head.read === null) return; // a write still in flight
        try {
          head.response = { type: 'response', id: head.id, ok: true, result: this.read(head.read) };
        } catch (e) {
          head.response = this.errorResponse(head.id, e);
        }
      }
      this.queue.shift();
      // The zxid this response reflects (REST's Zoogate-Zxid): every event up to it went out before it.
      head.response.zxid = this.node.lastZxid;
      this.send(head.response);
    }
  }

  private errorResponse(id: unknown, e: unknown): Json {
    if (!(e instanceof ZkError)) {
      this.log.error({ err: e }, 'WebSocket request failed');
      e = new ZkError('SystemError', 'internal error; see the server log');
    }
    const z = e as ZkError;
    const res: Json = { type: 'response', id, ok: false, ...errorBody(z) };
    if (z instanceof MultiError) {
      res.failedOp = z.failedOp;
      res.results = Array.from({ length: z.opCount }, (_, i) => ({ error: i < z.failedOp ? 'Ok' : i === z.failedOp ? z.code : 'RuntimeInconsistency' }));
    }
    return res;
  }

  private read(msg: Json): Json {
    const path = str(msg.path, 'path');
    const watch = bool(msg.watch, 'watch');
    const c = this.caller;
    switch (msg.op) {
      case 'get':
        if (msg.encoding !== undefined && msg.encoding !== 'utf8' && msg.encoding !== 'base64') throw new ZkError('BadArguments', 'encoding must be utf8 or base64');
        return getData(c, path, watch, msg.encoding === 'base64') as unknown as Json;
      case 'children':
        return getChildren(c, path, watch) as unknown as Json;
      case 'exists':
        return { stat: exists(c, path, watch) };
      case 'getAcl':
        return getAcl(c, path) as unknown as Json;
      case 'addWatch': {
        validatePath(path);
        if (msg.mode !== 'persistent' && msg.mode !== 'persistent_recursive') throw new ZkError('BadArguments', 'addWatch mode is persistent or persistent_recursive');
        this.hub.watches.add(this.sessionId, path, msg.mode);
        return {};
      }
      case 'removeWatches': {
        validatePath(path);
        const kind = msg.kind ?? 'any';
        if (!(REMOVE_KINDS as readonly unknown[]).includes(kind)) throw new ZkError('BadArguments', `kind is one of ${REMOVE_KINDS.join(', ')}`);
        this.hub.watches.remove(this.sessionId, path, kind as RemoveKind);
        return {};
      }
      default:
        throw new ZkError('BadArguments', `unknown op ${JSON.stringify(msg.op)}`);
    }
  }

  /** The write a request asks for, with how to present its result; null for reads. */
  private toWrite(msg: Json): { req: WriteRequest; present: (o: WriteOutcome) => Json } | 'sync' | null {
    switch (msg.op) {
      case 'create': {
        const path = str(msg.path, 'path');
        const data = decodeJsonData(msg, 'create');
        if (data.length > this.cfg.maxDataBytes) throw new ZkError('PayloadTooLarge', `data exceeds ${this.cfg.maxDataBytes} bytes`);
        if (msg.acl !== undefined && typeof msg.acl !== 'string' && !Array.isArray(msg.acl)) {
          throw new ZkError('InvalidACL', 'acl is a list of {"scheme","id","perms"} or a "scheme:id:perms,…" string');
        }
        const req = buildCreate(path, { mode: msg.mode, ttl: msg.ttl, parents: bool(msg.parents, 'parents'), acl: (msg.acl as string | unknown[] | undefined) ?? null, data });
        return {
          req,
          present: (o) => {
            const r = o.result.op === 'multi' ? o.result.results[o.result.results.length - 1]! : o.result;
            return r.op === 'create' ? { path: r.path, stat: r.stat } : {};
          },
        };
      }
      case 'set': {
        const path = str(msg.path, 'path');
        validatePath(path);
        const data = decodeJsonData(msg, 'set');
        if (data.length > this.cfg.maxDataBytes) throw new ZkError('PayloadTooLarge', `data exceeds ${this.cfg.maxDataBytes} bytes`);
        return { req: { op: 'set', path, data, version: checkVersion(msg.version) }, present: (o) => (o.result.op === 'set' ? { path, stat: o.result.stat } : {}) };
      }
      case 'delete': {
        const path = str(msg.path, 'path');
        validatePath(path);
        return { req: { op: 'delete', path, version: checkVersion(msg.version), recursive: bool(msg.recursive, 'recursive') }, present: () => ({}) };
      }
      case 'multi': {
        const { ops, dataBytes } = parseMulti({ ops: msg.ops });
        if (dataBytes > this.cfg.maxDataBytes) throw new ZkError('PayloadTooLarge', `the multi carries ${dataBytes} bytes of data, over ${this.cfg.maxDataBytes}`);
        return { req: { op: 'multi', ops }, present: (o) => (o.result.op === 'multi' ? { zxid: o.zxid, results: o.result.results.map(presentMultiResult) } : {}) };
      }
      case 'setAcl': {
        const path = str(msg.path, 'path');
        validatePath(path);
        const acl = parseAclJson(msg.acl);
        const aversion = checkVersion(msg.aversion ?? msg.version, 'aversion');
        return { req: { op: 'setACL', path, acl, aversion }, present: (o) => (o.result.op === 'setACL' ? { path, acl: presentAcl(acl, false), stat: o.result.stat } : {}) };
      }
      case 'sync':
        if (msg.path !== undefined) validatePath(str(msg.path, 'path'));
        return 'sync';
      default:
        return null;
    }
  }
}

/** The fields each op takes besides type, id and op: anything else is refused, as REST refuses unknown parameters. */
const OP_FIELDS: Record<string, readonly string[]> = {
  create: ['path', 'data', 'encoding', 'mode', 'ttl', 'acl', 'parents'],
  get: ['path', 'watch', 'encoding'],
  children: ['path', 'watch'],
  exists: ['path', 'watch'],
  set: ['path', 'data', 'encoding', 'version'],
  delete: ['path', 'version', 'recursive'],
  multi: ['ops'],
  sync: ['path'],
  getAcl: ['path'],
  setAcl: ['path', 'acl', 'aversion', 'version'],
  addWatch: ['path', 'mode'],
  removeWatches: ['path', 'kind'],
};

const BASE_REQUEST_FIELDS: ReadonlySet<string> = new Set(['type', 'id', 'op']);
/** Every field a request of each op may carry (checked on every request: built once). */
const REQUEST_FIELDS = new Map(Object.entries(OP_FIELDS).map(([op, f]) => [op, new Set([...BASE_REQUEST_FIELDS, ...f])]));
const CONNECT_FIELDS: ReadonlySet<string> = new Set(['type', 'sessionId', 'timeoutMs', 'lastZxid', 'watches']);

/** Refuses a field outside `allowed`; `what` is 'connect', or 'op' to name the request's op. */
function checkFields(msg: Json, allowed: ReadonlySet<string>, what: 'connect' | 'op'): void {
  for (const k in msg) {
    if (!allowed.has(k)) throw new ZkError('BadArguments', `${what === 'op' ? `op ${JSON.stringify(msg.op)}` : what}: unknown field ${JSON.stringify(k)}`);
  }
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new ZkError('BadArguments', `${name} must be a string`);
  return v;
}

function bool(v: unknown, name: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ZkError('BadArguments', `${name} must be true or false`);
  return v;
}

function parseWatches(v: unknown): Registration[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ZkError('BadArguments', 'watches is a list of {"path","kind"}');
  return v.map((w, i) => {
    const o = w as { path?: unknown; kind?: unknown };
    if (typeof o?.path !== 'string' || !(WATCH_KINDS as readonly unknown[]).includes(o.kind)) {
      throw new ZkError('BadArguments', `watches[${i}] must be {"path", "kind": ${WATCH_KINDS.join('|')}}`);
    }
    validatePath(o.path);
    return { path: o.path, kind: o.kind as Registration['kind'] };
  });
}
