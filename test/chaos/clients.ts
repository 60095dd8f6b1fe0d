// Clients for the chaos workloads: REST calls and a WebSocket session client that
// classify every answer into ok / fail / unknown the way the checkers need
// (checker/history.ts): 503/429/410 and refused connections never took effect;
// timeouts, broken connections, 500 and 504 may have.
import WebSocket from 'ws';
import type { Op, Outcome } from './checker/history.ts';

export class Recorder {
  readonly ops: Op[] = [];
  private nextProcess = 1;
  readonly t0 = performance.now();

  process(): number {
    return this.nextProcess++;
  }

  now(): number {
    return Math.round((performance.now() - this.t0) * 1000) / 1000;
  }

  record(op: Op): void {
    this.ops.push(op);
  }
}

export type RestAnswer = { kind: 'answer'; status: number; body: any; headers: Headers } | { kind: 'error'; sent: boolean; why: string };

export async function rest(url: string, method: string, path: string, opts: { body?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<RestAnswer> {
  try {
    const r = await fetch(`${url}${path}`, { method, body: opts.body, headers: opts.headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 2000) });
    const text = await r.text();
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON
    }
    return { kind: 'answer', status: r.status, body, headers: r.headers };
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    return { kind: 'error', sent: code !== 'ECONNREFUSED', why: String(code) };
  }
}

/** How an answer counts: `ok` (it happened, or observed the state), `fail` (it certainly did not), `unknown`. */
export function outcomeOf(a: RestAnswer, observations: readonly number[] = []): Outcome {
  if (a.kind === 'error') return a.sent ? 'unknown' : 'fail';
  if (a.status >= 200 && a.status < 300) return 'ok';
  if (observations.includes(a.status)) return 'ok';
  if (a.status === 503 || a.status === 429 || a.status === 410) return 'fail';
  if (a.status === 500 || a.status === 504) return 'unknown';
  throw new Error(`unexpected answer ${a.status}: ${JSON.stringify(a.body)}`);
}

export type WsMsg = Record<string, any>;

/** The outcome of a WebSocket request: its response, or the socket went away first (unknown). */
export type WsAnswer = { kind: 'response'; msg: WsMsg } | { kind: 'lost' };

/** One session-carrying WebSocket to one server (reconnects are the workload's business). */
export class WsSession {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (a: WsAnswer) => void>();
  private readonly eventWaiters: Array<{ pred: (m: WsMsg) => boolean; resolve: (m: WsMsg | null) => void }> = [];
  sessionId: string | null = null;
  lastZxid = 0;
  closed = true;
  expired = false;

  constructor(readonly url: string) {}

  /** Opens (or, with sessionId, resumes) the session; false if refused or unreachable. */
  async connect(timeoutMs: number, resume: string | null = null): Promise<boolean> {
    this.close();
    const ws = new WebSocket(this.url.replace(/^http/, 'ws') + '/ws', { handshakeTimeout: timeoutMs });
    this.ws = ws;
    this.closed = false;
    ws.on('message', (d) => this.onMessage(JSON.parse(String(d)) as WsMsg));
    ws.on('close', () => this.onClose(ws));
    ws.on('error', () => this.onClose(ws));
    const hello: WsMsg = { type: 'connect', timeoutMs: 1000 };
    if (resume !== null) Object.assign(hello, { sessionId: resume, lastZxid: this.lastZxid });
    const answer = new Promise<WsMsg | null>((resolve) => {
      const t = setTimeout(() => resolve(null), timeoutMs);
      this.eventWaiters.push({ pred: (m) => m.type === 'connected' || m.type === 'state' || m.type === 'error', resolve: (m) => { clearTimeout(t); resolve(m); } });
    });
    ws.once('open', () => ws.send(JSON.stringify(hello)));
    const m = await answer;
    if (m?.type === 'connected') {
      this.sessionId = m.sessionId;
      this.lastZxid = Math.max(this.lastZxid, m.zxid);
      return true;
    }
    if (m?.type === 'state' && m.state === 'Expired') this.expired = true;
    this.close();
    return false;
  }

  private onMessage(m: WsMsg): void {
    if (m.type === 'response') {
      const cb = this.pending.get(m.id);
      if (cb) {
        this.pending.delete(m.id);
        cb({ kind: 'response', msg: m });
      }
      return;
    }
    if (m.type === 'event') this.lastZxid = Math.max(this.lastZxid, m.zxid);
    if (m.type === 'state' && m.state === 'Expired') this.expired = true;
    for (let i = this.eventWaiters.length - 1; i >= 0; i--) {
      const w = this.eventWaiters[i]!;
      if (w.pred(m)) {
        this.eventWaiters.splice(i, 1);
        w.resolve(m);
      }
    }
  }

  private onClose(ws: WebSocket): void {
    if (this.ws !== ws) return;
    this.closed = true;
    for (const cb of this.pending.values()) cb({ kind: 'lost' });
    this.pending.clear();
    for (const w of this.eventWaiters.splice(0)) w.resolve(null);
  }

  request(op: string, params: WsMsg, timeoutMs = 2000): Promise<WsAnswer> {
    const ws = this.ws;
    if (ws === null || this.closed || ws.readyState !== WebSocket.OPEN) return Promise.resolve({ kind: 'lost' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        if (this.pending.delete(id)) resolve({ kind: 'lost' });
      }, timeoutMs);
      this.pending.set(id, (a) => {
        clearTimeout(t);
        if (a.kind === 'response' && a.msg.ok && typeof a.msg.result?.stat?.mzxid === 'number') this.lastZxid = Math.max(this.lastZxid, a.msg.result.stat.mzxid);
        resolve(a);
      });
      ws.send(JSON.stringify({ type: 'request', id, op, ...params }));
    });
  }

  /** The next event matching `pred`, or null on timeout or a closed socket. */
  waitEvent(pred: (m: WsMsg) => boolean, timeoutMs: number): Promise<WsMsg | null> {
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = this.eventWaiters.findIndex((w) => w.resolve === done);
        if (i >= 0) this.eventWaiters.splice(i, 1);
        resolve(null);
      }, timeoutMs);
      const done = (m: WsMsg | null) => {
        clearTimeout(t);
        resolve(m);
      };
      this.eventWaiters.push({ pred, resolve: done });
    });
  }

  close(): void {
    const ws = this.ws;
    if (ws === null) return;
    this.onClose(ws);
    this.ws = null;
    ws.terminate();
  }
}

/** How a WebSocket answer counts (as outcomeOf for REST: the error code decides). */
export function wsOutcome(a: WsAnswer, observations: readonly string[] = []): Outcome {
  if (a.kind === 'lost') return 'unknown';
  if (a.msg.ok) return 'ok';
  const code = a.msg.error?.code as string;
  if (observations.includes(code)) return 'ok';
  if (code === 'NoQuorum' || code === 'Throttled' || code === 'SessionExpired') return 'fail';
  if (code === 'SystemError' || code === 'OperationTimeout') return 'unknown';
  throw new Error(`unexpected WebSocket answer ${JSON.stringify(a.msg)}`);
}
