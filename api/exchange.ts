import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthId } from '../core/acl.ts';
import { ZkError } from '../core/errors.ts';
import type { SessionId } from '../core/ids.ts';
import type { RequestContext, WriteRequest } from '../core/request/requests.ts';
import type { ServerConfig } from './config.ts';
import { authOf, sendError } from './http-util.ts';
import type { Caller } from './operations.ts';
import type { ServerNode, WriteOutcome } from './server-node.ts';
import type { WatchHub } from './watch-hub.ts';

/**
 * One HTTP request and its answer: parsed query, the caller's identities and
 * session, and the reply helpers that stamp every response with Zoogate-Zxid.
 */
export class Exchange {
  readonly query: URLSearchParams;
  private readonly startedAt = performance.now();
  /** The route template, for metrics. */
  route = 'other';
  private authIds: AuthId[] | null = null;
  private sessionId: SessionId | null | undefined = undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly node: ServerNode,
    readonly hub: WatchHub,
    readonly cfg: ServerConfig,
    queryString: string,
  ) {
    this.query = new URLSearchParams(queryString);
  }

  get auth(): AuthId[] {
    return (this.authIds ??= authOf(this.req, this.cfg.superDigest));
  }

  /** The request's session (Zoogate-Session header or ?session=), kept alive by the request; 410 when unknown or expired. */
  session(): SessionId | null {
    if (this.sessionId !== undefined) return this.sessionId;
    const raw = this.req.headers['zoogate-session'] ?? this.query.get('session');
    if (raw === undefined || raw === null || raw === '') return (this.sessionId = null);
    const id = Array.isArray(raw) ? raw[0]! : raw;
    if (!this.node.touchSession(id)) throw new ZkError('SessionExpired', `session ${id} is unknown or expired`);
    return (this.sessionId = id);
  }

  get ctx(): RequestContext {
    return { sessionId: this.session(), auth: this.auth };
  }

  /** The caller as the shared operations see it. */
  get caller(): Caller {
    return { node: this.node, hub: this.hub, auth: this.auth, sessionId: this.session() };
  }

  /** Submits a write (429 when the pipeline is full) and waits until it is durable and applied here. */
  write(req: WriteRequest): Promise<WriteOutcome> {
    const ctx = this.ctx;
    if (this.node.outstanding >= this.cfg.maxOutstandingRequests) {
      throw new ZkError('Throttled', `more than ${this.cfg.maxOutstandingRequests} requests outstanding; retry later`);
    }
    return this.node.submit(req, ctx);
  }

  private stamp(headers: Record<string, string>): Record<string, string> {
    headers['zoogate-zxid'] = String(this.node.lastZxid);
    return headers;
  }

  private observe(status: number): void {
    this.node.metrics?.observeRequest(this.route, this.req.method ?? '', status, (performance.now() - this.startedAt) / 1000);
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    this.stamp(headers);
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(text));
    this.res.writeHead(status, headers);
    this.res.end(this.req.method === 'HEAD' ? undefined : text);
    this.observe(status);
  }

  raw(status: number, data: Uint8Array, headers: Record<string, string> = {}): void {
    this.stamp(headers);
    headers['content-length'] = String(data.length);
    this.res.writeHead(status, headers);
    this.res.end(this.req.method === 'HEAD' ? undefined : data);
    this.observe(status);
  }

  text(status: number, body: string, headers: Record<string, string> = {}): void {
    this.stamp(headers);
    headers['content-type'] ??= 'text/plain; charset=utf-8';
    headers['content-length'] = String(Buffer.byteLength(body));
    this.res.writeHead(status, headers);
    this.res.end(this.req.method === 'HEAD' ? undefined : body);
    this.observe(status);
  }

  empty(status: number, headers: Record<string, string> = {}): void {
    this.res.writeHead(status, this.stamp(headers));
    this.res.end();
    this.observe(status);
  }

  error(e: ZkError, extra?: Record<string, unknown>): void {
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.res.setHeader('zoogate-zxid', String(this.node.lastZxid));
    sendError(this.res, e, extra, this.req.method);
    this.observe(this.res.statusCode);
  }
}
