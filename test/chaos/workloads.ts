// The chaos workloads: concurrent clients spread over every server, REST and
// WebSocket, each call recorded with its invoke and complete time and outcome.
import type { Op } from './checker/history.ts';
import { type Recorder, rest, outcomeOf, WsSession, wsOutcome } from './clients.ts';
import { sleep } from '../support/process-cluster.ts';

export interface WorkloadContext {
  readonly urls: readonly string[];
  readonly rnd: (n: number) => number;
  readonly rec: Recorder;
  running: boolean;
  /** Problems in the runner itself (an answer no workload expects): they fail the run. */
  readonly errors: string[];
}

const pick = <T>(ctx: WorkloadContext, xs: readonly T[]): T => xs[ctx.rnd(xs.length)]!;
let uniq = 0;
const unique = (tag: string) => `${tag}-${(++uniq).toString(36)}`;

export const REGISTER_KEYS = ['/reg/k0', '/reg/k1', '/reg/k2', '/reg/k3'];

/**
 * A versioned register per key: linearizable reads (?sync=true, or sync then get
 * over the socket), blind writes (version -1), and compare-and-set on the version
 * last seen. Half the clients talk REST, half WebSocket.
 */
export async function registerClient(ctx: WorkloadContext, overWs: boolean): Promise<void> {
  let process = ctx.rec.process();
  const seen = new Map<string, number>();
  let ws: WsSession | null = null;
  while (ctx.running) {
    const url = pick(ctx, ctx.urls);
    const key = pick(ctx, REGISTER_KEYS);
    const roll = ctx.rnd(10);
    const f = roll < 4 ? 'read' : roll < 7 ? 'write' : 'cas';
    const value = unique('v');
    const expected = seen.get(key) ?? ctx.rnd(3);
    const input = f === 'read' ? null : f === 'write' ? { value } : { expected, value };
    const op: Op = { process, f, key, input, invokeMs: ctx.rec.now(), completeMs: null, outcome: 'unknown' };
    try {
      if (overWs) {
        if (ws === null || ws.closed) {
          ws?.close();
          ws = new WsSession(url);
          if (!(await ws.connect(1500))) {
            ws.close();
            ws = null;
            op.outcome = 'fail';
            op.completeMs = ctx.rec.now();
            ctx.rec.record(op);
            await sleep(50);
            continue;
          }
          op.invokeMs = ctx.rec.now();
        }
        if (f === 'read') {
          const s = await ws.request('sync', { path: key });
          if (s.kind === 'response' && s.msg.ok) {
            const g = await ws.request('get', { path: key });
            op.outcome = wsOutcome(g);
            if (g.kind === 'response' && g.msg.ok) op.output = { value: g.msg.result.data, version: g.msg.result.stat.version };
          } else op.outcome = wsOutcome(s);
        } else {
          const a = await ws.request('set', { path: key, data: value, version: f === 'cas' ? expected : -1 });
          op.outcome = wsOutcome(a, ['BadVersion']);
          if (op.outcome === 'ok' && a.kind === 'response') op.output = a.msg.ok ? { version: a.msg.result.stat.version } : { error: 'BadVersion' };
        }
      } else if (f === 'read') {
        const a = await rest(url, 'GET', `/znodes${key}?sync=true`);
        op.outcome = outcomeOf(a);
        if (op.outcome === 'ok' && a.kind === 'answer') op.output = { value: a.body.data, version: a.body.stat.version };
      } else {
        const a = await rest(url, 'PUT', `/znodes${key}?version=${f === 'cas' ? expected : -1}`, { body: value });
        op.outcome = outcomeOf(a, [412]);
        if (op.outcome === 'ok' && a.kind === 'answer') op.output = a.status === 412 ? { error: 'BadVersion' } : { version: a.body.stat.version };
      }
    } catch (e) {
      ctx.errors.push(`register ${f} ${key}: ${(e as Error).message}`);
      op.outcome = 'unknown';
    }
    if (op.outcome !== 'unknown') op.completeMs = ctx.rec.now();
    ctx.rec.record(op);
    if (op.outcome === 'ok' && op.output && typeof (op.output as { version?: number }).version === 'number') seen.set(key, (op.output as { version: number }).version);
    if (op.outcome === 'unknown') {
      process = ctx.rec.process();
      ws?.close();
      ws = null;
    }
  }
  ws?.close();
}

/** Sequential creates under one parent, over REST, on every server. */
export async function sequentialClient(ctx: WorkloadContext): Promise<void> {
  let process = ctx.rec.process();
  while (ctx.running) {
    const url = pick(ctx, ctx.urls);
    const op: Op = { process, f: 'create-seq', key: '/seq', input: { prefix: 'n-' }, invokeMs: ctx.rec.now(), completeMs: null, outcome: 'unknown' };
    const a = await rest(url, 'POST', '/znodes/seq/n-?mode=persistent_sequential');
    try {
      op.outcome = outcomeOf(a);
    } catch (e) {
      ctx.errors.push(`seq create: ${(e as Error).message}`);
    }
    if (op.outcome !== 'unknown') op.completeMs = ctx.rec.now();
    if (op.outcome === 'ok' && a.kind === 'answer') op.output = { path: String(a.body.path) };
    ctx.rec.record(op);
    if (op.outcome === 'unknown') process = ctx.rec.process();
  }
}

