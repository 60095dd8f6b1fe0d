import WebSocket from 'ws';

export type Msg = Record<string, any>;

/** A minimal ZooGate WebSocket client for tests: every frame recorded in order, requests awaited by id. */
export class WsTestClient {
  readonly messages: Msg[] = [];
  readonly ws: WebSocket;
  sessionId = '';
  closed: { code: number; reason: string } | null = null;
  private nextId = 1;
  private readonly waiters: Array<{ pred: (m: Msg) => boolean; resolve: (m: Msg) => void }> = [];
  private readonly closeWaiters: Array<() => void> = [];

  constructor(url: string, opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws', opts);
    this.ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Msg;
      this.messages.push(m);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i]!.pred(m)) this.waiters.splice(i, 1)[0]!.resolve(m);
      }
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const w of this.closeWaiters.splice(0)) w();
    });
    this.ws.on('error', () => {});
  }

  static async connect(url: string, hello: Msg = {}, opts?: WebSocket.ClientOptions): Promise<WsTestClient> {
    const c = new WsTestClient(url, opts);
    await new Promise<void>((resolve, reject) => { c.ws.once('open', () => resolve()); c.ws.once('error', reject); });
    c.send({ type: 'connect', ...hello });
    const m = await c.next((x) => x.type === 'connected' || x.type === 'error' || x.type === 'state');
    if (m.type === 'connected') c.sessionId = m.sessionId;
    return c;
  }

  send(m: Msg): void {
    this.ws.send(JSON.stringify(m));
  }

  /** The next message to arrive that matches (from now on). */
  next(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message in ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(-5))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }

  /** A matching message already received, or the next one to arrive. */
  waitFor(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
    const seen = this.messages.find(pred);
    return seen !== undefined ? Promise.resolve(seen) : this.next(pred, timeoutMs);
  }

  /** Sends a request and resolves with its response. */
  request(op: string, params: Msg = {}): Promise<Msg> {
    const id = this.nextId++;
    const p = this.next((m) => m.type === 'response' && m.id === id);
    this.send({ type: 'request', id, op, ...params });
    return p;
  }

  /** Sends a request without waiting; returns its id. */
  fire(op: string, params: Msg = {}): number {
    const id = this.nextId++;
    this.send({ type: 'request', id, op, ...params });
    return id;
  }

  events(): Msg[] {
    return this.messages.filter((m) => m.type === 'event');
  }

  /** Waits until `n` events have arrived in total. */
  async waitEvents(n: number, timeoutMs = 5000): Promise<Msg[]> {
    const end = Date.now() + timeoutMs;
    while (this.events().length < n) {
      if (Date.now() > end) throw new Error(`expected ${n} events, got ${JSON.stringify(this.events())}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.events();
  }

  waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
      this.closeWaiters.push(() => { clearTimeout(timer); resolve(this.closed!); });
    });
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** Lets the server process what was sent (a request round trip on a socket is a barrier). */
export async function settle(c: WsTestClient): Promise<void> {
  await c.request('exists', { path: '/' });
}
