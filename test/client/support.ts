import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { StateChange, ZooGateSession } from '../../client/session.ts';
import { until } from '../support/process-cluster.ts';

export { sleep } from '../support/process-cluster.ts';

/** Polls until `cond` holds or the deadline passes (then fails with `what`). */
export function waitFor<T>(what: string, cond: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  return until(what, async () => cond(), timeoutMs, 20);
}

/** Every state change of a session, in order. */
export function recordStates(s: ZooGateSession): StateChange[] {
  const seen: StateChange[] = [];
  s.onState((c) => seen.push(c));
  return seen;
}

/**
 * A WebSocket proxy in front of a real server, to cut or stall a session's
 * socket at will: `holdRequests` keeps request frames from reaching the
 * server (they are in flight forever, as on a dead link), `cut()` drops every
 * client socket at once (as a node that died).
 */
export class WsProxy {
  holdRequests = false;
  readonly held: Array<Record<string, unknown>> = [];
  /** Server frames matching this are forwarded, then the socket dies before anything after them gets through. */
  cutAfter: ((m: Record<string, unknown>) => boolean) | null = null;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  readonly ready: Promise<void>;

  constructor(private readonly target: string) {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    this.ready = new Promise((r) => this.wss.once('listening', () => r()));
    this.wss.on('connection', (down) => {
      this.sockets.add(down);
      const up = new WebSocket(`${this.target.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false });
      const early: string[] = [];
      up.on('open', () => {
        for (const m of early.splice(0)) up.send(m);
      });
      let frozen = false;
      up.on('message', (d) => {
        if (frozen || down.readyState !== down.OPEN) return;
        const text = String(d);
        down.send(text);
        if (this.cutAfter?.(JSON.parse(text) as Record<string, unknown>)) {
          this.cutAfter = null;
          frozen = true; // what the server sends next is lost with the socket
          setTimeout(() => down.terminate(), 50); // once the matched frame has been flushed
        }
      });
      up.on('ping', () => down.readyState === down.OPEN && down.ping());
      up.on('close', (code) => down.readyState === down.OPEN && down.close(code >= 4000 || code === 1008 ? code : 1011));
      up.on('error', () => {});
      down.on('message', (d) => {
        const text = String(d);
        const m = JSON.parse(text) as Record<string, unknown>;
        if (this.holdRequests && m.type === 'request') {
          this.held.push(m);
          return;
        }
        if (up.readyState === up.OPEN) up.send(text);
        else early.push(text);
      });
      down.on('close', () => {
        this.sockets.delete(down);
        up.terminate();
      });
      down.on('error', () => {});
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** Drops every client socket (no close frame), as a node that died. */
  cut(): void {
    for (const s of this.sockets) s.terminate();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

/** A node that is behind every client: it refuses each connect with StaleServer, as a lagging server does. */
export class StaleNode {
  readonly connects: Array<Record<string, unknown>> = [];
  private readonly wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  readonly ready = new Promise<void>((r) => this.wss.once('listening', () => r()));

  constructor() {
    this.wss.on('connection', (ws) => {
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as Record<string, unknown>;
        this.connects.push(m);
        ws.send(JSON.stringify({ type: 'error', code: 'StaleServer', message: 'this server is at zxid 0, behind the client' }));
        ws.close(1008, 'stale');
      });
      ws.on('error', () => {});
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}
