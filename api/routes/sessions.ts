import { randomBytes } from 'node:crypto';
import { ZkError } from '../../core/errors.ts';
import type { Exchange } from '../exchange.ts';
import { checkQuery, readJson } from '../http-util.ts';

function liveSession(x: Exchange, id: string) {
  const s = x.node.tree.sessions.get(id);
  if (s === undefined || !x.node.replica.sessionActive(id)) throw new ZkError('SessionExpired', `session ${id} is unknown or expired`);
  return s;
}

/** POST /sessions {"timeoutMs"?}: a new session, its timeout clamped to [2, 20] ticks. */
export async function openSession(x: Exchange): Promise<void> {
  checkQuery(x.query, []);
  const body = await readJson(x.req, 64 * 1024);
  let requested: number | null = null;
  if (body !== undefined) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ZkError('BadArguments', 'body is {"timeoutMs"?: number}');
    for (const k of Object.keys(body)) if (k !== 'timeoutMs') throw new ZkError('BadArguments', `unknown field ${JSON.stringify(k)}`);
    const t = (body as { timeoutMs?: unknown }).timeoutMs;
    if (t !== undefined) {
      if (typeof t !== 'number' || !Number.isInteger(t) || t <= 0) throw new ZkError('BadArguments', 'timeoutMs must be a positive integer');
      requested = t;
    }
  }
  const sessionId = randomBytes(8).toString('hex');
  const timeoutMs = x.node.sessionTimeout(requested);
  const out = await x.write({ op: 'createSession', sessionId, timeoutMs });
  if (out.result.op !== 'createSession') throw new Error(`createSession answered with ${out.result.op}`);
  x.json(201, { sessionId, timeoutMs }, { location: `/sessions/${sessionId}` });
}

export async function keepAlive(x: Exchange, id: string): Promise<void> {
  checkQuery(x.query, []);
  const s = liveSession(x, id);
  x.node.touchSession(id);
  x.json(200, { sessionId: id, timeoutMs: s.timeoutMs });
}

export async function sessionInfo(x: Exchange, id: string): Promise<void> {
  checkQuery(x.query, []);
  const s = liveSession(x, id);
  x.json(200, { sessionId: id, timeoutMs: s.timeoutMs, ephemerals: [...s.ephemerals].sort() });
}

/** DELETE /sessions/{id}: the session and its ephemerals go in one transaction. */
export async function closeSession(x: Exchange, id: string): Promise<void> {
  checkQuery(x.query, []);
  liveSession(x, id);
  await x.write({ op: 'closeSession', sessionId: id });
  x.empty(204);
}
