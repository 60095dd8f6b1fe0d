// ZooGate over its REST API (one HTTP/1.1 request per op), for the anchor kit's run.mjs.
// Copied into <kit>/bench/adapters/ by bench/run.ts; run.mjs --target zoogate-rest.
//
// Like etcd-http.mjs: an undici keep-alive Pool per endpoint with one connection per in-flight
// request (no HTTP pipelining), raw bodies both ways where the API allows it.
//
// Options (--opt k=v):
//   get=raw  (default) GET with `Accept: application/octet-stream`: the body is the data bytes,
//            the version comes from the Zoogate-Stat header (JSON).
//   get=json GET answered with {"path","data","encoding","stat"}; data decoded from utf8/base64.
//   read=sync linearizable reads: GET ?sync=true (the node first confirms with a quorum that its
//            leader still leads and catches up), as etcd's default (linearizable) range.
//   timeoutMs -> per-request timeout (AbortSignal).
//   failover=1 -> on connection errors rotate to the next endpoint.
import { Pool } from 'undici';

class ZoogateError extends Error {
  constructor(msg, code, status) {
    super(msg);
    this.code = code;
    this.status = status;
  }
}

const SAFE = /^[A-Za-z0-9/_.\-~]*$/;
// /a/b -> /znodes/a/b (segments percent-encoded unless they are plain)
function resource(path) {
  if (SAFE.test(path)) return `/znodes${path}`;
  return `/znodes${path.split('/').map(encodeURIComponent).join('/')}`;
}

const OCTET = { accept: 'application/octet-stream' };
const RAW_BODY = { 'content-type': 'application/octet-stream' };

class ZoogateRestAdapter {
  constructor(opts) {
    this.opts = opts;
    this.getMode = opts.get === 'json' ? 'json' : 'raw';
    this.syncReads = opts.read === 'sync';
    this.q = this.syncReads ? '?sync=true' : '';
    this.capabilities = {
      sequential: 'native',
      readConsistency: this.syncReads ? 'linearizable (GET ?sync=true)' : 'local (sequentially consistent)',
      get: this.getMode === 'raw' ? 'raw bytes (Accept: application/octet-stream, version from Zoogate-Stat)' : 'JSON {path,data,encoding,stat}',
    };
    this.timeoutMs = opts.timeoutMs ? Number(opts.timeoutMs) : 0;
    this.failover = ['1', 'true', true].includes(opts.failover);
  }

  async connect() {
    const eps = this.opts.endpoints.map((e) => (e.startsWith('http') ? e : `http://${e}`));
    const conns = Math.max(1, Number(this.opts.concurrency ?? 16));
    this.pools = eps.map((o) => new Pool(o, { connections: conns, pipelining: 1, keepAliveTimeout: 60_000 }));
    this.cur = this.opts.prefer ? this.opts.prefer - 1 : 0;
    const res = await this.request({ path: '/ready', method: 'GET' });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new ZoogateError(`not ready: HTTP ${res.statusCode} ${text.slice(0, 200)}`, `HTTP_${res.statusCode}`, res.statusCode);
  }

  async request(init) {
    const idx = this.cur;
    if (this.timeoutMs) init.signal = AbortSignal.timeout(this.timeoutMs);
    try {
      return await this.pools[idx].request(init);
    } catch (e) {
      if (this.failover && this.pools.length > 1 && idx === this.cur) this.cur = (idx + 1) % this.pools.length;
      throw new ZoogateError(e.message, typeof e.code === 'string' ? e.code : e.name, 0);
    }
  }

  // Reads the error body ({"error":{"code","message","path"}}) and throws it.
  async fail(res) {
    const text = await res.body.text();
    let code = `HTTP_${res.statusCode}`;
    let msg = text.slice(0, 200);
    try {
      const j = JSON.parse(text);
      if (j.error?.code) { code = j.error.code; msg = j.error.message || code; }
    } catch {}
    throw new ZoogateError(`${code}: ${msg}`, code, res.statusCode);
  }

  async json(init, okStatus) {
    const res = await this.request(init);
    if (res.statusCode !== okStatus) return this.fail(res);
    return res.body.json();
  }

  async ensureParent(path) {
    const res = await this.request({ path: `${resource(path)}?parents=true`, method: 'POST' });
    if (res.statusCode === 201 || res.statusCode === 409) { await res.body.dump(); return; }
    return this.fail(res);
  }

  async create(key, val) {
    const r = await this.json({ path: resource(key), method: 'POST', headers: RAW_BODY, body: val }, 201);
    return r.path;
  }

  async createSequential(prefix, val) {
    const r = await this.json({ path: `${resource(prefix)}?mode=persistent_sequential`, method: 'POST', headers: RAW_BODY, body: val }, 201);
    return r.path;
  }

  async put(key, val) {
    const r = await this.json({ path: `${resource(key)}?version=-1`, method: 'PUT', headers: RAW_BODY, body: val }, 200);
    return r.stat.version;
  }

  async set(key, val, expectedVersion) {
    const v = expectedVersion == null ? -1 : expectedVersion;
    const r = await this.json({ path: `${resource(key)}?version=${v}`, method: 'PUT', headers: RAW_BODY, body: val }, 200);
    return r.stat.version;
  }

  // create-or-overwrite, used in setup
  async upsert(key, val) {
    try {
      await this.create(key, val);
    } catch (e) {
      if (e.code === 'NodeExists') await this.put(key, val);
      else throw e;
    }
  }

  async get(key) {
    if (this.getMode === 'raw') {
      const res = await this.request({ path: resource(key) + this.q, method: 'GET', headers: OCTET });
      if (res.statusCode === 200) {
        const value = Buffer.from(await res.body.arrayBuffer());
        return { value, version: JSON.parse(res.headers['zoogate-stat']).version };
      }
      if (res.statusCode === 404) { await res.body.dump(); return null; }
      return this.fail(res);
    }
    const res = await this.request({ path: resource(key) + this.q, method: 'GET' });
    if (res.statusCode === 200) {
      const j = await res.body.json();
      return { value: Buffer.from(j.data, j.encoding === 'base64' ? 'base64' : 'utf8'), version: j.stat.version };
    }
    if (res.statusCode === 404) { await res.body.dump(); return null; }
    return this.fail(res);
  }

  async delete(key) {
    const res = await this.request({ path: `${resource(key)}?version=-1`, method: 'DELETE' });
    if (res.statusCode !== 204) return this.fail(res);
    await res.body.dump();
  }

  async count(prefix) {
    const r = await this.json({ path: `${resource(prefix)}?children=true`, method: 'GET' }, 200);
    return r.children.length;
  }

  async multi(ops) {
    return this.json({ path: '/multi', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }) }, 200);
  }

  // Watches need a session WebSocket (GET /ws) or SSE (GET /watch/{path}); not measured yet.
  async watch() {
    throw new ZoogateError('unsupported: the zoogate-rest adapter does not implement watches yet', 'unsupported', 0);
  }

  async close() {
    await Promise.all((this.pools || []).map((p) => p.destroy().catch(() => {})));
  }
}

export default function create(opts) {
  return new ZoogateRestAdapter(opts);
}
