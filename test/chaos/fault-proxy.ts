/**
 * TCP-level fault injection for Jepsen-style tests of a real ZooGate ensemble.
 *
 * A `LinkProxy` sits on one directed link: it accepts connections on loopback
 * and forwards each to a target host:port, byte for byte, both ways. It can
 * block the link (reset every connection, reset new ones on arrival), delay
 * it, break connections at random (loss), or stall it (pause: bytes queue
 * inside the proxy, nothing is closed).
 *
 * A `FaultNetwork` puts one proxy on every ordered pair of members and gives
 * each server the `--peers` string that routes its outbound peer streams
 * through them, plus whole-network operations (partition, isolate, one-way,
 * bridge, heal).
 *
 * What a link carries: ZooGate server i opens one long-lived streaming
 * `POST /zab` to each peer j (api/peer/peer-transport.ts) and sends all its
 * messages for j on it; j's messages for i travel on the stream j opens to i.
 * Link i→j is the proxy that server i's `--peers` names for j, so it carries
 * the TCP connection *opened by i* — both directions of that connection's
 * bytes (i's frames one way; j's HTTP response headers the other). Blocking
 * i→j therefore stops the messages i sends to j, and nothing else: j still
 * reaches i over link j→i. A fault here is at the level of connections, not
 * packets: a "lost" chunk or a block resets the connection (both ends see
 * ECONNRESET) and the server reconnects, as after a real network failure.
 *
 * Randomness (delay jitter, loss) comes from an injected `rng` so a run with
 * the same seed makes the same decisions for the same sequence of chunks.
 * Chunk boundaries are chosen by the kernel, so replay is exact only as far
 * as the chunking repeats (it does for request/response traffic of small
 * messages on loopback; a bulk stream may be split differently run to run).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { prng } from '../support/prng.ts';

/** Bytes queued in one direction of one connection beyond which the proxy stops reading that side (TCP back-pressure). */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = HIGH_WATER / 2;

/** mulberry32 as a float in [0, 1): a seeded `rng` for `LinkProxy` and `FaultNetwork`. */
export function seededRng(seed: number): () => number {
  const next = prng(seed);
  return () => next(4294967296) / 4294967296;
}

export interface LinkStats {
  /** TCP connections accepted on the listening port (including those refused because the link was blocked). */
  accepted: number;
  /** Accepted while blocked, and reset at once without reaching the target. */
  refused: number;
  /** Established connections reset by `block()`. */
  resetByBlock: number;
  /** Established connections reset because a chunk was "lost" (`setLoss`). */
  resetByLoss: number;
  /** Connections torn down because one end failed (its reset/error is passed on to the other end as a reset). */
  endpointErrors: number;
  /** Connections whose forward connection to the target could not be made (target down): the client is reset. */
  upstreamFailures: number;
  /** Connections currently open through the proxy. */
  active: number;
  /** Bytes delivered client → target (for link i→j: from i to j). */
  bytesToTarget: number;
  /** Bytes delivered target → client (for link i→j: from j to i on i's connection). */
  bytesFromTarget: number;
  /** Bytes read but not yet delivered (held by delay or pause), both directions, all connections. */
  queuedBytes: number;
}

export interface LinkProxyOptions {
  targetPort: number;
  /** Default 127.0.0.1. */
  targetHost?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Random source in [0, 1) for jitter and loss; default `seededRng(1)`. */
  rng?: () => number;
  /** For messages, e.g. "1->2". */
  name?: string;
}

