/**
 * Differential conformance: the same operations against a real ZooKeeper 3.8
 * standalone server (Debian's package, spoken to over its wire protocol) and a
 * ZooGate server (over REST), in lock step, asserting after every operation
 * that both answered the same way.
 *
 * What is compared, after normalisation:
 * - success or failure, and the error code (ZooKeeper's KeeperException code
 *   by ZooGate's name for it: NO_NODE → NoNode, …);
 * - created names, data bytes, children lists, ACLs, multi results;
 * - Stats: version, cversion, aversion, dataLength, numChildren literally;
 *   czxid/mzxid/pzxid through the operation that produced the zxid on that
 *   system (`#12` = the write of step 12; `after #12` = a zxid neither client
 *   asked for, e.g. a container removal, produced after step 12; `0` = the
 *   zxid before any transaction); ephemeralOwner as the session that owns the
 *   node (`A#1` = the first session opened under the label A) or null;
 *   ctime/mtime not compared, but mtime >= ctime is checked on each system.
 *
 * Where API.md fixes a different surface (HTTP statuses, ephemeralOwner as a
 * string or null, REST shapes) the test follows API.md.
 *
 * Part (a): hand-written cases for ZooKeeper's rules. Part (b): a seeded
 * random walk; set ZG_DIFF_SEED=<n> to replay a run (the seed is printed) and
 * ZG_DIFF_OPS=<n> for a longer or shorter walk (300 operations by default).
 *
 * Only requests a ZooKeeper client library would send are compared: paths
 * valid by the client's rules, and no bad TTL inside a multi (the Java client
 * refuses such a multi as a whole before sending it).
 *
 * Needs the Debian package `zookeeper` (and the JRE it pulls in).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { loadConfig } from '../../api/config.ts';
import type { StatJson } from '../../api/schema.ts';
import { startServer } from '../../api/start.ts';
import { CreateFlag, ZkWireClient, ZkWireError, zkErrorName, type ZkAcl, type ZkOp, type ZkStat } from '../support/zk-client.ts';
import { prng } from '../support/prng.ts';
import { startZkStandalone, type ZkStandalone } from '../support/zk-standalone.ts';

// ---------------------------------------------------------------------------
// Shared vocabulary
// ---------------------------------------------------------------------------

type Mode =
  | 'persistent' | 'ephemeral' | 'persistent_sequential' | 'ephemeral_sequential' | 'container'
  | 'persistent_with_ttl' | 'persistent_sequential_with_ttl';

const MODE_FLAGS: Record<Mode, number> = {
  persistent: CreateFlag.PERSISTENT,
  ephemeral: CreateFlag.EPHEMERAL,
  persistent_sequential: CreateFlag.PERSISTENT_SEQUENTIAL,
  ephemeral_sequential: CreateFlag.EPHEMERAL_SEQUENTIAL,
  container: CreateFlag.CONTAINER,
  persistent_with_ttl: CreateFlag.PERSISTENT_WITH_TTL,
  persistent_sequential_with_ttl: CreateFlag.PERSISTENT_SEQUENTIAL_WITH_TTL,
};

const isTtlMode = (m: Mode) => m === 'persistent_with_ttl' || m === 'persistent_sequential_with_ttl';
/** ZooKeeper returns a Stat for a create inside a multi only for containers and TTL nodes (Op.create travels as `create`). */
const multiCreateHasStat = (m: Mode) => m === 'container' || isTtlMode(m);

interface AclJson {
  scheme: string;
  id: string;
  /** A subset of cdrwa, in that order. */
  perms: string;
}

const PERM_BITS: ReadonlyArray<[string, number]> = [['c', 4], ['d', 8], ['r', 1], ['w', 2], ['a', 16]];
const permsToBits = (s: string) => PERM_BITS.reduce((n, [l, b]) => (s.includes(l) ? n | b : n), 0);
const bitsToPerms = (n: number) => PERM_BITS.filter(([, b]) => n & b).map(([l]) => l).join('');
const canonPerms = (s: string) => bitsToPerms(permsToBits(s));

const OPEN: AclJson[] = [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }];

type RawStat = StatJson;

type MultiOp =
  | { op: 'create'; path: string; data?: Buffer; mode?: Mode; ttl?: number }
  | { op: 'set'; path: string; data?: Buffer; version?: number }
  | { op: 'delete'; path: string; version?: number }
  | { op: 'check'; path: string; version: number };

interface MultiResult {
  op: 'create' | 'set' | 'delete' | 'check';
  path?: string;
  stat?: RawStat;
}

/** One system's answer to one operation, before normalisation. */
interface Outcome {
  ok: boolean;
  /** Failure: the error code, by ZooGate's names. */
  code?: string;
  /** A successful write: the zxid it produced on this system (used for labels, not compared). */
  zxid?: number;
  path?: string;
  stat?: RawStat | null;
  /** base64 */
  data?: string;
  children?: string[];
  acl?: AclJson[];
  results?: MultiResult[];
  failedOp?: number;
  errors?: string[];
}

interface CreateOpts {
  ttl?: number;
  acl?: AclJson[];
}

/** The operations both systems are driven with. `s` is a session label. */
interface Target {
  readonly name: string;
  readonly labels: Labels;
  openSession(s: string, gen: string, digestAuth?: string): Promise<void>;
  closeSession(s: string): Promise<Outcome>;
  create(s: string, path: string, data: Buffer, mode: Mode, o: CreateOpts): Promise<Outcome>;
  set(s: string, path: string, data: Buffer, version: number): Promise<Outcome>;
  delete(s: string, path: string, version: number): Promise<Outcome>;
  exists(s: string, path: string): Promise<Outcome>;
  get(s: string, path: string): Promise<Outcome>;
  children(s: string, path: string): Promise<Outcome>;
  getAcl(s: string, path: string): Promise<Outcome>;
  setAcl(s: string, path: string, acl: AclJson[], aversion: number): Promise<Outcome>;
  multi(s: string, ops: MultiOp[]): Promise<Outcome>;
  /** A raw exists for the test's own bookkeeping (not compared). */
  peek(path: string): Promise<RawStat | null>;
  /** Raw children: null when the node is missing, [] when unreadable (bookkeeping, not compared). */
  peekChildren(path: string): Promise<string[] | null>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Normalisation: zxids through the op that produced them, sessions by label
// ---------------------------------------------------------------------------

class Labels {
  private readonly byZxid = new Map<number, string>();
  private sorted: number[] = [];
  readonly sessions = new Map<string, string>();

  constructor(readonly system: string) {}

  register(zxid: number, label: string): void {
    if (this.byZxid.has(zxid)) return;
    this.byZxid.set(zxid, label);
    this.sorted.push(zxid);
    this.sorted.sort((a, b) => a - b);
  }

  zxid(z: number): string {
    if (z === 0) return '0';
    const known = this.byZxid.get(z);
    if (known !== undefined) return known;
    let prev: string | null = null;
    for (const k of this.sorted) {
      if (k > z) break;
      prev = this.byZxid.get(k)!;
    }
    return prev === null ? 'before #1' : `after ${prev}`;
  }

  owner(o: string | null): string | null {
    if (o === null) return null;
    return this.sessions.get(o) ?? `unknown session ${o}`;
  }

  stat(s: RawStat | null | undefined): Record<string, unknown> | null {
    if (s === null || s === undefined) return null;
    if (!(s.mtime >= s.ctime)) throw new assert.AssertionError({ message: `${this.system}: Stat with mtime ${s.mtime} < ctime ${s.ctime}: ${JSON.stringify(s)}` });
    return {
      czxid: this.zxid(s.czxid),
      mzxid: this.zxid(s.mzxid),
      pzxid: this.zxid(s.pzxid),
      version: s.version,
      cversion: s.cversion,
      aversion: s.aversion,
      ephemeralOwner: this.owner(s.ephemeralOwner),
      dataLength: s.dataLength,
      numChildren: s.numChildren,
    };
  }

  outcome(o: Outcome): Record<string, unknown> {
    const n: Record<string, unknown> = { ok: o.ok };
    if (o.code !== undefined) n.code = o.code;
    if (o.failedOp !== undefined) n.failedOp = o.failedOp;
    if (o.errors !== undefined) n.errors = o.errors;
    if (o.path !== undefined) n.path = o.path;
    if (o.data !== undefined) {
      // Printable ASCII as text (readable in failure messages), anything else as base64.
      const bytes = Buffer.from(o.data, 'base64');
      n.data = /^[\x20-\x7e]*$/.test(bytes.toString('latin1')) ? bytes.toString('latin1') : `base64:${o.data}`;
    }
    if (o.children !== undefined) n.children = o.children;
    if (o.acl !== undefined) n.acl = o.acl;
    if (o.results !== undefined) {
      n.results = o.results.map((r) => {
        const x: Record<string, unknown> = { op: r.op };
        if (r.path !== undefined) x.path = r.path;
        if (r.stat !== undefined) x.stat = this.stat(r.stat);
        return x;
      });
    }
    if (o.stat !== undefined) n.stat = this.stat(o.stat);
    return n;
  }
}

// ---------------------------------------------------------------------------
// ZooKeeper, over its wire protocol
// ---------------------------------------------------------------------------

function zkStat(s: ZkStat): RawStat {
  return {
    czxid: s.czxid,
    mzxid: s.mzxid,
    pzxid: s.pzxid,
    ctime: s.ctime,
    mtime: s.mtime,
    version: s.version,
    cversion: s.cversion,
    aversion: s.aversion,
    ephemeralOwner: s.ephemeralOwner === 0n ? null : BigInt.asUintN(64, s.ephemeralOwner).toString(16).padStart(16, '0'),
    dataLength: s.dataLength,
    numChildren: s.numChildren,
  };
}

const toZkAcl = (acl: AclJson[]): ZkAcl[] => acl.map((a) => ({ scheme: a.scheme, id: a.id, perms: permsToBits(a.perms) }));
const fromZkAcl = (acl: ZkAcl[]): AclJson[] => acl.map((a) => ({ scheme: a.scheme, id: a.id, perms: bitsToPerms(a.perms) }));

class ZooKeeperTarget implements Target {
  readonly name = 'ZooKeeper';
  readonly labels = new Labels('ZooKeeper');
  private readonly sessions = new Map<string, ZkWireClient>();

