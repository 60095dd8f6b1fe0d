// ZooGate over its WebSocket (GET /ws), for the anchor kit's run.mjs: --target zoogate-ws.
// Copied into <kit>/bench/adapters/ by bench/run.ts. `ws` resolves from the ZooGate checkout's
// node_modules (the kit copy lives under <repo>/.bench/), as it would for any ZooGate client.
//
// Like the kit's zk adapter (one ZooKeeper session, requests pipelined on one TCP connection):
// one session-carrying socket per adapter by default, every request a JSON text frame with an id,
// answers matched by id (the server answers one socket's requests in the order they were sent).
//
//   get    = {"type":"request","op":"get","path"}   (data back as utf8 text when it is valid UTF-8)
//   put    = op "set" with version -1;  set = op "set" with the expected version
//   create / createSequential (mode persistent_sequential) / delete (version -1)
//   watch  = one-shot data watch (get with watch:true) re-armed after each event, as ZooKeeper's
//            getData(watcher); --opt watch=persistent uses addWatch mode persistent (no re-arm).
//
// Options (--opt k=v):
//   conns=N      sockets (sessions) per adapter, requests spread round-robin (default 1)
//   read=sync    linearizable reads: a sync pipelined in front of each get on the same socket
//                (the server runs the get once the sync is answered: one round trip)
//   watch=persistent|oneshot (default oneshot)
//   timeoutMs    session timeout asked for at connect (default 10000)
//   reqTimeoutMs per-request timeout (default none)
//
// A socket the server closes (it lost its leader: close code 4002, or it died) fails the requests
// in flight with ConnectionLoss, and the adapter resumes the session on the same or another
// endpoint in the background ({"type":"connect","sessionId","lastZxid","watches"}); requests made
// meanwhile fail at once with ConnectionLoss, as a ZooKeeper client's do while it reconnects.
import WebSocket from 'ws';
import { isUtf8 } from 'node:buffer';