/** Destroys a socket with a TCP RST where possible (the peer sees ECONNRESET), else a plain close. */
function hardClose(s: net.Socket): void {
  if (s.destroyed) return;
  // A socket still connecting has nothing to reset (and resetAndDestroy would wait for the connect).
  if (s.connecting || typeof s.resetAndDestroy !== 'function') {
    s.destroy();
    return;
  }
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

/**
 * One direction of one proxied connection: reads from `src`, holds each chunk
 * until its release time (delay) and while the link is paused, writes in order
 * to `dst`, and passes on the end of stream (FIN) after the last chunk.
 */
class Flow {
  private queue: Array<{ data: Buffer; at: number }> = [];
  queued = 0;
  private ended = false;
  private endSent = false;
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private srcHeld = false;

  constructor(private readonly conn: Conn, private readonly src: net.Socket, private readonly dst: () => net.Socket | null, private readonly toTarget: boolean) {
    src.on('data', (d: Buffer) => this.onData(d));
    src.on('end', () => {
      this.ended = true;
      this.pump();
    });
  }

  private onData(d: Buffer): void {
    if (this.conn.dead) return;
    const link = this.conn.link;
    if (link.rollLoss()) return this.conn.reset('loss');
    this.queue.push({ data: d, at: performance.now() + link.rollDelay() });
    this.queued += d.length;
    link.queuedChanged(d.length);
    if (this.queued >= HIGH_WATER && !this.srcHeld) {
      this.srcHeld = true;
      this.src.pause();
    }
    this.pump();
  }

  pump(): void {
    const link = this.conn.link;
    if (this.conn.dead || link.isPaused || this.draining) return;
    const dst = this.dst();
    if (dst === null) return;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const wait = head.at - performance.now();
      if (wait > 0) {
        if (this.timer === null) {
          this.timer = setTimeout(() => {
            this.timer = null;
            this.pump();
          }, Math.ceil(wait));
        }
        break;
      }
      this.queue.shift();
      this.queued -= head.data.length;
      link.queuedChanged(-head.data.length);
      link.delivered(this.toTarget, head.data.length);
      if (!dst.write(head.data)) {
        this.draining = true;
        dst.once('drain', () => {
          this.draining = false;
          this.pump();
        });
        break;
      }
    }
    if (this.srcHeld && this.queued < LOW_WATER) {
      this.srcHeld = false;
      this.src.resume();
    }
    if (this.queue.length === 0 && this.ended && !this.endSent && !this.draining) {
      this.endSent = true;
      dst.end();
    }
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.conn.link.queuedChanged(-this.queued);
    this.queue = [];
    this.queued = 0;
  }
}

/** One accepted connection and the connection it opened to the target. */
class Conn {
  dead = false;
  upstream: net.Socket | null = null;
  private readonly up: Flow;
  private down: Flow | null = null;
  private upstreamConnected = false;

  constructor(readonly link: LinkProxy, readonly client: net.Socket, private readonly targetHost: string, private readonly targetPort: number) {
    client.setNoDelay(true);
    client.on('error', () => this.fail());
    client.on('close', () => this.closed());
    this.up = new Flow(this, client, () => this.upstream, true);
    // A stalled link does not even carry the handshake: the target sees the connection on resume().
    if (!link.isPaused) this.connectUpstream();
  }

  connectUpstream(): void {
    if (this.upstream !== null || this.dead) return;
    const s = net.connect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true });
    this.upstream = s;
    s.setNoDelay(true);
    s.once('connect', () => (this.upstreamConnected = true));
    s.on('error', () => {
      if (!this.upstreamConnected && !this.dead) this.link.count('upstreamFailures');
      this.fail();
    });
    s.on('close', () => this.closed());
    this.down = new Flow(this, s, () => this.client, false);
    this.up.pump();
  }

  pump(): void {
    if (this.upstream === null) this.connectUpstream();
    this.up.pump();
    this.down?.pump();
  }

  /** Reset by the proxy (a fault). */
  reset(why: 'block' | 'loss'): void {
    if (this.dead) return;
    this.link.count(why === 'block' ? 'resetByBlock' : 'resetByLoss');
    this.kill();
  }

  /** One end failed: pass the failure on to the other end as a reset. */
  private fail(): void {
    if (this.dead) return;
    this.link.count('endpointErrors');
    this.kill();
  }

  kill(): void {
    this.dead = true;
    this.up.stop();
    this.down?.stop();
    hardClose(this.client);
    if (this.upstream !== null) hardClose(this.upstream);
    this.link.forget(this);
  }

  private closed(): void {
    if (this.client.destroyed && (this.upstream === null || this.upstream.destroyed)) {
      this.dead = true;
      this.up.stop();
      this.down?.stop();
      this.link.forget(this);
    }
  }
}

/**
 * A TCP proxy on one link with fault controls. Every accepted connection is
 * forwarded to the target (Nagle off both sides); faults apply to the link as
 * a whole, i.e. to all its current and future connections.
 */
export class LinkProxy {
  readonly name: string;
  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private readonly rng: () => number;
  private readonly targetHost: string;
  private readonly targetPort: number;
  private readonly host: string;
  private readonly wantPort: number;
  private blocked = false;
  private paused = false;
  private delayMs = 0;
  private jitterMs = 0;
  private loss = 0;
  private listeningPort = 0;
  private readonly s: Omit<LinkStats, 'active'> = {
    accepted: 0, refused: 0, resetByBlock: 0, resetByLoss: 0, endpointErrors: 0, upstreamFailures: 0, bytesToTarget: 0, bytesFromTarget: 0, queuedBytes: 0,
  };

