/**
 * What the coordination-recipe tests share: a real 3-process ensemble with
 * sessions spread over its nodes, a TCP proxy that can freeze a session's
 * link (the client neither pings nor is heard, as a paused or dead process),
 * and a WebSocket proxy that loses the answer to one chosen request and drops
 * the socket (a write applied whose answer never came: ConnectionLoss).
 */
import { createServer, type Server, type Socket, connect as tcpConnect, type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { ZooGateRest, ZooGateSession, type SessionOptions, type WatchEvent } from '../../client/index.ts';
import { ProcessCluster, until } from '../support/process-cluster.ts';

export { sleep, until } from '../support/process-cluster.ts';

/** Polls `cond` (sync or async) every 20 ms until it holds. */
export function waitFor<T>(what: string, cond: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  return until(what, async () => cond(), timeoutMs, 20);
}

/**
 * One ensemble per test file: tick 100 ms, so session timeouts are 200 ms to
 * 2 s (the longest, 2 s, for sessions that must survive a kill -9 and an
 * election; short ones for sessions meant to expire).
 */
export class RecipeCluster {
  leader = 0;
  readonly sessions: ZooGateSession[] = [];
  readonly proxies: Array<{ close(): Promise<void> }> = [];
  private constructor(readonly c: ProcessCluster) {}

  static async start(): Promise<RecipeCluster> {
    const c = await new ProcessCluster(3).init();
    const rc = new RecipeCluster(c);
    c.startAll();
    try {
      rc.leader = await c.waitStable();
    } catch (e) {
      // the caller never gets the cluster to destroy: stop its servers here (else they keep the test process alive)
      const exited = c.members.filter((m) => m.proc !== null && m.proc.exitCode !== null).map((m) => `server ${m.id} exited ${m.proc!.exitCode}: ${m.log.slice(-2000)}`);
      await c.destroy();
      throw new Error(`${(e as Error).message}${exited.length > 0 ? `\n${exited.join('\n')}` : ''}`);
    }
    return rc;
  }

  url(id: number): string {
    return this.c.member(id).url;
  }

  /** Every node's URL, `first` first. */
  startingAt(first: number): string[] {
    return [first, ...[1, 2, 3].filter((i) => i !== first)].map((i) => this.url(i));
  }

  rest(): ZooGateRest {
    return new ZooGateRest([1, 2, 3].map((i) => this.url(i)), { shuffle: false });
  }

  /** A session that starts on node `first` (and moves to the others in order). */
  async connect(first: number, opts: SessionOptions = {}): Promise<ZooGateSession> {
    const s = await ZooGateSession.connect(this.startingAt(first), { timeoutMs: 2000, shuffle: false, ...opts });
    this.sessions.push(s);
    return s;
  }

  /** `n` sessions, round robin over the three nodes. */
  async spread(n: number, opts: SessionOptions = {}): Promise<ZooGateSession[]> {
    return Promise.all(Array.from({ length: n }, (_, i) => this.connect((i % 3) + 1, opts)));
  }

  /** A session whose only way in is a TCP proxy to node `via`; freezing the proxy cuts it off for good. */
  async frozenLater(via: number, timeoutMs: number, opts: SessionOptions = {}): Promise<{ session: ZooGateSession; proxy: FreezableProxy }> {
    const proxy = await FreezableProxy.start(this.url(via));
    this.proxies.push(proxy);
    const session = await ZooGateSession.connect([proxy.url], { timeoutMs, ...opts });
    this.sessions.push(session);
    return { session, proxy };
  }

  async kill(id: number): Promise<void> {
    await this.c.kill(id);
  }

  async restart(id: number): Promise<void> {
    this.c.start(id);
    this.leader = await this.c.waitStable();
  }

  /** The ensemble's leader now, as the live nodes say. */
  async currentLeader(): Promise<number> {
    this.leader = await this.c.waitStable(this.c.members.filter((m) => m.proc !== null).map((m) => m.id));
    return this.leader;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.sessions.map((s) => Promise.race([s.close(), new Promise((r) => setTimeout(r, 3000))]).catch(() => {})));
    await Promise.all(this.proxies.map((p) => p.close()));
    await this.c.destroy();
  }
}

/** Counts the watch events each session receives (its default watcher sees every event it is sent). */
export class EventCounter {
  private readonly counts = new Map<ZooGateSession, WatchEvent[]>();

  constructor(sessions: readonly ZooGateSession[]) {
    for (const s of sessions) {
      const seen: WatchEvent[] = [];
      this.counts.set(s, seen);
      s.onEvent((e) => seen.push(e));
    }
  }

  /** The events each session has received so far (by session, in the order given). */
  snapshot(): number[] {
    return [...this.counts.values()].map((v) => v.length);
  }

  /** Events received since `before` (a snapshot), per session. */
  since(before: readonly number[]): number[] {
    return this.snapshot().map((n, i) => n - before[i]!);
  }
}

/** A TCP proxy on a free loopback port in front of one node; subclasses decide what passes. */
abstract class NodeProxy {
  protected constructor(protected readonly server: Server, protected readonly target: { host: string; port: number }) {
    server.on('connection', (down) => this.accept(down));
  }