  constructor(private readonly host: string, private readonly port: number) {}

  private c(s: string): ZkWireClient {
    const c = this.sessions.get(s);
    if (c === undefined) throw new Error(`ZooKeeper: no open session ${s}`);
    return c;
  }

  private async run(f: () => Promise<Outcome>): Promise<Outcome> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof ZkWireError) return { ok: false, code: e.codeName };
      throw e;
    }
  }

  async openSession(s: string, gen: string, digestAuth?: string): Promise<void> {
    if (this.sessions.has(s)) await this.closeSession(s);
    const c = await ZkWireClient.connect({ host: this.host, port: this.port, sessionTimeoutMs: 4000 });
    if (digestAuth !== undefined) await c.addAuth('digest', digestAuth);
    this.sessions.set(s, c);
    this.labels.sessions.set(c.sessionIdHex, gen);
  }

  async closeSession(s: string): Promise<Outcome> {
    const c = this.c(s);
    this.sessions.delete(s);
    const { zxid } = await c.close();
    return { ok: true, zxid };
  }

  create(s: string, path: string, data: Buffer, mode: Mode, o: CreateOpts): Promise<Outcome> {
    return this.run(async () => {
      const r = await this.c(s).create(path, data, { flags: MODE_FLAGS[mode], ttl: o.ttl, acl: o.acl === undefined ? undefined : toZkAcl(o.acl) });
      return { ok: true, path: r.path, stat: zkStat(r.stat), zxid: r.zxid };
    });
  }

  set(s: string, path: string, data: Buffer, version: number): Promise<Outcome> {
    return this.run(async () => {
      const r = await this.c(s).setData(path, data, version);
      return { ok: true, stat: zkStat(r.stat), zxid: r.zxid };
    });
  }

  delete(s: string, path: string, version: number): Promise<Outcome> {
    return this.run(async () => ({ ok: true, zxid: (await this.c(s).delete(path, version)).zxid }));
  }

  exists(s: string, path: string): Promise<Outcome> {
    return this.run(async () => {
      const st = await this.c(s).exists(path);
      return { ok: true, stat: st === null ? null : zkStat(st) };
    });
  }

  get(s: string, path: string): Promise<Outcome> {
    return this.run(async () => {
      const r = await this.c(s).getData(path);
      return { ok: true, data: r.data.toString('base64'), stat: zkStat(r.stat) };
    });
  }

  children(s: string, path: string): Promise<Outcome> {
    return this.run(async () => {
      const r = await this.c(s).getChildren(path);
      return { ok: true, children: [...r.children].sort(), stat: zkStat(r.stat) };
    });
  }

  getAcl(s: string, path: string): Promise<Outcome> {
    return this.run(async () => {
      const r = await this.c(s).getACL(path);
      return { ok: true, acl: fromZkAcl(r.acl), stat: zkStat(r.stat) };
    });
  }

  setAcl(s: string, path: string, acl: AclJson[], aversion: number): Promise<Outcome> {
    return this.run(async () => {
      const r = await this.c(s).setACL(path, toZkAcl(acl), aversion);
      return { ok: true, stat: zkStat(r.stat), zxid: r.zxid };
    });
  }

  multi(s: string, ops: MultiOp[]): Promise<Outcome> {
    return this.run(async () => {
      const zops: ZkOp[] = ops.map((op) => {
        switch (op.op) {
          case 'create': return { type: 'create', path: op.path, data: op.data ?? Buffer.alloc(0), flags: MODE_FLAGS[op.mode ?? 'persistent'], ttl: op.ttl };
          case 'set': return { type: 'setData', path: op.path, data: op.data ?? Buffer.alloc(0), version: op.version ?? -1 };
          case 'delete': return { type: 'delete', path: op.path, version: op.version ?? -1 };
          case 'check': return { type: 'check', path: op.path, version: op.version };
        }
      });
      const r = await this.c(s).multi(zops);
      const failedOp = r.results.findIndex((x) => x.type === 'error' && x.err !== 0);
      if (failedOp >= 0) {
        const errors = r.results.map((x) => (x.type === 'error' ? zkErrorName(x.err) : `unexpected ${x.type}`));
        return { ok: false, code: errors[failedOp], failedOp, errors };
      }
      const results = r.results.map((x, i): MultiResult => {
        switch (x.type) {
          case 'create': {
            const op = ops[i] as Extract<MultiOp, { op: 'create' }>;
            return multiCreateHasStat(op.mode ?? 'persistent') && x.stat !== null ? { op: 'create', path: x.path, stat: zkStat(x.stat) } : { op: 'create', path: x.path };
          }
          case 'setData': return { op: 'set', stat: zkStat(x.stat) };
          case 'delete': return { op: 'delete' };
          case 'check': return { op: 'check' };
          case 'error': throw new Error('unreachable');
        }
      });
      return { ok: true, results, zxid: r.zxid };
    });
  }

  async peek(path: string): Promise<RawStat | null> {
    const st = await this.c('main').exists(path);
    return st === null ? null : zkStat(st);
  }

  async peekChildren(path: string): Promise<string[] | null> {
    try {
      return (await this.c('main').getChildren(path)).children;
    } catch (e) {
      if (e instanceof ZkWireError) return e.codeName === 'NoNode' ? null : [];
      throw e;
    }
  }

  async close(): Promise<void> {
    for (const c of this.sessions.values()) await c.close().catch(() => undefined);
    this.sessions.clear();
  }
}

// ---------------------------------------------------------------------------
// ZooGate, over REST (API.md)
// ---------------------------------------------------------------------------

/** API.md "Errors": the HTTP status of each code. */
const HTTP_STATUS: Readonly<Record<string, number>> = {
  BadArguments: 400, InvalidACL: 400, AuthFailed: 401, NoAuth: 403, NoNode: 404, NoWatcher: 404,
  NodeExists: 409, NotEmpty: 409, NoChildrenForEphemerals: 409, QuotaExceeded: 409, BadVersion: 412,
  SessionExpired: 410, PayloadTooLarge: 413, Throttled: 429, SystemError: 500, Unimplemented: 501,
  NoQuorum: 503, NotReadOnly: 503, OperationTimeout: 504,
};

const encPath = (path: string) => path.split('/').map(encodeURIComponent).join('/');

interface HttpReply {
  status: number;
  headers: Headers;
  json: any;
}

class ZooGateTarget implements Target {
  readonly name = 'ZooGate';
  readonly labels = new Labels('ZooGate');
  private readonly sessions = new Map<string, { id: string; auth?: string }>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(private readonly base: string) {
    this.keepalive = setInterval(() => {
      for (const { id } of this.sessions.values()) fetch(`${this.base}/sessions/${id}/keepalive`, { method: 'POST' }).then((r) => r.arrayBuffer(), () => undefined);
    }, 1000);
    this.keepalive.unref();
  }