class ZoogateError extends Error {
  constructor(msg, code) {
    super(msg);
    this.code = code;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function encodeData(val) {
  if (val == null) return { data: '' };
  const b = Buffer.isBuffer(val) ? val : Buffer.from(val);
  return isUtf8(b) ? { data: b.toString('utf8') } : { data: b.toString('base64'), encoding: 'base64' };
}

/** One socket carrying one session. */
class Conn {
  constructor(adapter, first) {
    this.a = adapter;
    this.ep = first; // index into endpoints
    this.ws = null;
    this.open = false;
    this.sessionId = undefined;
    this.lastZxid = 0;
    this.seq = 0;
    this.pending = new Map(); // id -> { resolve, reject, timer }
    this.closed = false;
    this.reconnecting = null;
    this.connectedPort = null;
  }

  url(i) {
    const e = this.a.endpoints[i];
    return `${e.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
  }

  /** Opens a socket to endpoint i and runs the connect handshake; resolves with the connected message. */
  dial(i) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url(i), { perMessageDeflate: false, handshakeTimeout: 5000 });
      let done = false;
      const fail = (e) => { if (!done) { done = true; try { ws.terminate(); } catch {} reject(e); } };
      const to = setTimeout(() => fail(new ZoogateError('connect timeout', 'ConnectionLoss')), 10_000);
      ws.on('open', () => {
        const hello = { type: 'connect', timeoutMs: this.a.sessionTimeoutMs };
        if (this.sessionId) {
          hello.sessionId = this.sessionId;
          hello.lastZxid = this.lastZxid;
          const w = this.a.watchRegs();
          if (w.length) hello.watches = w;
        }
        ws.send(JSON.stringify(hello));
      });
      ws.on('message', (buf) => {
        const t = performance.now();
        if (!done) {
          const m = JSON.parse(buf.toString());
          if (m.type === 'connected') {
            done = true;
            clearTimeout(to);
            this.ws = ws;
            this.ep = i;
            this.open = true;
            this.sessionId = m.sessionId;
            if (m.zxid > this.lastZxid) this.lastZxid = m.zxid;
            this.connectedPort = Number(new URL(this.url(i)).port);
            this.a.stateLog.push({ t, state: `connected:${i + 1}` });
            resolve(m);
            return;
          }
          if (m.type === 'state' && m.state === 'Expired') { this.sessionId = undefined; return fail(new ZoogateError('session expired', 'SessionExpired')); }
          if (m.type === 'error') return fail(new ZoogateError(`${m.code}: ${m.message}`, m.code));
          return;
        }
        this.onMessage(buf, t);
      });
      ws.on('close', (code) => {
        clearTimeout(to);
        if (!done) return fail(new ZoogateError(`closed ${code} during connect`, 'ConnectionLoss'));
        if (this.ws === ws) this.lost(code);
      });
      ws.on('error', (e) => fail(new ZoogateError(e.message, e.code || 'ConnectionLoss')));
    });
  }

  onMessage(buf, t) {
    const m = JSON.parse(buf.toString());
    if (m.type === 'response') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (p.timer) clearTimeout(p.timer);
      if (m.ok) {
        const z = m.result?.stat?.mzxid ?? m.result?.zxid;
        if (typeof z === 'number' && z > this.lastZxid) this.lastZxid = z;
        p.resolve(m.result);
      } else {
        const e = m.error ?? {};
        p.reject(new ZoogateError(`${e.code}: ${e.message ?? ''}`, e.code ?? 'SystemError'));
      }
    } else if (m.type === 'event') {
      if (m.zxid > this.lastZxid) this.lastZxid = m.zxid;
      this.a.dispatch(m, t);
    } else if (m.type === 'state') {
      this.a.stateLog.push({ t, state: m.state });
      if (m.state === 'Expired') this.sessionId = undefined;
    }
  }

  /** The socket went away: fail what is in flight, resume the session elsewhere in the background. */
  lost(code) {
    this.open = false;
    this.ws = null;
    this.a.stateLog.push({ t: performance.now(), state: `disconnected:${code}` });
    const err = new ZoogateError(`connection lost (close ${code})`, 'ConnectionLoss');
    for (const p of this.pending.values()) { if (p.timer) clearTimeout(p.timer); p.reject(err); }
    this.pending.clear();
    if (!this.closed) this.reconnect();
  }

  reconnect() {
    if (this.reconnecting) return this.reconnecting;
    this.reconnecting = (async () => {
      const n = this.a.endpoints.length;
      for (let k = 0; !this.closed; k++) {
        // the same server first (it may be serving again after the election), then the others
        const i = (this.ep + k) % n;
        try {
          await this.dial(i);
          this.a.rearmAll(this);
          return;
        } catch (e) {
          if (e.code === 'SessionExpired') this.sessionId = undefined; // a fresh session next time
          await sleep(k % n === n - 1 ? 20 : 0);
        }
      }
    })().finally(() => { this.reconnecting = null; });
    return this.reconnecting;
  }

  request(op, params) {
    if (!this.open) return Promise.reject(new ZoogateError('not connected', 'ConnectionLoss'));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const p = { resolve, reject, timer: null };
      if (this.a.reqTimeoutMs) p.timer = setTimeout(() => { this.pending.delete(id); reject(new ZoogateError('request timeout', 'OperationTimeout')); }, this.a.reqTimeoutMs);
      this.pending.set(id, p);
      this.ws.send(JSON.stringify({ type: 'request', id, op, ...params }));
    });
  }

  close() {
    this.closed = true;
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (!ws) return Promise.resolve();
    return new Promise((resolve) => {
      const to = setTimeout(() => { try { ws.terminate(); } catch {} resolve(); }, 1000);
      ws.once('close', () => { clearTimeout(to); resolve(); });
      try { ws.send(JSON.stringify({ type: 'close' })); } catch {}
      setTimeout(() => { try { ws.close(1000); } catch {} }, 20);
    });
  }
}

class ZoogateWsAdapter {
  constructor(opts) {
    this.opts = opts;
    this.endpoints = opts.endpoints.map((e) => (/^(ws|http)s?:\/\//.test(e) ? e : `ws://${e}`));
    this.nConns = Math.max(1, Number(opts.conns ?? 1));
    this.syncReads = opts.read === 'sync';
    this.watchMode = opts.watch === 'persistent' ? 'persistent' : 'oneshot';
    this.sessionTimeoutMs = Number(opts.timeoutMs ?? 10000);
    this.reqTimeoutMs = opts.reqTimeoutMs ? Number(opts.reqTimeoutMs) : 0;
    this.capabilities = {
      sequential: 'native',
      readConsistency: this.syncReads ? 'linearizable (sync pipelined before get)' : 'local (sequentially consistent)',
      transport: `WebSocket, ${this.nConns} socket(s)/session(s), requests pipelined with ids`,
      watch: this.watchMode === 'persistent' ? 'persistent data watch (addWatch)' : 'one-shot data watch (get watch:true), re-armed',
    };
    this.conns = [];
    this.rr = 0;
    this.watchers = new Map(); // path -> Set<handler>
    this.stateLog = [];
  }

  async connect() {
    const first = this.opts.prefer ? this.opts.prefer - 1 : 0;
    this.conns = Array.from({ length: this.nConns }, () => new Conn(this, first));
    await Promise.all(this.conns.map((c) => c.dial(first)));
  }

  connectedPort() {
    return this.conns[0]?.connectedPort ?? null;
  }

  conn() {
    if (this.nConns === 1) return this.conns[0];
    const c = this.conns[this.rr];
    this.rr = (this.rr + 1) % this.nConns;
    return c;
  }

  req(op, params) {
    return this.conn().request(op, params);
  }

  async ensureParent(path) {
    try {
      await this.req('create', { path, parents: true });
    } catch (e) {
      if (e.code !== 'NodeExists') throw e;
    }
  }

  async create(key, val) {
    return (await this.req('create', { path: key, ...encodeData(val) })).path;
  }

  async createSequential(prefix, val) {
    return (await this.req('create', { path: prefix, mode: 'persistent_sequential', ...encodeData(val) })).path;
  }

  async put(key, val) {
    return (await this.req('set', { path: key, version: -1, ...encodeData(val) })).stat.version;
  }

  async set(key, val, expectedVersion) {
    return (await this.req('set', { path: key, version: expectedVersion ?? -1, ...encodeData(val) })).stat.version;
  }

  async upsert(key, val) {
    try {
      await this.create(key, val);
    } catch (e) {
      if (e.code === 'NodeExists') await this.put(key, val);
      else throw e;
    }
  }

  async get(key) {
    const c = this.conn();
    let r;
    try {
      if (this.syncReads) {
        const s = c.request('sync', { path: key });
        const g = c.request('get', { path: key });
        await s;
        r = await g;
      } else {
        r = await c.request('get', { path: key });
      }
    } catch (e) {
      if (e.code === 'NoNode') return null;
      throw e;
    }
    return { value: Buffer.from(r.data, r.encoding === 'base64' ? 'base64' : 'utf8'), version: r.stat.version };
  }

  async delete(key) {
    await this.req('delete', { path: key, version: -1 });
  }

  async count(prefix) {
    return (await this.req('children', { path: prefix })).children.length;
  }

  async multi(ops) {
    return this.req('multi', { ops });
  }

  // ---- watches (on the first socket: a session's watches belong to its socket) ----

  dispatch(ev, t) {
    const hs = this.watchers.get(ev.path);
    if (hs) for (const h of [...hs]) h(ev, t);
  }

  /** What to re-register when the session resumes on another server. */
  watchRegs() {
    return [...this.watchers.keys()].map((path) => ({ path, kind: this.watchMode === 'persistent' ? 'persistent' : 'data' }));
  }

  rearmAll() {
    // the resumed session re-registered its watches in the connect message; one-shot ones that
    // fired meanwhile were delivered at once. Nothing else to do.
  }

  async watch(key, onEvent) {
    const c = this.conns[0];
    let closed = false;
    let readyP;
    const arm = () => {
      readyP = c.request('get', { path: key, watch: true }).then(() => {});
      readyP.catch(() => {});
      return readyP;
    };
    const handler = (ev, t) => {
      if (closed) return;
      onEvent({ t, type: ev.event });
      if (this.watchMode === 'oneshot') arm();
    };
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(handler);
    if (this.watchMode === 'persistent') {
      readyP = c.request('addWatch', { path: key, mode: 'persistent' });
      await readyP;
      readyP = Promise.resolve();
    } else {
      await arm();
    }
    return {
      ready: () => readyP,
      close: () => {
        closed = true;
        set.delete(handler);
        if (set.size === 0) this.watchers.delete(key);
      },
    };
  }

  async close() {
    await Promise.all(this.conns.map((c) => c.close()));
  }
}

export default function create(opts) {
  return new ZoogateWsAdapter(opts);
}
