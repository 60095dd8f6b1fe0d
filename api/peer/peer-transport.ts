import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CodecError } from '../../core/codec.ts';
import { encodePeerMessage, decodePeerMessage } from '../../core/message-codec.ts';
import type { PeerMessage } from '../../core/messages.ts';
import type { Send } from '../../core/replica.ts';
import type { DataTree } from '../../core/tree/data-tree.ts';
import { SnapshotEncoder } from '../../core/tree/snapshot-codec.ts';
import type { ServerConfig } from '../config.ts';
import type { Logger } from '../logger.ts';

/** Frame kinds on a peer stream: a peer message, a chunk of the SNAP before it, the end of that SNAP. */
const FRAME_MESSAGE = 0;
const FRAME_SNAP_CHUNK = 1;
const FRAME_SNAP_END = 2;
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Bytes queued for one peer beyond which the connection is dropped (the peer resynchronises). */
const MAX_QUEUED_BYTES = 512 * 1024 * 1024;
/** How long a challenge may wait for the stream that answers it. */
const NONCE_TTL_MS = 30_000;

export interface PeerSink {
  receive(from: number, msg: PeerMessage): void;
  peerUp(id: number): void;
  peerDown(id: number): void;
}

export interface PeerStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  invalidFrames: number;
  refusedConnections: number;
}

type Outgoing = { kind: 'bytes'; data: Buffer } | { kind: 'snap'; enc: SnapshotEncoder; generation: number; tree: DataTree };

function frame(kind: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.length);
  b.writeUInt32BE(payload.length + 1, 0);
  b[4] = kind;
  b.set(payload, 5);
  return b;
}

/**
 * Identifies the ensemble's membership: peers configured with other member ids
 * are refused. Addresses are left out on purpose: each server may reach the
 * others by its own route (NAT, container names, a proxy in fault tests).
 */
export function ensembleId(cfg: ServerConfig): string {
  const desc = [...cfg.peers.keys()].sort((a, b) => a - b).join(',');
  return createHash('sha256').update(desc).digest('hex').slice(0, 16);
}

function authToken(secret: string, from: number, to: number, nonce: string): string {
  return createHmac('sha256', secret).update(`zoogate-peer ${from}>${to} ${nonce}`).digest('hex');
}

/**
 * ZAB over HTTP on the peer port. Each server keeps one long-lived streaming
 * `POST /zab` to every other member and writes length-prefixed binary frames
 * into it: one persistent connection per direction, every message of one
 * output for a peer in one write, a SNAP streamed a chunk per event-loop turn
 * with later messages queued behind it. Streams are authenticated by a
 * challenge: `GET /zab/nonce` gives a single-use nonce, the stream carries an
 * HMAC of it under the shared secret (the secret never crosses the wire, a
 * recorded stream cannot be replayed, and no clocks need agree), and the
 * ensemble's member ids; anything else is refused, and a frame that does not
 * decode is dropped and counted.
 */