  private async http(method: string, url: string, s: string | null, body?: Buffer | string, headers: Record<string, string> = {}): Promise<HttpReply> {
    const h: Record<string, string> = { ...headers };
    if (s !== null) {
      const sess = this.sessions.get(s);
      if (sess === undefined) throw new Error(`ZooGate: no open session ${s}`);
      h['zoogate-session'] = sess.id;
      if (sess.auth !== undefined) h.authorization = `Basic ${Buffer.from(sess.auth).toString('base64')}`;
    }
    const res = await fetch(this.base + url, { method, headers: h, body });
    const text = await res.text();
    let json: any;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        json = { unparsed: text };
      }
    }
    return { status: res.status, headers: res.headers, json };
  }

  /** A failure as an Outcome; a status that contradicts API.md's table shows up in the code. */
  private fail(r: HttpReply): Outcome {
    const code: string = r.json?.error?.code ?? `HTTP ${r.status} ${JSON.stringify(r.json)}`;
    const want = HTTP_STATUS[code];
    if (want !== undefined && want !== r.status) return { ok: false, code: `${code} (HTTP ${r.status}, API.md says ${want})` };
    return { ok: false, code };
  }

  private zxidHeader(r: HttpReply): number {
    return Number(r.headers.get('zoogate-zxid'));
  }

  async openSession(s: string, gen: string, digestAuth?: string): Promise<void> {
    if (this.sessions.has(s)) await this.closeSession(s);
    const r = await this.http('POST', '/sessions', null, JSON.stringify({ timeoutMs: 4000 }), { 'content-type': 'application/json' });
    assert.equal(r.status, 201, `ZooGate POST /sessions: ${JSON.stringify(r.json)}`);
    this.sessions.set(s, { id: r.json.sessionId, auth: digestAuth });
    this.labels.sessions.set(r.json.sessionId, gen);
  }

  async closeSession(s: string): Promise<Outcome> {
    const sess = this.sessions.get(s)!;
    this.sessions.delete(s);
    const r = await this.http('DELETE', `/sessions/${sess.id}`, null);
    if (r.status !== 204) return this.fail(r);
    return { ok: true, zxid: this.zxidHeader(r) };
  }

  async create(s: string, path: string, data: Buffer, mode: Mode, o: CreateOpts): Promise<Outcome> {
    let q = `?mode=${mode}`;
    if (o.ttl !== undefined) q += `&ttl=${o.ttl}`;
    const headers: Record<string, string> = {};
    if (o.acl !== undefined) headers['zoogate-acl'] = o.acl.map((a) => `${a.scheme}:${a.id}:${a.perms}`).join(',');
    const r = await this.http('POST', `/znodes${encPath(path)}${q}`, s, data, headers);
    if (r.status !== 201) return this.fail(r);
    return { ok: true, path: r.json.path, stat: r.json.stat, zxid: r.json.stat.czxid };
  }

  async set(s: string, path: string, data: Buffer, version: number): Promise<Outcome> {
    const r = await this.http('PUT', `/znodes${encPath(path)}?version=${version}`, s, data);
    if (r.status !== 200) return this.fail(r);
    return { ok: true, stat: r.json.stat, zxid: r.json.stat.mzxid };
  }

  async delete(s: string, path: string, version: number): Promise<Outcome> {
    const r = await this.http('DELETE', `/znodes${encPath(path)}?version=${version}`, s);
    if (r.status !== 204) return this.fail(r);
    return { ok: true, zxid: this.zxidHeader(r) };
  }

  async exists(s: string, path: string): Promise<Outcome> {
    const r = await this.http('HEAD', `/znodes${encPath(path)}`, s);
    if (r.status === 404) return { ok: true, stat: null };
    if (r.status !== 200) return { ok: false, code: `HTTP ${r.status}` };
    return { ok: true, stat: JSON.parse(r.headers.get('zoogate-stat') ?? 'null') };
  }

  async get(s: string, path: string): Promise<Outcome> {
    const r = await this.http('GET', `/znodes${encPath(path)}?encoding=base64`, s);
    if (r.status !== 200) return this.fail(r);
    return { ok: true, data: r.json.data, stat: r.json.stat };
  }

  async children(s: string, path: string): Promise<Outcome> {
    const r = await this.http('GET', `/znodes${encPath(path)}?children=true`, s);
    if (r.status !== 200) return this.fail(r);
    // Not re-sorted: API.md promises a sorted list, so ZooKeeper's sorted list must match as is.
    return { ok: true, children: r.json.children, stat: r.json.stat };
  }

  async getAcl(s: string, path: string): Promise<Outcome> {
    const r = await this.http('GET', `/znodes${encPath(path)}?acl=true`, s);
    if (r.status !== 200) return this.fail(r);
    return { ok: true, acl: (r.json.acl as AclJson[]).map((a) => ({ scheme: a.scheme, id: a.id, perms: canonPerms(a.perms) })), stat: r.json.stat };
  }

  async setAcl(s: string, path: string, acl: AclJson[], aversion: number): Promise<Outcome> {
    const r = await this.http('PUT', `/znodes${encPath(path)}?acl=true&aversion=${aversion}`, s, JSON.stringify(acl), { 'content-type': 'application/json' });
    if (r.status !== 200) return this.fail(r);
    return { ok: true, stat: r.json.stat, zxid: this.zxidHeader(r) };
  }

  async multi(s: string, ops: MultiOp[]): Promise<Outcome> {
    const body = {
      ops: ops.map((op) => {
        switch (op.op) {
          case 'create': {
            const o: Record<string, unknown> = { op: 'create', path: op.path, data: (op.data ?? Buffer.alloc(0)).toString('base64'), encoding: 'base64', mode: op.mode ?? 'persistent' };
            if (op.ttl !== undefined) o.ttl = op.ttl;
            return o;
          }
          case 'set': return { op: 'set', path: op.path, data: (op.data ?? Buffer.alloc(0)).toString('base64'), encoding: 'base64', version: op.version ?? -1 };
          case 'delete': return { op: 'delete', path: op.path, version: op.version ?? -1 };
          case 'check': return { op: 'check', path: op.path, version: op.version };
        }
      }),
    };
    const r = await this.http('POST', '/multi', s, JSON.stringify(body), { 'content-type': 'application/json' });
    if (r.status !== 200) {
      const f = this.fail(r);
      if (r.json?.failedOp === undefined) return f;
      return { ...f, failedOp: r.json.failedOp, errors: (r.json.results as Array<{ error: string }>).map((x) => x.error) };
    }
    const results = (r.json.results as Array<{ op: MultiResult['op']; path?: string; stat?: RawStat }>).map((x, i): MultiResult => {
      const op = ops[i];
      if (x.op === 'create') {
        const mode = op?.op === 'create' ? op.mode ?? 'persistent' : 'persistent';
        return multiCreateHasStat(mode) ? { op: 'create', path: x.path, stat: x.stat } : { op: 'create', path: x.path };
      }
      if (x.op === 'set') return { op: 'set', stat: x.stat };
      return { op: x.op };
    });
    return { ok: true, results, zxid: r.json.zxid };
  }

  async peek(path: string): Promise<RawStat | null> {
    const r = await this.http('HEAD', `/znodes${encPath(path)}`, null);
    if (r.status === 404) return null;
    assert.equal(r.status, 200, `ZooGate HEAD ${path}: HTTP ${r.status}`);
    return JSON.parse(r.headers.get('zoogate-stat')!);
  }

  async peekChildren(path: string): Promise<string[] | null> {
    const r = await this.http('GET', `/znodes${encPath(path)}?children=true`, null);
    return r.status === 200 ? r.json.children : r.status === 404 ? null : [];
  }

  async close(): Promise<void> {
    clearInterval(this.keepalive);
    for (const s of [...this.sessions.keys()]) await this.closeSession(s).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// Lock step
// ---------------------------------------------------------------------------

interface Step {
  zk: Outcome;
  zg: Outcome;
}

const describeData = (d: Buffer) => (d.length === 0 ? '' : ` data=${/^[\x20-\x7e]*$/.test(d.toString('latin1')) ? JSON.stringify(d.toString('latin1')) : '0x' + d.toString('hex')}`);

function describeMultiOp(op: MultiOp): string {
  switch (op.op) {
    case 'create': return `create ${op.path}${op.mode && op.mode !== 'persistent' ? ' ' + op.mode : ''}${op.ttl !== undefined ? ' ttl=' + op.ttl : ''}${describeData(op.data ?? Buffer.alloc(0))}`;
    case 'set': return `set ${op.path} v=${op.version ?? -1}${describeData(op.data ?? Buffer.alloc(0))}`;
    case 'delete': return `delete ${op.path} v=${op.version ?? -1}`;
    case 'check': return `check ${op.path} v=${op.version}`;
  }
}

class Differ {
  private n = 0;
  private readonly log: string[] = [];
  private readonly gens = new Map<string, number>();
  context = '';

  constructor(readonly zk: Target, readonly zg: Target) {}

  get steps(): number {
    return this.n;
  }

  /** Runs one operation on ZooKeeper, then on ZooGate, and fails unless both answers agree. */
  async step(desc: string, run: (t: Target) => Promise<Outcome>): Promise<Step> {
    const label = `#${++this.n}`;
    this.log.push(`${label} ${desc}`);
    if (this.log.length > 25) this.log.shift();
    const zk = await run(this.zk);
    const zg = await run(this.zg);
    if (zk.ok && zk.zxid !== undefined) this.zk.labels.register(zk.zxid, label);
    if (zg.ok && zg.zxid !== undefined) this.zg.labels.register(zg.zxid, label);
    let a: Record<string, unknown>;
    let b: Record<string, unknown>;
    try {
      a = this.zk.labels.outcome(zk);
      b = this.zg.labels.outcome(zg);
    } catch (e) {
      throw this.failure(`${label} ${desc}: ${(e as Error).message}`);
    }
    if (!isDeepStrictEqual(a, b)) {
      const msg = `ZooGate disagrees with ZooKeeper at ${label} ${desc}\n  ZooKeeper: ${JSON.stringify(a)}\n  ZooGate:   ${JSON.stringify(b)}`;
      if (this.collected === null) throw this.failure(msg);
      this.collected.push(msg);
    }
    return { zk, zg };
  }

  private collected: string[] | null = null;

  /**
   * For table-like cases whose steps do not build on each other: runs `fn`
   * noting every disagreement instead of stopping at the first, then fails
   * listing them all.
   */
  async collecting(fn: () => Promise<void>): Promise<void> {
    const found: string[] = (this.collected = []);
    try {
      await fn();
    } catch (e) {
      if (found.length > 0 && e instanceof Error) e.message += `\n… after ${found.length} disagreement(s):\n${found.join('\n')}`;
      throw e;
    } finally {
      this.collected = null;
    }
    if (found.length > 0) throw new assert.AssertionError({ message: `${found.length} disagreement(s):\n${found.join('\n')}` });
  }

  failure(message: string): assert.AssertionError {
    return new assert.AssertionError({ message: `${message}\n${this.context}recent operations:\n  ${this.log.join('\n  ')}` });
  }

  async openSession(s: string, digestAuth?: string): Promise<void> {
    const g = (this.gens.get(s) ?? 0) + 1;
    this.gens.set(s, g);
    await Promise.all([this.zk.openSession(s, `${s}#${g}`, digestAuth), this.zg.openSession(s, `${s}#${g}`, digestAuth)]);
  }

  closeSession(s: string): Promise<Step> {
    return this.step(`close session ${s}`, (t) => t.closeSession(s));
  }

  create(path: string, o: { s?: string; data?: Buffer | string; mode?: Mode; ttl?: number; acl?: AclJson[] } = {}): Promise<Step> {
    const data = typeof o.data === 'string' ? Buffer.from(o.data) : o.data ?? Buffer.alloc(0);
    const mode = o.mode ?? 'persistent';
    const desc = `[${o.s ?? 'main'}] create ${path} ${mode}${o.ttl !== undefined ? ' ttl=' + o.ttl : ''}${o.acl ? ' acl=' + o.acl.map((a) => `${a.scheme}:${a.id}:${a.perms}`).join(',') : ''}${describeData(data)}`;
    return this.step(desc, (t) => t.create(o.s ?? 'main', path, data, mode, { ttl: o.ttl, acl: o.acl }));
  }

  set(path: string, data: Buffer | string, version = -1, s = 'main'): Promise<Step> {
    const d = typeof data === 'string' ? Buffer.from(data) : data;
    return this.step(`[${s}] set ${path} v=${version}${describeData(d)}`, (t) => t.set(s, path, d, version));
  }

  del(path: string, version = -1, s = 'main'): Promise<Step> {
    return this.step(`[${s}] delete ${path} v=${version}`, (t) => t.delete(s, path, version));
  }

  exists(path: string, s = 'main'): Promise<Step> {
    return this.step(`[${s}] exists ${path}`, (t) => t.exists(s, path));
  }

  get(path: string, s = 'main'): Promise<Step> {
    return this.step(`[${s}] get ${path}`, (t) => t.get(s, path));
  }

  children(path: string, s = 'main'): Promise<Step> {
    return this.step(`[${s}] children ${path}`, (t) => t.children(s, path));
  }

  getAcl(path: string, s = 'main'): Promise<Step> {
    return this.step(`[${s}] getAcl ${path}`, (t) => t.getAcl(s, path));
  }

  setAcl(path: string, acl: AclJson[], aversion = -1, s = 'main'): Promise<Step> {
    return this.step(`[${s}] setAcl ${path} aversion=${aversion} ${acl.map((a) => `${a.scheme}:${a.id}:${a.perms}`).join(',') || '[]'}`, (t) => t.setAcl(s, path, acl, aversion));
  }

  multi(ops: MultiOp[], s = 'main'): Promise<Step> {
    return this.step(`[${s}] multi [${ops.map(describeMultiOp).join('; ')}]`, (t) => t.multi(s, ops));
  }

  /** exists on each path, compared. */
  async stats(...paths: string[]): Promise<void> {
    for (const p of paths) await this.exists(p);
  }

  /**
   * Waits (bounded) until neither system has any of `paths`, e.g. containers
   * and TTL nodes the servers remove on their own, then compares their absence.
   */
  async awaitGone(paths: string[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const left = (t: Target) => Promise.all(paths.map(async (p) => ((await t.peek(p)) === null ? null : p))).then((r) => r.filter((p) => p !== null));
    let zkLeft: string[] = [];
    let zgLeft: string[] = [];
    for (;;) {
      [zkLeft, zgLeft] = await Promise.all([left(this.zk), left(this.zg)]);
      if ((zkLeft.length === 0 && zgLeft.length === 0) || Date.now() > deadline) break;
      await sleep(25);
    }
    if (zkLeft.length > 0 || zgLeft.length > 0) {
      throw this.failure(`expected ${paths.join(', ')} to be removed by the server within ${timeoutMs} ms; still present on ZooKeeper: [${zkLeft.join(', ')}], on ZooGate: [${zgLeft.join(', ')}]`);
    }
    await this.stats(...paths);
  }

  /** Both systems keep `paths` for `ms` (polled), then compares them. */
  async awaitStays(paths: string[], ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      for (const t of [this.zk, this.zg]) {
        for (const p of paths) if ((await t.peek(p)) === null) throw this.failure(`${t.name} removed ${p}, which must stay`);
      }
      await sleep(50);
    }
    await this.stats(...paths);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const digestId = (userPassword: string) => `${userPassword.split(':')[0]}:${createHash('sha1').update(userPassword).digest('base64')}`;

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

let zkServer: ZkStandalone | null = null;
let zg: { port: number; close(): Promise<void> } | null = null;
let zgDir: string | null = null;
let d: Differ;

before(async () => {
  zgDir = mkdtempSync(join(tmpdir(), 'zg-diff-'));
  // Both start at once; whichever did start is stopped by `after` even if the other failed.
  const [zkR, zgR] = await Promise.allSettled([
    startZkStandalone({
      systemProperties: {
        // TTL nodes are off by default in ZooKeeper.
        'zookeeper.extendedTypesEnabled': 'true',
        // The container/TTL reaper runs every 60 s by default.
        'znode.container.checkIntervalMs': '100',
      },
    }),
    startServer(loadConfig([], {}, { port: 0, host: '127.0.0.1', dataDir: zgDir, logLevel: 'silent', tickMs: 200, minSessionTimeoutMs: 400, maxSessionTimeoutMs: 4000 })),
  ]);
  if (zkR.status === 'fulfilled') zkServer = zkR.value;
  if (zgR.status === 'fulfilled') zg = zgR.value;
  if (zkR.status === 'rejected') throw zkR.reason;
  if (zgR.status === 'rejected') throw zgR.reason;
  const zkS = zkR.value;
  const zgS = zgR.value;
  d = new Differ(new ZooKeeperTarget(zkS.host, zkS.port), new ZooGateTarget(`http://127.0.0.1:${zgS.port}`));
  // Every operation runs in a session, as in ZooKeeper; A and B own ephemerals.
  await d.openSession('main');
  await d.openSession('A');
  await d.openSession('B');
});

after(async () => {
  if (d) await Promise.allSettled([d.zk.close(), d.zg.close()]);
  await Promise.allSettled([zkServer?.stop(), zg?.close()]);
  if (zgDir) rmSync(zgDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// (a) Hand-written cases. Each works in its own top-level subtree; the first
// looks at the pristine tree, so it runs first.
// ---------------------------------------------------------------------------

test('stats, data, children and ACLs of /, /zookeeper, /zookeeper/config, /zookeeper/quota', async () => {
  d.context = '';
  for (const p of ['/', '/zookeeper', '/zookeeper/config', '/zookeeper/quota']) {
    const e = await d.exists(p);
    await d.get(p);
    await d.children(p);
    await d.getAcl(p);
    // ZooKeeper's own numbers (a check of this test's reading of ZooKeeper, not of ZooGate).
    const st = e.zk.stat!;
    assert.equal(st.czxid, 0);
    if (p === '/') assert.equal(st.cversion, -1); // one child it never "created": 2*0 - 1
    if (p === '/zookeeper') assert.equal(st.cversion, -2);
    if (p === '/zookeeper/config') assert.equal(st.aversion, -1); // DataTree.addConfigNode's setACL(…, -1)
  }
});

test('Stat after create, set and delete of children', async () => {
  const c = await d.create('/st', { data: 'hello' });
  assert.equal(c.zk.stat!.dataLength, 5);
  await d.exists('/st');
  await d.create('/st/a');
  await d.create('/st/b', { data: 'xyz' });
  const p2 = await d.exists('/st');
  assert.equal(p2.zk.stat!.cversion, 2);
  await d.set('/st/a', 'v1');
  await d.set('/st/a', 'v2', 1);
  await d.set('/st/a', 'v3', 5);
  await d.set('/st/a', '', 2);
  await d.get('/st/a');
  await d.exists('/st');
  await d.del('/st/b', 1); // wrong version
  await d.del('/st/b', 0);
  const p3 = await d.exists('/st');
  assert.equal(p3.zk.stat!.cversion, 2 * 2 - 1); // ZooKeeper's visible cversion: 2 * creates - numChildren
  await d.children('/st');
  await d.set('/st', 'parent');
  await d.exists('/st');
  const e = await d.create('/st/e', { mode: 'ephemeral', s: 'A', data: 'eph' });
  assert.notEqual(e.zk.stat!.ephemeralOwner, null);
  await d.create('/st/f', { mode: 'ephemeral', s: 'B' });
  await d.exists('/st/e');
  await d.get('/st/f', 'A');
  await d.children('/st');
  const p4 = await d.exists('/st');
  assert.equal(p4.zk.stat!.cversion, 2 * 4 - 3);
  await d.del('/st/e'); // another session may delete an ephemeral
  await d.del('/st/f', 0, 'A');
  await d.exists('/st');
  await d.del('/st', -1); // NotEmpty
  await d.del('/st/a', 3);
  await d.del('/st', 1);
  await d.stats('/st', '/st/a', '/');
});

test('sequential suffixes: after deletes, the /q/ prefix form, in one multi, on name collisions', async () => {
  await d.create('/sq');
  const n0 = await d.create('/sq/n-', { mode: 'persistent_sequential' });
  assert.equal(n0.zk.path, '/sq/n-0000000000');
  await d.create('/sq/n-', { mode: 'persistent_sequential', data: 'one' });
  await d.del('/sq/n-0000000001');
  const n2 = await d.create('/sq/n-', { mode: 'persistent_sequential' });
  assert.equal(n2.zk.path, '/sq/n-0000000002'); // the counter counts creates; deletes do not give numbers back
  await d.create('/sq/plain'); // a plain create counts too
  await d.create('/sq/n-', { mode: 'ephemeral_sequential', s: 'A' });
  const q = await d.create('/sq/', { mode: 'persistent_sequential' });
  assert.equal(q.zk.path, '/sq/0000000005');
  const m = await d.multi([{ op: 'create', path: '/sq/m-', mode: 'persistent_sequential' }, { op: 'create', path: '/sq/m-', mode: 'persistent_sequential' }]);
  assert.deepEqual(m.zk.results!.map((r) => r.path), ['/sq/m-0000000006', '/sq/m-0000000007']);
  await d.multi([{ op: 'create', path: '/sq/m-', mode: 'persistent_sequential' }, { op: 'set', path: '/sq/missing', data: Buffer.from('x') }]);
  const after = await d.create('/sq/m-', { mode: 'persistent_sequential' });
  assert.equal(after.zk.path, '/sq/m-0000000008'); // a failed multi takes no number
  await d.create('/sq/t-', { mode: 'persistent_sequential_with_ttl', ttl: 600_000 });
  await d.multi([{ op: 'create', path: '/sq/', mode: 'ephemeral_sequential' }, { op: 'create', path: '/sq/c-', mode: 'persistent_sequential' }, { op: 'delete', path: '/sq/plain' }], 'A');
  await d.children('/sq');
  await d.exists('/sq');
  // The sequential name may already exist.
  await d.create('/sq2');
  await d.create('/sq2/p0000000001');
  const clash = await d.create('/sq2/p', { mode: 'persistent_sequential' });
  assert.equal(clash.zk.code, 'NodeExists');
  await d.create('/sq2/p', { mode: 'persistent_sequential' }); // a failed create takes no number either
  await d.create('/sq2/x');
  await d.create('/sq2/p', { mode: 'persistent_sequential' });
  await d.multi([{ op: 'create', path: '/sq2/q', mode: 'persistent_sequential' }, { op: 'create', path: '/sq2/p0000000004' }]);
  await d.children('/sq2');
  await d.exists('/sq2');
  // Under an ephemeral parent, and at the root ("/" + counter).
  await d.create('/sq-eph', { mode: 'ephemeral', s: 'A' });
  await d.create('/sq-eph/n-', { mode: 'ephemeral_sequential', s: 'A' });
  await d.create('/sq-eph/', { mode: 'persistent_sequential' });
  const root = await d.create('/', { mode: 'persistent_sequential' });
  if (root.zk.ok) await d.del(root.zk.path!);
  await d.exists('/');
});

test('error codes and their precedence', async () => {
  await d.create('/er', { data: 'e' });
  await d.create('/er/missing/x');
  await d.create('/er');
  await d.create('/er/e', { mode: 'ephemeral', s: 'A' });
  await d.create('/er/e/c');
  await d.create('/er/e/c', { mode: 'ephemeral_sequential', s: 'A' });
  await d.create('/er/e/c', { mode: 'container' });
  await d.create('/er/e', { mode: 'ephemeral', s: 'A' });
  await d.create('/er/e', { mode: 'persistent' });
  // ACLs are checked (fixupACL) before the parent is looked up.
  await d.create('/er/missing/x', { acl: [{ scheme: 'world', id: 'nobody', perms: 'r' }] });
  await d.create('/er/missing/x', { acl: [{ scheme: 'world', id: 'anyone', perms: 'r' }, { scheme: 'nosuchscheme', id: 'x', perms: 'r' }] });
  await d.create('/er/y', { acl: [{ scheme: 'ip', id: 'not-an-ip', perms: 'r' }] });
  await d.create('/er/y', { acl: [{ scheme: 'digest', id: 'alice', perms: 'r' }] });
  await d.create('/er/y', { acl: [{ scheme: 'auth', id: '', perms: 'cdrwa' }] }); // no authenticated identity
  await d.create('/er/e', { acl: [{ scheme: 'world', id: 'nobody', perms: 'r' }] });
  // TTL arguments are checked first of all.
  await d.create('/er/t', { mode: 'persistent_with_ttl' });
  await d.create('/er/t', { mode: 'persistent', ttl: 1000 });
  await d.create('/er/t', { mode: 'container', ttl: 1000 });
  await d.create('/er/t', { mode: 'persistent_with_ttl', ttl: 2 ** 40 });
  await d.create('/er/missing/t', { mode: 'persistent_with_ttl' });
  await d.create('/er', { mode: 'persistent_with_ttl' });
  // delete: special paths, then the parent, then the version, then children.
  await d.create('/er/p');
  await d.create('/er/p/c');
  const bv = await d.del('/er/p', 7);
  assert.equal(bv.zk.code, 'BadVersion'); // BadVersion before NotEmpty
  await d.del('/er/p', 0);
  await d.del('/er/p', -1);
  await d.del('/er/nope', 3);
  await d.del('/er/nope/deeper');
  for (const p of ['/', '/zookeeper', '/zookeeper/config', '/zookeeper/quota']) {
    const r = await d.del(p);
    assert.equal(r.zk.code, 'BadArguments');
    await d.del(p, 5);
  }
  await d.del('/zookeeper/nope');
  // Creates at and under the system nodes.
  await d.create('/zookeeper');
  await d.create('/zookeeper/quota');
  await d.create('/');
  await d.create('/zookeeper/config/x');
  await d.create('/zookeeper/zg-child', { data: 'z' });
  await d.stats('/zookeeper', '/zookeeper/zg-child');
  await d.del('/zookeeper/zg-child');
  await d.create('/zookeeper/quota/zg', { mode: 'ephemeral', s: 'A' });
  await d.del('/zookeeper/quota/zg');
  await d.stats('/zookeeper', '/zookeeper/quota');
  // set
  await d.set('/zookeeper/config', 'x');
  await d.set('/zookeeper/config', 'x', 7);
  await d.set('/er/nope', 'x');
  await d.set('/er/nope', 'x', 3);
  await d.set('/er', 'x', 3);
  await d.set('/er/e', 'by another session', 0, 'B');
  // ACL calls
  await d.setAcl('/er/nope', [{ scheme: 'world', id: 'nobody', perms: 'r' }]);
  await d.setAcl('/er/nope', []);
  await d.setAcl('/er/nope', OPEN);
  await d.setAcl('/er', OPEN, 4);
  await d.setAcl('/er', [], 4);
  await d.getAcl('/er/nope');
  await d.get('/er/nope');
  await d.children('/er/nope');
  await d.exists('/er/nope');
  // check ops in a multi
  await d.multi([{ op: 'check', path: '/er/nope', version: -1 }]);
  await d.multi([{ op: 'check', path: '/er', version: 5 }]);
  await d.multi([{ op: 'check', path: '/er/nope', version: 5 }]);
  await d.multi([{ op: 'check', path: '/er', version: 0 }, { op: 'check', path: '/er', version: -1 }]);
  await d.multi([{ op: 'check', path: '/er', version: 0 }, { op: 'create', path: '/er/p/c' }, { op: 'check', path: '/er', version: 0 }]);
  await d.multi([{ op: 'create', path: '/er/e/x' }]);
  await d.multi([{ op: 'delete', path: '/' }]);
  await d.multi([{ op: 'delete', path: '/zookeeper/quota', version: 3 }]);
  await d.multi([{ op: 'delete', path: '/er/p', version: 3 }]);
  await d.multi([{ op: 'delete', path: '/er/p' }]);
  await d.multi([{ op: 'set', path: '/zookeeper/config', data: Buffer.from('x') }]);
  await d.multi([{ op: 'create', path: '/er/x' }, { op: 'create', path: '/er/x/y' }, { op: 'delete', path: '/er/x' }]);
  await d.stats('/er', '/er/x', '/er/p');
});

test('multi: results, all-or-nothing, later ops see earlier ones', async () => {
  await d.create('/mu');
  const ok = await d.multi([
    { op: 'create', path: '/mu/a', data: Buffer.from('A') },
    { op: 'set', path: '/mu/a', data: Buffer.from('A2'), version: 0 },
    { op: 'create', path: '/mu/a/b' },
    { op: 'delete', path: '/mu/a/b', version: 0 },
    { op: 'check', path: '/mu/a', version: 1 },
  ]);
  assert.equal(ok.zk.ok, true);
  await d.stats('/mu', '/mu/a', '/mu/a/b');
  await d.get('/mu/a');
  const bad = await d.multi([{ op: 'create', path: '/mu/x' }, { op: 'set', path: '/mu/missing', data: Buffer.from('x') }]);
  assert.deepEqual(bad.zk.errors, ['Ok', 'NoNode']);
  await d.stats('/mu/x', '/mu');
  await d.multi([{ op: 'create', path: '/mu/y' }, { op: 'create', path: '/mu/y' }]);
  await d.multi([{ op: 'set', path: '/mu/a', data: Buffer.from('z'), version: 1 }, { op: 'set', path: '/mu/a', data: Buffer.from('zz'), version: 2 }, { op: 'check', path: '/mu/a', version: 3 }]);
  await d.multi([{ op: 'check', path: '/mu/a', version: 9 }, { op: 'create', path: '/mu/z' }, { op: 'delete', path: '/mu/a' }]);
  await d.multi([{ op: 'create', path: '/mu/z' }, { op: 'create', path: '/mu/z/1' }, { op: 'create', path: '/mu/z/2' }, { op: 'check', path: '/mu/z', version: 1 }]);
  await d.multi([
    { op: 'create', path: '/mu/t', mode: 'persistent_with_ttl', ttl: 600_000, data: Buffer.from('t') },
    { op: 'create', path: '/mu/ctr', mode: 'container' },
    { op: 'create', path: '/mu/ctr/keep' },
    { op: 'create', path: '/mu/ts-', mode: 'persistent_sequential_with_ttl', ttl: 600_000 },
  ]);
  await d.multi([{ op: 'create', path: '/mu/e', mode: 'ephemeral' }, { op: 'create', path: '/mu/e/c' }], 'A');
  await d.multi([{ op: 'create', path: '/mu/e', mode: 'ephemeral' }, { op: 'set', path: '/mu/e', data: Buffer.from('e'), version: 0 }], 'B');
  await d.multi([{ op: 'create', path: '/mu/d' }, { op: 'delete', path: '/mu/d' }, { op: 'create', path: '/mu/d', data: Buffer.from('again') }]);
  await d.multi([{ op: 'delete', path: '/mu/d', version: 0 }, { op: 'delete', path: '/mu/d' }]);
  await d.multi([{ op: 'delete', path: '/mu/a' }, { op: 'delete', path: '/mu/d' }]);
  await d.multi([]);
  // A malformed path after a failing op: ZooKeeper prepares the ops in order, so the first failure
  // (NodeExists) is the answer, not BadArguments (random walk seed 411501365).
  const order = await d.multi([{ op: 'create', path: '/mu' }, { op: 'create', path: '//bad' }, { op: 'check', path: '/mu', version: 0 }]);
  assert.deepEqual(order.zk.errors, ['NodeExists', 'RuntimeInconsistency', 'RuntimeInconsistency']);
  // Each result's Stat is the node's state right after that op, not after the whole multi.
  await d.create('/mu/st');
  await d.multi([
    { op: 'set', path: '/mu/st', data: Buffer.from('1'), version: 0 },
    { op: 'create', path: '/mu/st/c' },
    { op: 'set', path: '/mu/st', data: Buffer.from('22'), version: 1 },
    { op: 'create', path: '/mu/st/k', mode: 'container' },
    { op: 'create', path: '/mu/st/k/t', mode: 'persistent_with_ttl', ttl: 600_000 },
    { op: 'set', path: '/mu/st/k', data: Buffer.from('333'), version: 0 },
    { op: 'delete', path: '/mu/st/c' },
    { op: 'set', path: '/mu/st', data: Buffer.from(''), version: 2 },
  ]);
  await d.stats('/mu/st', '/mu/st/k', '/mu/st/k/t');
  await d.children('/mu');
  await d.stats('/mu', '/mu/a', '/mu/d', '/mu/e', '/mu/t', '/mu/ctr', '/');
});

test('setACL, getACL and aversion; permissions; ip and digest identities', async () => {
  await d.create('/acl', { data: 'secret' });
  await d.getAcl('/acl');
  const s1 = await d.setAcl('/acl', OPEN, 0);
  assert.equal(s1.zk.stat!.aversion, 1);
  await d.setAcl('/acl', OPEN, 0);
  await d.exists('/acl'); // setACL changes neither version nor mzxid
  await d.setAcl('/acl', [{ scheme: 'world', id: 'anyone', perms: 'ra' }, { scheme: 'world', id: 'anyone', perms: 'ra' }]);
  await d.getAcl('/acl');
  await d.create('/acl/c');
  await d.set('/acl', 'x');
  await d.get('/acl');
  await d.children('/acl');
  await d.setAcl('/acl', [{ scheme: 'world', id: 'anyone', perms: 'a' }], 2);
  await d.get('/acl');
  await d.children('/acl');
  await d.exists('/acl'); // exists needs no permission
  await d.getAcl('/acl'); // READ or ADMIN suffices
  await d.multi([{ op: 'check', path: '/acl', version: 0 }]); // check needs READ
  await d.setAcl('/acl', OPEN);
  await d.create('/acl/k');
  await d.setAcl('/acl', [{ scheme: 'world', id: 'anyone', perms: 'crwa' }]);
  await d.del('/acl/k');
  await d.del('/acl/missing'); // the parent's DELETE permission is checked before the node is looked up
  await d.setAcl('/acl/missing', [{ scheme: 'world', id: 'anyone', perms: 'crwa' }]);
  await d.setAcl('/acl', OPEN);
  await d.del('/acl/k');
  // ip
  await d.create('/acl/ip', { acl: [{ scheme: 'ip', id: '127.0.0.1', perms: 'r' }, { scheme: 'world', id: 'anyone', perms: 'a' }] });
  await d.get('/acl/ip');
  await d.set('/acl/ip', 'x');
  await d.create('/acl/ip2', { acl: [{ scheme: 'ip', id: '10.0.0.0/8', perms: 'cdrwa' }] });
  await d.get('/acl/ip2');
  await d.getAcl('/acl/ip2');
  await d.create('/acl/ip3', { acl: [{ scheme: 'ip', id: '127.0.0.0/8', perms: 'cdrwa' }] });
  await d.set('/acl/ip3', 'y');
  // digest
  await d.openSession('D', 'alice:secret');
  const alice = digestId('alice:secret');
  await d.create('/acl/d', { acl: [{ scheme: 'digest', id: alice, perms: 'cdrwa' }, { scheme: 'world', id: 'anyone', perms: 'r' }] });
  await d.getAcl('/acl/d'); // READ without ADMIN: digest ids are masked
  await d.getAcl('/acl/d', 'D');
  await d.set('/acl/d', 'x');
  await d.set('/acl/d', 'x', -1, 'D');
  await d.create('/acl/d2', { s: 'D', acl: [{ scheme: 'auth', id: '', perms: 'cdrwa' }] });
  await d.getAcl('/acl/d2', 'D');
  await d.get('/acl/d2');
  await d.del('/acl/d2');
  await d.setAcl('/acl/d2', OPEN);
  await d.setAcl('/acl/d2', OPEN, -1, 'D');
  await d.create('/acl/d3', { acl: [{ scheme: 'auth', id: 'whatever', perms: 'cdrwa' }] });
  await d.closeSession('D');
  await d.stats('/acl', '/acl/d', '/acl/d2');
});

test('permission checks and their place among the other errors', async () => {
  await d.create('/pm');
  await d.create('/pm/ro', { acl: [{ scheme: 'world', id: 'anyone', perms: 'r' }] });
  await d.create('/pm/ro/x'); // NoAuth: no CREATE on the parent
  await d.create('/pm/ro/x', { mode: 'persistent_with_ttl' }); // TTL arguments first
  await d.create('/pm/ro/x', { acl: [] }); // the ACL is checked before the parent's permission
  await d.create('/pm/nope/x'); // NoNode before any permission
  await d.set('/pm/ro', 'x', 5); // NoAuth before BadVersion
  await d.set('/pm/ro', 'x');
  await d.setAcl('/pm/ro', OPEN, 5); // no ADMIN: NoAuth before BadVersion
  await d.setAcl('/pm/ro', [{ scheme: 'world', id: 'nobody', perms: 'r' }]); // InvalidACL before NoAuth
  await d.get('/pm/ro');
  await d.getAcl('/pm/ro');
  await d.children('/pm/ro');
  await d.multi([{ op: 'check', path: '/pm/ro', version: 5 }]);
  await d.multi([{ op: 'set', path: '/pm/ro', data: Buffer.from('x'), version: 5 }]);
  await d.multi([{ op: 'create', path: '/pm/ok' }, { op: 'create', path: '/pm/ro/x' }, { op: 'delete', path: '/pm/ok' }]);
  await d.del('/pm/ro'); // the node's own ACL does not matter for delete, only the parent's
  await d.stats('/pm', '/pm/ro', '/pm/ok');
  // A parent without DELETE: NoAuth before NoNode, BadVersion and NotEmpty.
  await d.create('/pm/nd');
  await d.create('/pm/nd/c');
  await d.create('/pm/nd/c/g');
  await d.create('/pm/nd/e');
  await d.setAcl('/pm/nd', [{ scheme: 'world', id: 'anyone', perms: 'crwa' }]);
  await d.del('/pm/nd/c', 9);
  await d.del('/pm/nd/missing', 9);
  await d.del('/pm/nd/e');
  await d.del('/pm/nd/c/g'); // the grandparent's ACL does not matter
  await d.del('/pm/nd/c', 9);
  await d.create('/pm/nd/e'); // NodeExists
  // A parent without CREATE: NoAuth even where the node exists.
  await d.setAcl('/pm/nd', [{ scheme: 'world', id: 'anyone', perms: 'drwa' }]);
  await d.create('/pm/nd/e');
  await d.create('/pm/nd/s-', { mode: 'persistent_sequential' });
  await d.stats('/pm/nd', '/pm/nd/c', '/pm/nd/e');
  // The system nodes' ACLs.
  await d.setAcl('/zookeeper/config', OPEN);
  await d.multi([{ op: 'check', path: '/zookeeper/config', version: 0 }, { op: 'check', path: '/', version: 0 }, { op: 'check', path: '/zookeeper/quota', version: -1 }]);
  await d.multi([{ op: 'check', path: '/zookeeper/config', version: 1 }]);
  await d.stats('/zookeeper/config');
});

test('which ACL ids are valid (fixupACL and the auth providers\' isValid)', async () => {
  await d.create('/av');
  const ids: Array<[string, string]> = [
    ['world', 'anyone'], ['world', 'Anyone'], ['World', 'anyone'], ['super', 'x'], ['sasl', 'bob'], ['x509', 'CN=x'],
    ['digest', 'alice:hash'], ['digest', 'alice'], ['digest', 'alice:'], ['digest', ':hash'], ['digest', 'alice:hash:'],
    ['digest', 'alice::'], ['digest', 'a:b:c'], ['digest', ''],
    ['ip', '127.0.0.1'], ['ip', '10.0.0.0/8'], ['ip', '10.0.0.0/0'], ['ip', '10.0.0.0/32'], ['ip', '10.0.0.0/33'],
    ['ip', '10.0.0.0/-1'], ['ip', '10.0.0.0/'], ['ip', '10.0.0.0/ 8'], ['ip', '10.0.0.0/8.0'], ['ip', '10.0.0.0/0x8'],
    ['ip', '10.0.0.0/+8'], ['ip', '10.0.0.0/08'], ['ip', '0001.0.0.1'], ['ip', '+1.0.0.1'], ['ip', '-0.0.0.1'],
    ['ip', '256.0.0.1'], ['ip', '1.2.3'], ['ip', '1.2.3.4.5'], ['ip', '1.2.3.'], ['ip', ''], ['ip', 'localhost'],
    ['ip', '::1'], ['ip', '::1/128'], ['ip', 'fe80::/10'], ['ip', '::ffff:127.0.0.1'], ['ip', '1:2:3:4:5:6:7:8'],
  ];
  // Each id on nodes of its own, so that one disagreement does not hide the next
  // (/av/c gets children on one system only where the two disagree, so it is not compared).
  await d.create('/av/c');
  await d.collecting(async () => {
    let i = 0;
    for (const [scheme, id] of ids) {
      const n = i++;
      const r = await d.create(`/av/c/${n}`, { acl: [{ scheme, id, perms: 'cdrwa' }] });
      if (r.zk.ok && r.zg.ok) await d.getAcl(`/av/c/${n}`);
      await d.create(`/av/s${n}`);
      await d.setAcl(`/av/s${n}`, [{ scheme, id, perms: 'r' }, { scheme: 'world', id: 'anyone', perms: 'cdrwa' }]);
    }
    await d.create('/av/none', { acl: [{ scheme: 'world', id: 'anyone', perms: '' }] });
    await d.getAcl('/av/none');
    await d.exists('/av/none');
    await d.get('/av/none');
  });
  await d.openSession('D2', 'bob:pw');
  await d.setAcl('/av', [{ scheme: 'auth', id: '', perms: 'cdrwa' }, { scheme: 'world', id: 'anyone', perms: 'r' }], -1, 'D2');
  await d.getAcl('/av', 'D2');
  await d.getAcl('/av');
  await d.closeSession('D2');
  await d.stats('/av');
});

test('names that need percent-encoding, and the order of children', async () => {
  await d.create('/nm');
  const names = ['a b', 'ü', '日本', '%41', 'x?y', '#h', 'a+b', 'semi;colon', "q'\"", 'B', 'a', '_', '10', '9', 'Z', '~', 'A-', 'é', 'e\u0301', '\u00a0', 'zookeeper', 'x.y', '...', '.a', 'a.'];
  for (const n of names) {
    await d.create(`/nm/${n}`, { data: n });
    await d.get(`/nm/${n}`);
  }
  await d.children('/nm');
  await d.create('/nm/ü/', { mode: 'persistent_sequential' });
  await d.create('/nm/ü/%', { mode: 'ephemeral_sequential', s: 'A' });
  await d.children('/nm/ü');
  await d.multi([{ op: 'create', path: '/nm/x?y/a b' }, { op: 'set', path: '/nm/#h', data: Buffer.from('new'), version: 0 }, { op: 'delete', path: '/nm/%41' }]);
  await d.set('/nm/a b', Buffer.from([0xff, 0xfe, 0, 1]), 0);
  await d.get('/nm/a b');
  await d.del('/nm/日本', 0);
  await d.children('/nm');
  await d.stats('/nm', '/nm/x?y/a b', '/nm/%41');
});

test('quota nodes as zkCli setquota writes them: ZooKeeper keeps zookeeper_stats up to date', async () => {
  // ZooKeeper 3.8 does not enforce quotas by default (zookeeper.enforceQuota=false),
  // but it counts the nodes and bytes under a path with a quota into .../zookeeper_stats.
  await d.create('/qt', { data: 'ab' });
  await d.create('/qt/a', { data: 'xyz' });
  await d.create('/zookeeper/quota/qt');
  await d.create('/zookeeper/quota/qt/zookeeper_limits', { data: 'count=2,bytes=-1' });
  await d.create('/zookeeper/quota/qt/zookeeper_stats', { data: 'count=0,bytes=0' });
  await d.collecting(async () => {
    const stats = '/zookeeper/quota/qt/zookeeper_stats';
    await d.get(stats);
    await d.create('/qt/b', { data: '1234' }); // over the count limit: only logged
    await d.get(stats);
    await d.set('/qt/a', 'x');
    await d.get(stats);
    await d.del('/qt/b');
    await d.get(stats);
    await d.multi([{ op: 'create', path: '/qt/c', data: Buffer.from('cc') }, { op: 'delete', path: '/qt/a' }]);
    await d.get(stats);
    await d.get('/zookeeper/quota/qt/zookeeper_limits');
  });
});

test('containers go once their last child goes', async () => {
  const c = await d.create('/ct', { mode: 'container', data: 'c' });
  assert.equal(c.zk.stat!.ephemeralOwner, null); // ZooKeeper shows 0 for containers
  await d.awaitStays(['/ct'], 500); // never had a child: stays
  await d.create('/ct/a');
  await d.create('/ct/b');
  await d.del('/ct/a');
  await d.awaitStays(['/ct'], 300);
  await d.del('/ct/b');
  await d.awaitGone(['/ct']);
  await d.exists('/');
  // A container whose only child is an ephemeral goes when the session closes.
  await d.openSession('C');
  await d.create('/ct2', { mode: 'container' });
  await d.create('/ct2/e', { mode: 'ephemeral', s: 'C' });
  await d.create('/ct2/f', { mode: 'ephemeral_sequential', s: 'C' });
  await d.closeSession('C');
  await d.awaitGone(['/ct2']);
  // Nested: the inner container goes, then the outer one.
  await d.create('/ct3', { mode: 'container' });
  await d.create('/ct3/in', { mode: 'container' });
  await d.create('/ct3/in/leaf');
  await d.stats('/ct3', '/ct3/in');
  await d.del('/ct3/in/leaf');
  await d.awaitGone(['/ct3/in', '/ct3']);
  // A sequential child, and a multi that fills and empties a container at once.
  await d.create('/ct4', { mode: 'container' });
  await d.multi([{ op: 'create', path: '/ct4/s-', mode: 'persistent_sequential' }, { op: 'delete', path: '/ct4/s-0000000000' }]);
  await d.awaitGone(['/ct4']);
  // A failed multi gives a container no child.
  await d.create('/ct7', { mode: 'container' });
  await d.multi([{ op: 'create', path: '/ct7/a' }, { op: 'delete', path: '/ct7/a' }, { op: 'create', path: '/nope/x' }]);
  await d.awaitStays(['/ct7'], 300);
  // A TTL child expires, which empties its container.
  await d.create('/ct5', { mode: 'container' });
  await d.create('/ct5/t', { mode: 'persistent_with_ttl', ttl: 200 });
  await d.awaitGone(['/ct5/t', '/ct5']);
  // A container created and filled in one multi, emptied by another.
  await d.multi([{ op: 'create', path: '/ct6', mode: 'container' }, { op: 'create', path: '/ct6/a' }, { op: 'create', path: '/ct6/b', mode: 'container' }]);
  await d.stats('/ct6', '/ct6/a', '/ct6/b');
  await d.multi([{ op: 'delete', path: '/ct6/a' }, { op: 'check', path: '/ct6', version: 0 }]);
  await d.awaitStays(['/ct6'], 300); // still has /ct6/b, which never had a child
  await d.del('/ct6/b');
  await d.awaitGone(['/ct6']);
  await d.exists('/');
});

test('TTL nodes expire once childless and unmodified for their TTL', async () => {
  const t = await d.create('/ttl', { mode: 'persistent_with_ttl', ttl: 600_000, data: 'parent' });
  assert.equal(t.zk.stat!.ephemeralOwner, null);
  await d.create('/ttl/short', { mode: 'persistent_with_ttl', ttl: 300 });
  await d.create('/ttl/s-', { mode: 'persistent_sequential_with_ttl', ttl: 300 });
  await d.create('/ttl/hold', { mode: 'persistent_with_ttl', ttl: 300 });
  await d.create('/ttl/hold/child');
  await d.stats('/ttl/short', '/ttl/s-0000000001', '/ttl/hold');
  await d.awaitGone(['/ttl/short', '/ttl/s-0000000001']);
  await d.awaitStays(['/ttl/hold'], 600); // has a child
  await d.del('/ttl/hold/child');
  await d.awaitGone(['/ttl/hold']);
  await d.stats('/ttl');
  await d.children('/ttl');
});

test('ephemerals go when their session closes', async () => {
  await d.create('/eph');
  await d.openSession('E');
  await d.create('/eph/a', { mode: 'ephemeral', s: 'E', data: 'a' });
  await d.create('/eph/s-', { mode: 'ephemeral_sequential', s: 'E' });
  await d.create('/eph/b', { mode: 'ephemeral', s: 'B' });
  await d.create('/eph-top', { mode: 'ephemeral', s: 'E' });
  await d.stats('/eph/a', '/eph/s-0000000001', '/eph/b', '/eph');
  await d.closeSession('E');
  await d.stats('/eph/a', '/eph/s-0000000001', '/eph-top', '/eph/b', '/eph', '/');
  await d.children('/eph');
  await d.openSession('E');
  await d.create('/eph/a', { mode: 'ephemeral', s: 'E' });
  await d.exists('/eph/a');
  await d.closeSession('A');
  await d.closeSession('B');
  await d.closeSession('E');
  await d.stats('/eph', '/eph/a', '/eph/b', '/sq', '/sq-eph', '/er', '/er/e', '/mu', '/mu/e');
  await d.children('/sq');
});

// ---------------------------------------------------------------------------
// (b) Seeded random walk
// ---------------------------------------------------------------------------

const WALK_OPS = Number(process.env.ZG_DIFF_OPS ?? 300);

test('random walk in lock step', async (t) => {
  const seed = process.env.ZG_DIFF_SEED !== undefined ? Number(process.env.ZG_DIFF_SEED) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
  t.diagnostic(`seed ${seed} (replay with ZG_DIFF_SEED=${seed})`);
  d.context = `random walk seed ${seed}: replay with ZG_DIFF_SEED=${seed} node --import tsx --test test/conformance/zk-differential.test.ts\n`;
  const next = prng(seed);
  const rnd = () => next(2 ** 32) / 2 ** 32;
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const weighted = <T>(xs: ReadonlyArray<[number, T]>): T => {
    let r = rnd() * xs.reduce((s, [w]) => s + w, 0);
    for (const [w, x] of xs) if ((r -= w) < 0) return x;
    return xs[xs.length - 1]![1];
  };

  const BASE = '/w';
  const fixed = ['/w/a', '/w/b', '/w/c', '/w/a/x', '/w/a/y', '/w/b/x', '/w/a/x/p', '/w/c/z', '/w/a/x/p/deep'];
  const prefixes = ['/w/s-', '/w/a/s-', '/w/a/', '/w/b/', '/w/a/x/n-', '/w/c/', '/w/'];
  const specials = ['/', '/zookeeper', '/zookeeper/quota', '/zookeeper/config'];
  const dynamic: string[] = [];
  const containers = new Set<string>();
  const sessions = ['A', 'B'];

  await d.openSession('A');
  await d.openSession('B');
  await d.create(BASE);

  const NAMES = ['a', 'b', 'c', 'x', 'y'];
  /** The nodes under BASE as ZooKeeper has them, refreshed after every write, so that most operations hit something. */
  let existing: string[] = [BASE];
  const refreshExisting = async () => {
    const out: string[] = [];
    const visit = async (p: string) => {
      const kids = await d.zk.peekChildren(p);
      if (kids === null) return;
      out.push(p);
      for (const k of kids) await visit(`${p}/${k}`);
    };
    await visit(BASE);
    existing = out;
  };
  const depth = (p: string) => p.split('/').length - 1;

  const pickPath = (): string =>
    weighted<() => string>([
      [existing.length > 0 ? 40 : 0, () => pick(existing)],
      [25, () => pick(fixed)],
      [dynamic.length > 0 ? 12 : 0, () => pick(dynamic)],
      [existing.length > 0 ? 4 : 40, () => BASE],
      [3, () => pick(specials)],
    ])();
  const pickParent = (): string => {
    const shallow = existing.filter((p) => depth(p) <= 5);
    return shallow.length > 0 ? pick(shallow) : BASE;
  };
  const randData = (): Buffer =>
    weighted<() => Buffer>([
      [3, () => Buffer.alloc(0)],
      [5, () => Buffer.from(`v${int(100)}`)],
      [2, () => Buffer.from(Array.from({ length: 1 + int(6) }, () => int(256)))],
    ])();
  const pickVersion = async (path: string, field: 'version' | 'aversion' = 'version'): Promise<number> => {
    const st = await d.zk.peek(path);
    const cur = st === null ? 0 : st[field];
    return weighted<number>([[40, -1], [45, cur], [15, cur + 1 + int(2)]]);
  };
  const pickMode = (): Mode =>
    weighted<Mode>([
      [30, 'persistent'], [14, 'ephemeral'], [14, 'persistent_sequential'], [10, 'ephemeral_sequential'],
      [16, 'container'], [8, 'persistent_with_ttl'], [8, 'persistent_sequential_with_ttl'],
    ]);
  /**
   * Bad TTL arguments only in single creates: in a multi the Java client
   * refuses them for the whole multi before sending (Op.validate), as ZooGate
   * does, while a raw ZooKeeper server answers them op by op.
   */
  const createArgs = (inMulti: boolean): { path: string; mode: Mode; ttl?: number; data: Buffer } => {
    let mode = pickMode();
    let path: string;
    const where = rnd();
    if (where < 0.3) {
      path = rnd() < 0.5 ? pick(prefixes) : pickParent() + pick(['/', '/s-', '/n-']);
      if (!['persistent_sequential', 'ephemeral_sequential', 'persistent_sequential_with_ttl'].includes(mode)) mode = pick(['persistent_sequential', 'ephemeral_sequential', 'persistent_sequential_with_ttl'] as const);
    } else if (where < 0.75) {
      path = `${pickParent()}/${pick(NAMES)}`;
    } else {
      path = pickPath();
    }
    // TTLs an hour long never expire during the walk; a few bad TTL arguments are thrown in.
    let ttl: number | undefined = isTtlMode(mode) ? 3_600_000 : undefined;
    const r = inMulti ? 1 : rnd();
    if (r < 0.03) ttl = undefined;
    else if (r < 0.05) ttl = 2 ** 40;
    else if (r < 0.07) ttl = 60_000;
    return { path, mode, ttl, data: randData() };
  };
  const noteCreated = (path: string, mode: Mode) => {
    if (mode === 'container') containers.add(path);
    if (!fixed.includes(path) && !dynamic.includes(path)) {
      dynamic.push(path);
      if (dynamic.length > 40) dynamic.shift();
    }
  };
  const parentOf = (p: string) => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));

  /**
   * Containers are removed by each server on its own schedule: before
   * comparing anything else, wait until the two agree on every container the
   * walk made (present on both, or gone from both) and no empty container that
   * has had children is left.
   */
  const settleContainers = async () => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      let pending = false;
      for (const p of containers) {
        const [a, b] = await Promise.all([d.zk.peek(p), d.zg.peek(p)]);
        const doomed = (s: RawStat | null) => s !== null && s.numChildren === 0 && s.cversion > 0;
        if ((a === null) !== (b === null) || doomed(a) || doomed(b)) pending = true;
        else if (a === null && b === null) containers.delete(p);
      }
      if (!pending || Date.now() > deadline) return;
      await sleep(25);
    }
  };

  const compareTree = async (path: string): Promise<void> => {
    const c = await d.children(path);
    await d.get(path);
    if (c.zk.ok) for (const child of c.zk.children!) await compareTree(path === '/' ? `/${child}` : `${path}/${child}`);
  };

  const tally = new Map<string, number>();
  const count = (kind: string, r: Step) => {
    const k = `${kind} ${r.zk.ok ? 'ok' : r.zk.code}`;
    tally.set(k, (tally.get(k) ?? 0) + 1);
    return r;
  };

  const t0 = Date.now();
  for (let i = 0; i < WALK_OPS; i++) {
    const s = pick(sessions);
    const kind = weighted<string>([
      [28, 'create'], [14, 'set'], [14, 'delete'], [12, 'multi'], [5, 'exists'], [5, 'get'], [5, 'children'],
      [2, 'getAcl'], [2, 'setAcl'], [2, 'closeSession'],
    ]);
    const touched = new Set<string>();
    switch (kind) {
      case 'create': {
        const a = createArgs(false);
        const r = count(kind, await d.create(a.path, { s, mode: a.mode, ttl: a.ttl, data: a.data }));
        touched.add(parentOf(a.path));
        if (r.zk.ok) {
          noteCreated(r.zk.path!, a.mode);
          touched.add(r.zk.path!);
        }
        break;
      }
      case 'set': {
        const p = pickPath();
        count(kind, await d.set(p, randData(), await pickVersion(p), s));
        touched.add(p);
        break;
      }
      case 'delete': {
        const p = pickPath();
        count(kind, await d.del(p, await pickVersion(p), s));
        touched.add(p).add(parentOf(p));
        break;
      }
      case 'multi': {
        const ops: MultiOp[] = [];
        const n = 1 + int(4);
        // Later ops often build on earlier ones (a child of a node created before, a set of it…).
        const made: string[] = [];
        for (let k = 0; k < n; k++) {
          const op = weighted<string>([[35, 'create'], [25, 'set'], [25, 'delete'], [15, 'check']]);
          if (op === 'create') {
            const a = createArgs(true);
            const path = made.length > 0 && rnd() < 0.4 && !a.path.endsWith('/') ? `${pick(made)}/${pick(NAMES)}` : a.path;
            ops.push({ op: 'create', path, mode: a.mode, ttl: a.ttl, data: a.data });
            if (!['persistent_sequential', 'ephemeral_sequential', 'persistent_sequential_with_ttl'].includes(a.mode)) made.push(path);
            touched.add(parentOf(path));
          } else {
            const p = made.length > 0 && rnd() < 0.4 ? pick(made) : pickPath();
            const version = made.includes(p) ? pick([-1, 0, 0, 1]) : await pickVersion(p);
            if (op === 'set') ops.push({ op: 'set', path: p, data: randData(), version });
            else if (op === 'delete') ops.push({ op: 'delete', path: p, version });
            else ops.push({ op: 'check', path: p, version });
            touched.add(p).add(parentOf(p));
          }
        }
        const r = count(kind, await d.multi(ops, s));
        if (r.zk.ok) {
          r.zk.results!.forEach((res, k) => {
            const op = ops[k]!;
            if (res.op === 'create' && op.op === 'create') {
              noteCreated(res.path!, op.mode ?? 'persistent');
              touched.add(res.path!);
            }
          });
        }
        break;
      }
      case 'exists':
        count(kind, await d.exists(pickPath(), s));
        break;
      case 'get':
        count(kind, await d.get(pickPath(), s));
        break;
      case 'children':
        count(kind, await d.children(pickPath(), s));
        break;
      case 'getAcl':
        count(kind, await d.getAcl(pickPath(), s));
        break;
      case 'setAcl': {
        // Always keep ADMIN so that a later setACL can open the node again.
        const p = pickPath();
        const perms = rnd() < 0.5 ? 'cdrwa' : canonPerms('a' + ['c', 'd', 'r', 'w'].filter(() => rnd() < 0.75).join(''));
        count(kind, await d.setAcl(p, [{ scheme: 'world', id: 'anyone', perms }], await pickVersion(p, 'aversion'), s));
        touched.add(p);
        break;
      }
      case 'closeSession': {
        count(kind, await d.closeSession(s));
        await d.openSession(s);
        touched.add(BASE);
        break;
      }
    }
    if (kind !== 'exists' && kind !== 'get' && kind !== 'children' && kind !== 'getAcl') {
      await settleContainers();
      for (const p of [...touched].sort()) await d.exists(p);
      await refreshExisting();
    }
    if (kind === 'closeSession' || i % 40 === 39) {
      await d.exists('/');
      await compareTree(BASE);
    }
  }
  await settleContainers();
  await d.exists('/');
  await compareTree(BASE);
  t.diagnostic(`${WALK_OPS} random operations (${d.steps} compared steps in all) in ${Date.now() - t0} ms`);
  t.diagnostic(`outcomes on ZooKeeper: ${[...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  d.context = '';
});
