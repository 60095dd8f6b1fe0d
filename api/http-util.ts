import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthId } from '../core/acl.ts';
import { ZkError } from '../core/errors.ts';
import type { Stat } from '../core/tree/znode.ts';
import { httpStatusOf, retryAfterOf } from './http-errors.ts';

export type Query = URLSearchParams;

/** Rejects query parameters a route does not know: a typo like `verison=3` must not turn a conditional delete into an unconditional one. */
export function checkQuery(q: Query, allowed: readonly string[]): void {
  for (const k of q.keys()) {
    if (!allowed.includes(k)) throw new ZkError('BadArguments', `unknown query parameter ${JSON.stringify(k)} (allowed here: ${allowed.join(', ') || 'none'})`);
  }
}

export function boolParam(q: Query, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === 'false' || v === '0') return false;
  if (v === '' || v === 'true' || v === '1') return true;
  throw new ZkError('BadArguments', `${name} must be true or false (got ${JSON.stringify(v)})`);
}

const INT_RE = /^-?\d{1,16}$/;

export function intParam(q: Query, name: string, def: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return def;
  if (!INT_RE.test(v)) throw new ZkError('BadArguments', `${name} must be an integer (got ${JSON.stringify(v)})`);
  const n = Number(v);
  if (n < min || n > max) throw new ZkError('BadArguments', `${name} must be between ${min} and ${max} (got ${n})`);
  return n;
}

export function optionalIntParam(q: Query, name: string, min: number, max: number): number | null {
  return q.has(name) ? intParam(q, name, 0, min, max) : null;
}

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

const overLimit = (limit: number) => new ZkError('PayloadTooLarge', `body exceeds the limit of ${limit} bytes`);
const joined = (chunks: Buffer[], size: number) => (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));

/**
 * Reads the request body, refusing more than `limit` bytes with 413 before
 * buffering it (Content-Length is checked up front; a chunked body is cut off).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new ZkError('PayloadTooLarge', `body of ${declared} bytes exceeds the limit of ${limit}`));
  }
  if (req.complete && req.readableFlowing === null && req.readableEncoding === null) {
    // The usual case: the whole body came with the headers and waits in the stream's buffer.
    // Take it now rather than through 'data'/'end' events a few ticks later (~30 µs a request).
    const chunks: Buffer[] = [];
    let size = 0;
    for (let c: Buffer | null = req.read(); c !== null; c = req.read()) {
      chunks.push(c);
      size += c.length;
    }
    return size > limit ? Promise.reject(overLimit(limit)) : Promise.resolve(joined(chunks, size));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(overLimit(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(joined(chunks, size));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ZkError('BadArguments', `body is not valid JSON: ${(e as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers?: Record<string, string>): void {
  res.writeHead(status, headers);
  res.end();
}

export interface ErrorBody {
  error: { code: string; message: string; path?: string };
  [k: string]: unknown;
}

export function errorBody(e: ZkError): ErrorBody {
  const error: ErrorBody['error'] = { code: e.code, message: e.message };
  if (e.path !== undefined) error.path = e.path;
  return { error };
}

export function sendError(res: ServerResponse, e: ZkError, extra?: Record<string, unknown>, method?: string): void {
  const status = httpStatusOf(e.code);
  const headers: Record<string, string> = {};
  const retry = retryAfterOf(e.code);
  if (retry !== null) headers['retry-after'] = String(retry);
  if (e.code === 'PayloadTooLarge') headers['connection'] = 'close';
  if (method === 'HEAD') {
    sendEmpty(res, status, headers);
    return;
  }
  sendJson(res, status, { ...errorBody(e), ...extra }, headers);
}

export function statHeader(stat: Stat): string {
  return JSON.stringify(stat);
}

const digestCache = new Map<string, AuthId[]>();

/**
 * The identities a request carries: its address (ip scheme) and, from
 * `Authorization: Basic user:password`, ZooKeeper's digest identity
 * user:base64(sha1(user:password)). A malformed header is 401 AuthFailed.
 */
export function authOf(req: IncomingMessage, superDigest: string | null): AuthId[] {
  const ip: AuthId = { scheme: 'ip', id: req.socket.remoteAddress ?? '' };
  const header = req.headers.authorization;
  if (header === undefined) return [ip];
  const cached = digestCache.get(header);
  if (cached !== undefined) return [ip, ...cached];
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw new ZkError('AuthFailed', 'Authorization must be Basic base64(user:password)');
  const user = decoded.slice(0, colon);
  const digestId = `${user}:${createHash('sha1').update(decoded).digest('base64')}`;
  const ids: AuthId[] = [{ scheme: 'digest', id: digestId }];
  if (superDigest !== null && digestId === superDigest) ids.push({ scheme: 'super', id: user });
  if (digestCache.size > 10_000) digestCache.clear();
  digestCache.set(header, ids);
  return [ip, ...ids];
}

/** ZooKeeper's digest for user:password, as ACLs and --super-digest spell it. */
export function digestOf(userPassword: string): string {
  const user = userPassword.slice(0, userPassword.indexOf(':'));
  return `${user}:${createHash('sha1').update(userPassword).digest('base64')}`;
}