export class PeerTransport {
  readonly server: http.Server;
  readonly stats: PeerStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, invalidFrames: 0, refusedConnections: 0 };
  private readonly out = new Map<number, OutboundLink>();
  private readonly inbound = new Map<number, http.IncomingMessage>();
  private readonly ensemble: string;
  private closed = false;

  constructor(private readonly cfg: ServerConfig, private readonly sink: PeerSink, private readonly log: Logger) {
    this.ensemble = ensembleId(cfg);
    this.server = http.createServer((req, res) => this.accept(req, res));
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 10_000;
    if (cfg.secret === null) log.info('no --secret: peer streams are not authenticated');
    for (const [id, addr] of cfg.peers) {
      if (id === cfg.serverId) continue;
      this.out.set(id, new OutboundLink(id, addr, this));
    }
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.cfg.peerPort, this.cfg.host, () => {
        this.server.off('error', reject);
        for (const l of this.out.values()) l.connect();
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Step 2 of the order of effects: every message of one output, grouped per peer into one write. */
  send(sends: readonly Send[], tree: DataTree): void {
    const byPeer = new Map<number, Outgoing[]>();
    // a proposal or commit forwarded to every follower is one message object: encode it once
    let lastMsg: PeerMessage | null = null;
    let lastFrame: Buffer | null = null;
    for (const s of sends) {
      const link = this.out.get(s.to);
      if (link === undefined || !link.up) continue; // not connected: the protocol recovers (resend, resync)
      let items = byPeer.get(s.to);
      if (items === undefined) byPeer.set(s.to, (items = []));
      if (s.msg.type === 'SNAP') {
        items.push({ kind: 'bytes', data: frame(FRAME_MESSAGE, encodePeerMessage({ ...s.msg, chunks: [] })) });
        // consistent at this moment: the tree before this output's commits, as the protocol expects
        items.push({ kind: 'snap', enc: new SnapshotEncoder(tree), generation: tree.generation, tree });
      } else {
        if (s.msg !== lastMsg) {
          lastMsg = s.msg;
          lastFrame = frame(FRAME_MESSAGE, encodePeerMessage(s.msg));
        }
        items.push({ kind: 'bytes', data: lastFrame! });
      }
    }
    for (const [id, items] of byPeer) this.out.get(id)!.enqueue(items);
  }

  // ---- inbound ----

  private refuse(res: http.ServerResponse, status: number, why: string, from: unknown): void {
    this.stats.refusedConnections++;
    this.log.info({ from, why }, 'refused a peer stream');
    res.writeHead(status, { 'content-type': 'text/plain', connection: 'close' });
    res.end(why);
  }

  private readonly nonces = new Map<string, number>();

  private accept(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'GET' && req.url === '/zab/nonce') {
      const now = performance.now();
      for (const [n, at] of this.nonces) if (now - at > NONCE_TTL_MS) this.nonces.delete(n);
      if (this.nonces.size > 10_000) this.nonces.clear();
      const nonce = randomBytes(16).toString('hex');
      this.nonces.set(nonce, now);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(nonce);
      return;
    }
    if (req.method !== 'POST' || req.url !== '/zab') return this.refuse(res, 404, 'not a peer endpoint', null);
    const from = Number(req.headers['zoogate-peer-id']);
    if (!Number.isInteger(from) || !this.cfg.peers.has(from) || from === this.cfg.serverId) return this.refuse(res, 403, 'not a member of this ensemble', req.headers['zoogate-peer-id']);
    if (req.headers['zoogate-ensemble'] !== this.ensemble) return this.refuse(res, 403, 'member ids differ (--peers)', from);
    if (Number(req.headers['zoogate-peer-to']) !== this.cfg.serverId) return this.refuse(res, 403, 'stream meant for another server', from);
    if (this.cfg.secret !== null && !this.authentic(req, from)) return this.refuse(res, 401, 'bad or missing peer credentials', from);
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true, 1000);
    const old = this.inbound.get(from);
    this.inbound.set(from, req);
    old?.destroy();
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.flushHeaders();
    // Only the newest stream from a peer is heard: frames still buffered in a replaced
    // one are dropped, so nothing stale is delivered after a reconnect (FIFO, at most once).
    const reader = new FrameReader((kind, payload) => { if (this.inbound.get(from) === req) this.onFrame(from, kind, payload); }, () => {
      this.stats.invalidFrames++;
      req.destroy();
    });
    req.on('data', (d: Buffer) => {
      this.stats.bytesIn += d.length;
      reader.push(d);
    });
    const gone = () => {
      if (this.inbound.get(from) !== req) return;
      this.inbound.delete(from);
      if (!this.closed) this.sink.peerDown(from);
    };
    req.on('close', gone);
    req.on('error', gone);
  }

  private authentic(req: http.IncomingMessage, from: number): boolean {
    const h = req.headers['zoogate-peer-auth'];
    if (typeof h !== 'string') return false;
    const [nonce, mac] = h.split('.');
    if (nonce === undefined || mac === undefined || !this.nonces.delete(nonce)) return false; // unknown or used
    const want = Buffer.from(authToken(this.cfg.secret!, from, this.cfg.serverId, nonce), 'hex');
    const got = Buffer.from(mac, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private readonly snapsIn = new Map<number, { msg: PeerMessage & { type: 'SNAP' }; chunks: Uint8Array[] }>();

  private onFrame(from: number, kind: number, payload: Buffer): void {
    this.stats.framesIn++;
    try {
      if (kind === FRAME_MESSAGE) {
        const msg = decodePeerMessage(payload);
        if (msg.type === 'SNAP') {
          this.snapsIn.set(from, { msg, chunks: [] });
          return;
        }
        this.sink.receive(from, msg);
      } else if (kind === FRAME_SNAP_CHUNK) {
        const s = this.snapsIn.get(from);
        if (s === undefined) throw new CodecError('a snapshot chunk without SNAP');
        s.chunks.push(Buffer.from(payload));
      } else if (kind === FRAME_SNAP_END) {
        const s = this.snapsIn.get(from);
        if (s === undefined) throw new CodecError('a snapshot end without SNAP');
        this.snapsIn.delete(from);
        this.sink.receive(from, { ...s.msg, chunks: s.chunks });
      } else throw new CodecError(`unknown frame kind ${kind}`);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.stats.invalidFrames++;
      this.log.info({ from, err: e.message }, 'dropped an invalid peer frame');
    }
  }

  // ---- used by the outbound links ----

  address(addr: string): { host: string; port: number } {
    const i = addr.lastIndexOf(':');
    return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
  }

  get needsNonce(): boolean {
    return this.cfg.secret !== null;
  }

  requestOptions(to: number, addr: string, nonce: string | null): http.RequestOptions {
    const { host, port } = this.address(addr);
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'transfer-encoding': 'chunked',
      'zoogate-peer-id': String(this.cfg.serverId),
      'zoogate-peer-to': String(to),
      'zoogate-ensemble': this.ensemble,
    };
    if (this.cfg.secret !== null && nonce !== null) headers['zoogate-peer-auth'] = `${nonce}.${authToken(this.cfg.secret, this.cfg.serverId, to, nonce)}`;
    return { host, port, method: 'POST', path: '/zab', headers, agent: false };
  }

  linkUp(id: number): void {
    this.log.info({ peer: id }, 'peer stream up');
    if (!this.closed) this.sink.peerUp(id);
  }

  linkDown(id: number): void {
    this.log.info({ peer: id }, 'peer stream down');
    if (!this.closed) this.sink.peerDown(id);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  logger(): Logger {
    return this.log;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const l of this.out.values()) l.close();
    for (const r of this.inbound.values()) r.destroy();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** Splits a byte stream into [u32 length][u8 kind][payload] frames. */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (kind: number, payload: Buffer) => void, private readonly onBad: () => void) {}

  push(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len < 1 || len > MAX_FRAME_BYTES) return this.onBad();
      if (this.buf.length < 4 + len) return;
      const kind = this.buf[4]!;
      const payload = this.buf.subarray(5, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      this.onFrame(kind, payload);
    }
  }
}