/** Adds to a set (a create of a unique child), over REST, on every server. */
export async function setClient(ctx: WorkloadContext): Promise<void> {
  let process = ctx.rec.process();
  while (ctx.running) {
    const url = pick(ctx, ctx.urls);
    const element = unique('e');
    const op: Op = { process, f: 'add', key: '/set', input: { element }, invokeMs: ctx.rec.now(), completeMs: null, outcome: 'unknown' };
    const a = await rest(url, 'POST', `/znodes/set/${element}`);
    try {
      op.outcome = outcomeOf(a);
    } catch (e) {
      ctx.errors.push(`set add: ${(e as Error).message}`);
    }
    if (op.outcome !== 'unknown') op.completeMs = ctx.rec.now();
    ctx.rec.record(op);
    if (op.outcome === 'unknown') process = ctx.rec.process();
  }
}

export interface LockHold {
  readonly holder: number;
  readonly path: string;
  /** The /lock listing that showed this node lowest reflected the state up to this zxid (its pzxid). */
  readonly acquiredZxid: number;
  /** The zxid of the release the client did, if it got the answer (else the log tells). */
  releasedZxid: number | null;
}

/**
 * ZooKeeper's lock recipe over WebSocket sessions: an ephemeral sequential node
 * under /lock; the lowest holds the lock; the others watch their predecessor.
 * The hold is recorded with the server's zxids (the listing's pzxid, the
 * release multi's zxid) so holds can be ordered by the server's own history.
 */
export async function lockClient(ctx: WorkloadContext, holds: LockHold[]): Promise<void> {
  const holder = ctx.rec.process();
  let s: WsSession | null = null;
  while (ctx.running) {
    if (s === null || s.closed) {
      s?.close();
      s = new WsSession(pick(ctx, ctx.urls));
      if (!(await s.connect(1500))) {
        s.close();
        s = null;
        await sleep(100);
        continue;
      }
    }
    const c = await s.request('create', { path: '/lock/n-', mode: 'ephemeral_sequential' });
    if (c.kind !== 'response' || !c.msg.ok) {
      s.close();
      s = null;
      continue;
    }
    const mine: string = c.msg.result.path;
    const name = mine.slice('/lock/'.length);
    for (let round = 0; ctx.running && !s.closed && round < 50; round++) {
      const l = await s.request('children', { path: '/lock' });
      if (l.kind !== 'response' || !l.msg.ok) break;
      const kids: string[] = l.msg.result.children;
      if (!kids.includes(name)) break; // our node is gone: the session ended
      const lower = kids.filter((k) => k < name).sort();
      if (lower.length === 0) {
        const hold: LockHold = { holder, path: mine, acquiredZxid: l.msg.result.stat.pzxid, releasedZxid: null };
        holds.push(hold);
        await sleep(10 + ctx.rnd(40));
        const r = await s.request('multi', { ops: [{ op: 'delete', path: mine }] });
        if (r.kind === 'response' && r.msg.ok) hold.releasedZxid = r.msg.result.zxid;
        break;
      }
      const pred = `/lock/${lower[lower.length - 1]}`;
      const e = await s.request('exists', { path: pred, watch: true });
      if (e.kind !== 'response' || !e.msg.ok) break;
      if (e.msg.result.stat !== null) await s.waitEvent((m) => m.type === 'event' && m.path === pred, 1000);
    }
    if (s.closed) {
      // resume on another server; if the session is gone, so is the lock node
      const id = s.sessionId;
      s = new WsSession(pick(ctx, ctx.urls));
      if (id !== null && !(await s.connect(1500, id))) {
        s.close();
        s = null;
      }
    }
  }
  s?.close();
}

export interface SessionRecord {
  readonly sessionId: string;
  readonly path: string;
  readonly server: number;
  /** The client was told its session expired. */
  observedExpired: boolean;
}

/**
 * A session held by one socket to one server, with one ephemeral node: when
 * that server is paused or cut off long enough, the session must expire and
 * its node go, everywhere at once.
 */
export async function sessionClient(ctx: WorkloadContext, server: number, sessions: SessionRecord[]): Promise<void> {
  const url = ctx.urls[server - 1]!;
  while (ctx.running) {
    const s = new WsSession(url);
    if (!(await s.connect(1500))) {
      s.close();
      await sleep(200);
      continue;
    }
    const path = `/sess/${unique('s')}`;
    const c = await s.request('create', { path, mode: 'ephemeral' });
    if (c.kind !== 'response' || !c.msg.ok) {
      s.close();
      await sleep(200);
      continue;
    }
    const rec: SessionRecord = { sessionId: s.sessionId!, path, server, observedExpired: false };
    sessions.push(rec);
    // hold it; when the socket drops, resume on the same server while the session lives
    while (ctx.running) {
      if (s.closed) {
        await sleep(100);
        if (!(await s.connect(1500, rec.sessionId))) {
          if (s.expired) {
            rec.observedExpired = true;
            break;
          }
          continue;
        }
      }
      await s.waitEvent(() => false, 200);
    }
    s.close();
  }
}