  /** A server listening on a free port, and the node it is to reach. */
  protected static async listening(targetUrl: string): Promise<[Server, { host: string; port: number }]> {
    const u = new URL(targetUrl);
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return [server, { host: u.hostname, port: Number(u.port) }];
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  protected abstract accept(down: Socket): void;
}

/**
 * A TCP proxy in front of one node. `freeze()` stops every byte in both
 * directions and leaves new connections hanging unanswered, as if the client
 * process had stopped: the server hears no pongs and expires the session
 * after its timeout, and the client, hearing nothing, gives up on it too.
 */
export class FreezableProxy extends NodeProxy {
  private frozen = false;
  private readonly sockets = new Set<Socket>();

  static async start(targetUrl: string): Promise<FreezableProxy> {
    return new FreezableProxy(...(await NodeProxy.listening(targetUrl)));
  }

  protected accept(down: Socket): void {
    this.sockets.add(down);
    down.on('error', () => {});
    down.on('close', () => this.sockets.delete(down));
    if (this.frozen) return; // accepted by the kernel, never answered
    const up = tcpConnect(this.target.port, this.target.host);
    this.sockets.add(up);
    up.on('error', () => down.destroy());
    up.on('close', () => {
      this.sockets.delete(up);
      if (!this.frozen) down.destroy();
    });
    down.on('close', () => {
      if (!this.frozen) up.destroy();
    });
    up.on('data', (d) => {
      if (!this.frozen) down.write(d);
    });
    down.on('data', (d) => {
      if (!this.frozen) up.write(d);
    });
  }

  freeze(): void {
    this.frozen = true;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A TCP proxy in front of one node that can hold what the server sends and let it go in one
 * write, so that the client takes it in one socket read: an answer and a later watch event then
 * reach the client's handlers in one turn, the event before the code awaiting the answer resumes.
 */
export class HoldingProxy extends NodeProxy {
  /** While set, server->client bytes are kept until flush() or release(). */
  hold = false;
  private readonly conns = new Set<{ down: Socket; up: Socket; held: Buffer[] }>();

  static async start(targetUrl: string): Promise<HoldingProxy> {
    return new HoldingProxy(...(await NodeProxy.listening(targetUrl)));
  }

  protected accept(down: Socket): void {
    const c = { down, up: tcpConnect(this.target.port, this.target.host), held: [] as Buffer[] };
    this.conns.add(c);
    c.up.on('data', (d: Buffer) => (this.hold ? c.held.push(d) : down.write(d)));
    down.on('data', (d: Buffer) => c.up.write(d));
    const end = () => {
      this.conns.delete(c);
      down.destroy();
      c.up.destroy();
    };
    down.on('close', end).on('error', end);
    c.up.on('close', end).on('error', end);
  }

  /** What is held now, as text. */
  heldText(): string {
    return [...this.conns].map((c) => Buffer.concat(c.held).toString('latin1')).join('');
  }

  /** Lets each connection's held bytes go to its client in one write (holding goes on if set). */
  flush(): void {
    for (const c of this.conns) {
      if (c.held.length > 0 && !c.down.destroyed) c.down.write(Buffer.concat(c.held));
      c.held = [];
    }
  }

  /** Stops holding and lets go what was held. */
  release(): void {
    this.hold = false;
    this.flush();
  }

  async close(): Promise<void> {
    for (const c of this.conns) {
      c.down.destroy();
      c.up.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A WebSocket proxy that forwards everything until told to lose the answer
 * to the next request matching a predicate: the request reaches the server
 * (and is applied), its answer is dropped, and the client's socket is cut, so
 * the client sees ConnectionLoss with the outcome unknown.
 */
export class AnswerLosingProxy {
  private readonly wss: WebSocketServer;
  private loseIf: ((req: Record<string, unknown>) => boolean) | null = null;
  readonly lost: Array<Record<string, unknown>> = [];
  readonly ready: Promise<void>;

  constructor(private readonly target: string) {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    this.ready = new Promise((r) => this.wss.once('listening', () => r()));
    this.wss.on('connection', (down) => {
      const up = new WebSocket(`${this.target.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false });
      const early: string[] = [];
      const doomed = new Map<unknown, Record<string, unknown>>();
      up.on('open', () => {
        for (const m of early.splice(0)) up.send(m);
      });
      up.on('message', (d) => {
        const text = String(d);
        const m = JSON.parse(text) as Record<string, unknown>;
        if (m.type === 'response' && m.ok === true && doomed.has(m.id)) {
          this.loseIf = null;
          this.lost.push({ request: doomed.get(m.id), response: m });
          down.terminate();
          up.terminate();
          return;
        }
        if (down.readyState === down.OPEN) down.send(text);
      });
      up.on('ping', () => down.readyState === down.OPEN && down.ping());
      up.on('close', () => down.readyState === down.OPEN && down.terminate());
      up.on('error', () => {});
      down.on('message', (d) => {
        const text = String(d);
        const m = JSON.parse(text) as Record<string, unknown>;
        if (m.type === 'request' && this.loseIf?.(m)) doomed.set(m.id, m);
        if (up.readyState === up.OPEN) up.send(text);
        else early.push(text);
      });
      down.on('close', () => up.terminate());
      down.on('error', () => {});
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** The first successful answer to a request for which `pred` holds is lost, and the socket with it. */
  loseAnswerTo(pred: (req: Record<string, unknown>) => boolean): void {
    this.loseIf = pred;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}