/** One direction to one peer: connect (and reconnect with back-off), queue, write. */
class OutboundLink {
  up = false;
  private req: http.ClientRequest | null = null;
  private queue: Outgoing[] = [];
  private queuedBytes = 0;
  private writing = false;
  private retryMs = 50;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(readonly id: number, private readonly addr: string, private readonly t: PeerTransport) {}

  /** Fetches a challenge first when the ensemble has a secret, then opens the stream. */
  connect(): void {
    if (this.closed) return;
    if (!this.t.needsNonce) return this.open(null);
    const { host, port } = this.t.address(this.addr);
    const get = http.get({ host, port, path: '/zab/nonce', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 && /^[0-9a-f]{32}$/.test(body) ? this.open(body) : this.retry()));
      res.on('error', () => this.retry());
    });
    get.on('error', () => this.retry());
    get.on('timeout', () => get.destroy());
  }

  private retry(): void {
    if (this.closed || this.t.isClosed || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, this.retryMs);
    this.timer.unref();
    this.retryMs = Math.min(1000, this.retryMs * 2);
  }

  private open(nonce: string | null): void {
    if (this.closed) return;
    const req = http.request(this.t.requestOptions(this.id, this.addr, nonce));
    this.req = req;
    req.on('socket', (s) => s.setNoDelay(true));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        this.t.logger().info({ peer: this.id, status: res.statusCode }, 'peer refused our stream');
        res.resume();
        return this.fail(req);
      }
      res.on('close', () => this.fail(req));
      res.resume();
      this.up = true;
      this.retryMs = 50;
      this.t.linkUp(this.id);
    });
    req.on('error', () => this.fail(req));
    req.on('close', () => this.fail(req));
    req.flushHeaders();
  }

  private fail(req: http.ClientRequest): void {
    if (this.req !== req) return;
    this.req = null;
    req.destroy();
    const wasUp = this.up;
    this.up = false;
    // what was queued for the broken stream is lost (the peer resynchronises); a
    // write waiting for 'drain' on it will never resume, so the next stream starts clean
    for (const item of this.queue) if (item.kind === 'snap') item.enc.close();
    this.queue = [];
    this.queuedBytes = 0;
    this.writing = false;
    if (wasUp) this.t.linkDown(this.id);
    this.retry();
  }

  enqueue(items: Outgoing[]): void {
    if (!this.up || this.req === null) return;
    // consecutive byte frames go out as one write
    const merged: Outgoing[] = [];
    let bytes: Buffer[] = [];
    const flush = () => {
      if (bytes.length > 0) merged.push({ kind: 'bytes', data: bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes) });
      bytes = [];
    };
    for (const it of items) {
      if (it.kind === 'bytes') {
        bytes.push(it.data);
        this.queuedBytes += it.data.length;
      } else {
        flush();
        merged.push(it);
      }
    }
    flush();
    this.queue.push(...merged);
    if (this.queuedBytes > MAX_QUEUED_BYTES) {
      this.t.logger().info({ peer: this.id, queued: this.queuedBytes }, 'peer too slow; dropping its stream');
      return this.fail(this.req);
    }
    this.pumpQueue();
  }

  private pumpQueue(): void {
    if (this.writing) return;
    const req = this.req;
    while (req !== null && this.req === req && this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === 'bytes') {
        this.queue.shift();
        this.queuedBytes -= head.data.length;
        this.t.stats.framesOut++;
        this.t.stats.bytesOut += head.data.length;
        const ok = req.write(head.data);
        // Node's http corks the socket on a chunked write and uncorks on the next tick: that
        // would hold a leader's proposal until after the fsync it is sent ahead of (core/effects.ts).
        // Out now, chunk header, data and trailer in one writev.
        if (req.socket !== null && req.socket.writableCorked > 0) req.socket.uncork();
        if (!ok) {
          this.writing = true;
          req.once('drain', () => {
            if (this.req !== req) return;
            this.writing = false;
            this.pumpQueue();
          });
          return;
        }
        continue;
      }
      // a snapshot: one chunk per turn so the server keeps serving meanwhile
      if (head.tree.generation !== head.generation) {
        // the tree was replaced while we were sending it: the follower will resync
        this.queue.shift();
        return this.fail(req);
      }
      const chunk = head.enc.nextChunk();
      const data = chunk === null ? frame(FRAME_SNAP_END, new Uint8Array(0)) : frame(FRAME_SNAP_CHUNK, chunk);
      if (chunk === null) this.queue.shift();
      this.t.stats.bytesOut += data.length;
      const ok = req.write(data);
      this.writing = true;
      const next = () => {
        if (this.req !== req) return;
        this.writing = false;
        this.pumpQueue();
      };
      if (ok) setImmediate(next);
      else req.once('drain', next);
      return;
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.req?.destroy();
  }
}