  constructor(opts: LinkProxyOptions) {
    this.targetHost = opts.targetHost ?? '127.0.0.1';
    this.targetPort = opts.targetPort;
    this.host = opts.host ?? '127.0.0.1';
    this.wantPort = opts.port ?? 0;
    this.rng = opts.rng ?? seededRng(1);
    this.name = opts.name ?? `proxy->${this.targetHost}:${this.targetPort}`;
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
  }

  /** Starts listening; resolves to the port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.wantPort, this.host, () => {
        this.server.off('error', reject);
        this.listeningPort = (this.server.address() as net.AddressInfo).port;
        resolve(this.listeningPort);
      });
    });
  }

  /** The listening port (0 before `listen()`). */
  get port(): number {
    return this.listeningPort;
  }

  /** host:port to connect to, as used in `--peers`. */
  get address(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.listeningPort}`;
  }

  get target(): string {
    return `${this.targetHost}:${this.targetPort}`;
  }

  private onConnection(socket: net.Socket): void {
    this.s.accepted++;
    if (this.blocked) {
      socket.on('error', () => {});
      this.s.refused++;
      hardClose(socket);
      return;
    }
    this.conns.add(new Conn(this, socket, this.targetHost, this.targetPort));
  }

  /** Resets every current connection (both ends see ECONNRESET) and, until `unblock()`, every new one on arrival. */
  block(): void {
    this.blocked = true;
    for (const c of [...this.conns]) c.reset('block');
  }

  unblock(): void {
    this.blocked = false;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  /**
   * Holds each chunk read from then on for `ms` ± `jitterMs` (uniform, never
   * below 0) before forwarding it. Order within a direction of a connection
   * is kept: a chunk never overtakes an earlier one (it waits behind it).
   * Chunks already held keep the release time they were given.
   */
  setDelay(ms: number, jitterMs = 0): void {
    if (!(ms >= 0) || !(jitterMs >= 0)) throw new RangeError(`${this.name}: delay and jitter must be >= 0 (got ${ms}, ${jitterMs})`);
    this.delayMs = ms;
    this.jitterMs = jitterMs;
  }

  /** Each chunk read (either direction) is "lost" with probability `p`: the connection is reset, as TCP cannot skip bytes. */
  setLoss(p: number): void {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${this.name}: loss must be in [0, 1] (got ${p})`);
    this.loss = p;
  }

  /**
   * Stalls the link: nothing is forwarded (bytes and FINs queue in the proxy,
   * then in the kernel once 1 MiB is held per direction) and nothing is
   * closed; a connection accepted meanwhile reaches the target only on resume().
   */
  pause(): void {
    this.paused = true;
  }

  /** Delivers everything held (subject to any delay still pending) and forwards again. */
  resume(): void {
    this.paused = false;
    for (const c of [...this.conns]) c.pump();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get stats(): LinkStats {
    return { ...this.s, active: this.conns.size };
  }

  /** Resets every connection and stops listening. */
  close(): Promise<void> {
    for (const c of [...this.conns]) c.kill();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }

  // ---- used by the connections ----

  /** @internal */
  rollLoss(): boolean {
    return this.loss > 0 && this.rng() < this.loss; // no draw while there is no loss: a fault schedule replays from its seed
  }

  /** @internal */
  rollDelay(): number {
    if (this.jitterMs === 0) return this.delayMs;
    return Math.max(0, this.delayMs + (2 * this.rng() - 1) * this.jitterMs);
  }

  /** @internal */
  delivered(toTarget: boolean, n: number): void {
    if (toTarget) this.s.bytesToTarget += n;
    else this.s.bytesFromTarget += n;
  }

  /** @internal */
  queuedChanged(n: number): void {
    this.s.queuedBytes += n;
  }

  /** @internal */
  count(what: 'resetByBlock' | 'resetByLoss' | 'endpointErrors' | 'upstreamFailures'): void {
    this.s[what]++;
  }

  /** @internal */
  forget(c: Conn): void {
    this.conns.delete(c);
  }
}

export interface NetworkMember {
  id: number;
  /** The server's real peer port (its --peer-port). */
  peerPort: number;
  /** Where its peer port listens; default 127.0.0.1. */
  host?: string;
}

export interface FaultNetworkOptions {
  /** Seeds every link's rng (each link gets its own stream, derived from the seed and the pair). Default 1. */
  seed?: number;
  /** Overrides `seed`: the rng for link from→to. */
  rngFor?: (from: number, to: number) => () => number;
}

/**
 * One `LinkProxy` per ordered pair (i, j), i ≠ j, of an ensemble's members.
 * Link i→j listens on loopback and forwards to j's real peer port; server i
 * must be started with `--peers peersArgFor(i)` so that its outbound stream
 * to j goes through link i→j. Each link thus carries the connection opened
 * by i (i's messages to j, and that connection's reply bytes): see the file
 * comment.
 *
 * The topology operations (`partition`, `isolate`, `oneWay`, `bridge`,
 * `blockExactly`) each set the blocked state of every link, replacing the
 * previous topology, so the network's state never depends on the order of
 * earlier calls. Pausing, delay and loss are separate; `heal()` removes all.
 */
export class FaultNetwork {
  readonly ids: readonly number[];
  private readonly members = new Map<number, NetworkMember>();
  private readonly proxies = new Map<string, LinkProxy>();

  private constructor(members: readonly NetworkMember[], opts: FaultNetworkOptions) {
    if (members.length < 2) throw new Error('a FaultNetwork needs at least 2 members');
    for (const m of members) {
      if (!Number.isInteger(m.id) || m.id < 1) throw new Error(`bad member id ${m.id}`);
      if (this.members.has(m.id)) throw new Error(`member id ${m.id} appears twice`);
      this.members.set(m.id, m);
    }
    this.ids = [...this.members.keys()].sort((a, b) => a - b);
    const seed = opts.seed ?? 1;
    const rngFor = opts.rngFor ?? ((from: number, to: number) => seededRng((seed ^ Math.imul(from * 257 + to, 0x9e3779b1)) >>> 0));
    for (const i of this.ids) {
      for (const j of this.ids) {
        if (i === j) continue;
        const to = this.members.get(j)!;
        this.proxies.set(`${i}>${j}`, new LinkProxy({ targetHost: to.host ?? '127.0.0.1', targetPort: to.peerPort, rng: rngFor(i, j), name: `${i}->${j}` }));
      }
    }
  }

  /** Creates the proxies and waits until all of them listen. */
  static async create(members: readonly NetworkMember[], opts: FaultNetworkOptions = {}): Promise<FaultNetwork> {
    const n = new FaultNetwork(members, opts);
    try {
      await Promise.all([...n.proxies.values()].map((p) => p.listen()));
    } catch (e) {
      await n.close();
      throw e;
    }
    return n;
  }

  /** The proxy on link from→to (the connection server `from` opens to server `to`). */
  link(from: number, to: number): LinkProxy {
    const p = this.proxies.get(`${from}>${to}`);
    if (p === undefined) throw new Error(`no link ${from}->${to} (members ${this.ids.join(',')})`);
    return p;
  }

  /** Every link, in order of (from, to). */
  links(): Array<{ from: number; to: number; proxy: LinkProxy }> {
    const out: Array<{ from: number; to: number; proxy: LinkProxy }> = [];
    for (const from of this.ids) for (const to of this.ids) if (from !== to) out.push({ from, to, proxy: this.link(from, to) });
    return out;
  }

  /** The `--peers` value for server i: its own real peer address for itself, the proxy of link i→j for each other j. */
  peersArgFor(i: number): string {
    const me = this.member(i);
    return this.ids
      .map((j) => {
        if (j !== i) return `${j}=${this.link(i, j).address}`;
        const host = me.host ?? '127.0.0.1';
        return `${j}=${host.includes(':') ? `[${host}]` : host}:${me.peerPort}`;
      })
      .join(',');
  }

  /**
   * Links between members of different groups are blocked both ways; links
   * within a group are open. A member in no group is alone in a group of its
   * own. E.g. partition([[1, 2], [3, 4, 5]]).
   */
  partition(groups: readonly (readonly number[])[]): void {
    const groupOf = new Map<number, number>();
    groups.forEach((g, k) => {
      for (const id of g) {
        this.member(id);
        if (groupOf.has(id)) throw new Error(`member ${id} is in two groups of the partition`);
        groupOf.set(id, k);
      }
    });
    let lone = groups.length;
    for (const id of this.ids) if (!groupOf.has(id)) groupOf.set(id, lone++);
    this.setTopology((from, to) => groupOf.get(from) !== groupOf.get(to));
  }

  /** i can neither reach nor be reached by anyone; the others are connected. */
  isolate(i: number): void {
    this.member(i);
    this.partition([[i], this.ids.filter((j) => j !== i)]);
  }

  /**
   * Only link from→to is blocked: `from` cannot send to `to`, while `to`
   * still sends to `from` and everyone else is connected. (At TCP level the
   * connection from→to is reset; `to`'s messages travel on its own link.)
   */
  oneWay(from: number, to: number): void {
    this.link(from, to);
    this.setTopology((a, b) => a === from && b === to);
  }

  /**
   * The Jepsen bridge: `left` and `right` cannot talk to each other, but
   * each side is fully connected with `middle`, which sees everyone. With
   * 3 members: bridge(1, 2, 3); with 5: bridge([1, 2], 3, [4, 5]).
   * A member named nowhere is isolated.
   */
  bridge(left: number | readonly number[], middle: number, right: number | readonly number[]): void {
    const l = typeof left === 'number' ? [left] : [...left];
    const r = typeof right === 'number' ? [right] : [...right];
    const side = new Map<number, 'L' | 'M' | 'R'>();
    for (const [ids, s] of [[l, 'L'], [[middle], 'M'], [r, 'R']] as const) {
      for (const id of ids) {
        this.member(id);
        if (side.has(id)) throw new Error(`member ${id} is named twice in the bridge`);
        side.set(id, s);
      }
    }
    this.setTopology((a, b) => {
      const sa = side.get(a);
      const sb = side.get(b);
      if (sa === undefined || sb === undefined) return true;
      return (sa === 'L' && sb === 'R') || (sa === 'R' && sb === 'L');
    });
  }

  /** Blocks exactly the given links (from, to) and opens every other. */
  blockExactly(links: ReadonlyArray<readonly [number, number]>): void {
    const set = new Set(links.map(([a, b]) => {
      this.link(a, b);
      return `${a}>${b}`;
    }));
    this.setTopology((a, b) => set.has(`${a}>${b}`));
  }

  /** Opens every link (ends a partition) but leaves pauses, delay and loss as they are. */
  healPartition(): void {
    this.setTopology(() => false);
  }

  /** Removes every fault: all links open, none paused, no delay, no loss. */
  heal(): void {
    for (const { proxy } of this.links()) {
      proxy.unblock();
      proxy.setDelay(0, 0);
      proxy.setLoss(0);
      proxy.resume();
    }
  }

  /** Delay on every link (see LinkProxy.setDelay). */
  setDelay(ms: number, jitterMs = 0): void {
    for (const { proxy } of this.links()) proxy.setDelay(ms, jitterMs);
  }

  /** Loss on every link (see LinkProxy.setLoss). */
  setLoss(p: number): void {
    for (const { proxy } of this.links()) proxy.setLoss(p);
  }

  /** The links currently blocked, as [from, to]. */
  blocked(): Array<[number, number]> {
    return this.links().filter((l) => l.proxy.isBlocked).map((l) => [l.from, l.to]);
  }

  /** For logs: "1->2 1->3 2->1 3->1" or "none". */
  describe(): string {
    const b = this.blocked();
    return b.length === 0 ? 'none' : b.map(([a, c]) => `${a}->${c}`).join(' ');
  }

  /** Stats summed over all links. */
  stats(): LinkStats {
    const sum: LinkStats = { accepted: 0, refused: 0, resetByBlock: 0, resetByLoss: 0, endpointErrors: 0, upstreamFailures: 0, active: 0, bytesToTarget: 0, bytesFromTarget: 0, queuedBytes: 0 };
    for (const { proxy } of this.links()) {
      const s = proxy.stats;
      for (const k of Object.keys(sum) as (keyof LinkStats)[]) sum[k] += s[k];
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }

  private member(id: number): NetworkMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`${id} is not a member (members ${this.ids.join(',')})`);
    return m;
  }

  /** Blocks the links for which `blocked(from, to)` holds and unblocks all others (block first, so no moment has extra links open). */
  private setTopology(blocked: (from: number, to: number) => boolean): void {
    const all = this.links();
    for (const l of all) if (blocked(l.from, l.to)) l.proxy.block();
    for (const l of all) if (!blocked(l.from, l.to)) l.proxy.unblock();
  }
}
