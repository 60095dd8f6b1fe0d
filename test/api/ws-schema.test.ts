/**
 * The WebSocket (`GET /ws`) and Server-Sent Events (`GET /watch/…`) messages
 * against openapi.yaml: a real server, every client message kind and every op
 * sent, every server message kind provoked (errors included), and EVERY frame
 * in both directions checked with validateWsMessage (WsClientMessage,
 * WsServerMessage), every SSE event with validateSseEvent. Frames the spec
 * must reject (a request without id, an unknown op…) are sent raw, after
 * asserting that the schema does reject them. The last tests fail when a
 * message kind was never seen, so the coverage cannot silently shrink.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { components } from '../../api/generated/openapi.ts';
import { loadConfig, type ServerConfig } from '../../api/config.ts';
import { startServer } from '../../api/start.ts';
import type { RunningServer } from '../../api/app.ts';
import { SseParser, type SseMessage, validateSseEvent, validateWsMessage } from '../support/openapi-validator.ts';
import { type Msg, WsTestClient } from '../support/ws-client.ts';

type Schemas = components['schemas'];

const dirs: string[] = [];
const servers: RunningServer[] = [];
const clients: ValidatingClient[] = [];
let server: RunningServer;
let base: string;

/** What was seen, for the coverage checks at the end. */
const seenClient = new Set<string>();
const seenServer = new Set<string>();
const seenSse = new Set<string>();

function kindOfClient(m: Schemas['WsClientMessage']): string {
  return m.type === 'request' ? `request ${m.op}` : m.type;
}

function kindOfServer(m: Schemas['WsServerMessage']): string {
  switch (m.type) {
    case 'response': return m.ok ? 'response ok' : 'response error';
    case 'event': return `event ${m.event}`;
    case 'state': return `state ${m.state}`;
    case 'error': return `error ${m.code}`;
    default: return m.type;
  }
}

/**
 * WsTestClient whose every frame is validated: what it sends before sending
 * (a mismatch throws in the test), what it receives as it arrives (collected,
 * then asserted by check()).
 */
class ValidatingClient extends WsTestClient {
  readonly problems: string[] = [];

  constructor(url: string) {
    super(url);
    clients.push(this);
    this.ws.on('message', (d) => {
      try {
        seenServer.add(kindOfServer(validateWsMessage('server', String(d))));
      } catch (e) {
        this.problems.push((e as Error).message);
      }
    });
  }

  override send(m: Msg): void {
    seenClient.add(kindOfClient(validateWsMessage('client', m)));
    super.send(m);
  }

  /** Sends a frame openapi.yaml does not allow (after checking that it does not), to see how the server answers. */
  sendInvalid(frame: unknown): void {
    assert.throws(() => validateWsMessage('client', frame), /does not match|is not JSON/, `openapi.yaml should reject ${JSON.stringify(frame)}`);
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  check(): void {
    assert.deepEqual(this.problems, [], 'every server message matches WsServerMessage');
    for (const m of this.messages) validateWsMessage('server', m);
  }
}

async function open(): Promise<ValidatingClient> {
  const c = new ValidatingClient(base);
  await new Promise<void>((resolve, reject) => {
    c.ws.once('open', () => resolve());
    c.ws.once('error', reject);
  });
  return c;
}

/** Opens a socket and sends `connect`; resolves once the server answered it (connected, error or state). */
async function connect(hello: Omit<Schemas['WsConnect'], 'type'> = {}): Promise<{ c: ValidatingClient; reply: Schemas['WsServerMessage'] }> {
  const c = await open();
  const reply = c.next((m) => m.type === 'connected' || m.type === 'error' || m.type === 'state');
  c.send({ type: 'connect', ...hello });
  const m = (await reply) as Schemas['WsServerMessage'];
  if (m.type === 'connected') c.sessionId = m.sessionId;
  return { c, reply: m };
}

async function connected(hello: Omit<Schemas['WsConnect'], 'type'> = {}): Promise<ValidatingClient> {
  const { c, reply } = await connect(hello);
  assert.equal(reply.type, 'connected', JSON.stringify(reply));
  return c;
}

async function ok(c: ValidatingClient, op: string, params: Msg = {}): Promise<any> {
  const r = (await c.request(op, params)) as Schemas['WsServerMessage'];
  assert.ok(r.type === 'response' && r.ok, `${op} ${JSON.stringify(params)} failed: ${JSON.stringify(r)}`);
  return r.result;
}

async function fails(c: ValidatingClient, op: string, params: Msg, code: Schemas['ErrorCode']): Promise<Schemas['WsResponseError']> {
  const r = (await c.request(op, params)) as Schemas['WsServerMessage'];
  assert.ok(r.type === 'response' && !r.ok, `${op} ${JSON.stringify(params)} should fail with ${code}: ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code, JSON.stringify(r));
  return r;
}

const rest = async (method: string, path: string, body?: string) => {
  const r = await fetch(base + path, { method, body });
  return { status: r.status, body: r.status === 204 ? null : ((await r.json().catch(() => null)) as any) };
};

async function start(overrides: Partial<ServerConfig> = {}): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'zoogate-ws-schema-'));
  dirs.push(dataDir);
  const s = await startServer(loadConfig([], {}, {
    host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 2000, ...overrides,
  }));
  servers.push(s);
  return s;
}

before(async () => {
  server = await start();
  base = `http://127.0.0.1:${server.port}`;
});

after(async () => {
  for (const c of clients) c.terminate();
  await Promise.all(servers.map((s) => s.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('connect, ping, and every op with its parameters: each frame both ways matches openapi.yaml', async () => {
  const c = await connected({ timeoutMs: 1500 });
  const hello = c.messages[0] as Schemas['WsConnected'];
  assert.equal(hello.timeoutMs, 1500);
  assert.equal(hello.serverId, 1);
  assert.equal(hello.zxid, server.node.lastZxid);

  const pong = c.next((m) => m.type === 'pong');
  c.send({ type: 'ping' });
  await pong;

  // create: plain, sequential with base64 data and a JSON ACL, parents with the header-form ACL, TTL, ephemeral
  const created = await ok(c, 'create', { path: '/ws', data: 'hello' });
  assert.equal(created.path, '/ws');
  assert.equal(created.stat.dataLength, 5);
  const seq = await ok(c, 'create', { path: '/ws/seq-', data: Buffer.from([0xff, 0]).toString('base64'), encoding: 'base64', mode: 'persistent_sequential', acl: [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }] });
  assert.equal(seq.path, '/ws/seq-0000000000');
  assert.equal((await ok(c, 'create', { path: '/ws/deep/er', parents: true, acl: 'world:anyone:cdrwa' })).path, '/ws/deep/er');
  await ok(c, 'create', { path: '/ws/ttl', mode: 'persistent_with_ttl', ttl: 60_000 });
  const eph = await ok(c, 'create', { path: '/ws/eph', mode: 'ephemeral' });
  assert.equal(eph.stat.ephemeralOwner, c.sessionId);

  // reads
  assert.deepEqual({ ...(await ok(c, 'get', { path: '/ws' })), stat: undefined }, { path: '/ws', data: 'hello', encoding: 'utf8', stat: undefined });
  assert.equal((await ok(c, 'get', { path: '/ws', encoding: 'base64' })).data, Buffer.from('hello').toString('base64'));
  assert.equal((await ok(c, 'get', { path: seq.path })).encoding, 'base64');
  assert.deepEqual((await ok(c, 'children', { path: '/ws' })).children, ['deep', 'eph', 'seq-0000000000', 'ttl']);
  assert.equal((await ok(c, 'exists', { path: '/ws' })).stat.version, 0);
  assert.deepEqual(await ok(c, 'exists', { path: '/ws/none' }), { stat: null });
  assert.deepEqual((await ok(c, 'getAcl', { path: '/ws' })).acl, [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }]);

  // writes
  const set = await ok(c, 'set', { path: '/ws', data: 'v1', version: 0 });
  assert.deepEqual([set.path, set.stat.version], ['/ws', 1]);
  assert.equal((await ok(c, 'set', { path: '/ws', data: 'djI=', encoding: 'base64' })).stat.dataLength, 2);
  const acl = [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }, { scheme: 'ip', id: '10.0.0.0/8', perms: 'r' }];
  const sa = await ok(c, 'setAcl', { path: '/ws', acl, aversion: 0 });
  assert.deepEqual([sa.path, sa.acl, sa.stat.aversion], ['/ws', acl, 1]);
  assert.equal((await ok(c, 'setAcl', { path: '/ws', acl, version: 1 })).stat.aversion, 2); // API.md's name for it
  const multi = await ok(c, 'multi', {
    ops: [
      { op: 'create', path: '/ws/m', data: 'x' },
      { op: 'set', path: '/ws/m', data: 'y', version: 0 },
      { op: 'check', path: '/ws/m', version: 1 },
      { op: 'delete', path: '/ws/m' },
    ],
  });
  assert.deepEqual(multi.results.map((r: { op: string }) => r.op), ['create', 'set', 'check', 'delete']);
  assert.equal((await ok(c, 'sync', {})).zxid, multi.zxid);
  assert.equal((await ok(c, 'sync', { path: '/ws' })).zxid, multi.zxid);
  assert.deepEqual(await ok(c, 'delete', { path: '/ws/ttl', version: 0 }), {});
  assert.deepEqual(await ok(c, 'delete', { path: '/ws/deep', recursive: true }), {});

  // watches
  assert.deepEqual(await ok(c, 'addWatch', { path: '/ws', mode: 'persistent' }), {});
  assert.deepEqual(await ok(c, 'addWatch', { path: '/ws', mode: 'persistent_recursive' }), {});
  assert.deepEqual(await ok(c, 'removeWatches', { path: '/ws', kind: 'persistent' }), {});
  assert.deepEqual(await ok(c, 'removeWatches', { path: '/ws' }), {});
  await ok(c, 'get', { path: '/ws', watch: true });
  await ok(c, 'children', { path: '/ws', watch: true });
  await ok(c, 'exists', { path: '/ws/later', watch: true });
  for (const kind of ['data', 'children', 'any'] as const) {
    assert.deepEqual(await ok(c, 'removeWatches', { path: kind === 'any' ? '/ws/later' : '/ws', kind }), {});
  }

  // A string id is echoed as well as a number.
  const byName = c.next((m) => m.type === 'response' && m.id === 'req-α');
  c.send({ type: 'request', id: 'req-α', op: 'exists', path: '/' });
  assert.equal(((await byName) as Schemas['WsResponseOk']).ok, true);

  // The session outlives this socket by its timeout: its ephemeral goes now, not when it
  // expires during a later test that watches the whole tree (SSE on /watch).
  assert.deepEqual(await ok(c, 'delete', { path: '/ws/eph' }), {});
  c.check();
  c.close();
});

test('events of every type, each before the response that shows its change', async () => {
  const w = await connected();
  const c = await connected();
  await ok(w, 'create', { path: '/ev', data: '0' });

  await ok(c, 'get', { path: '/ev', watch: true });
  await ok(c, 'children', { path: '/ev', watch: true });
  await ok(c, 'exists', { path: '/ev/new', watch: true });

  // c's own write: the NodeDataChanged event comes before the answer to the set.
  const setId = c.fire('set', { path: '/ev', data: '1' });
  await c.next((m) => m.type === 'response' && m.id === setId);
  const iEvent = c.messages.findIndex((m) => m.type === 'event' && m.event === 'NodeDataChanged');
  const iResponse = c.messages.findIndex((m) => m.type === 'response' && m.id === setId);
  assert.ok(iEvent >= 0 && iEvent < iResponse, JSON.stringify(c.messages.slice(-3)));

  await ok(w, 'create', { path: '/ev/new' });
  await c.waitEvents(3);
  await ok(c, 'exists', { path: '/ev/new', watch: true });
  await ok(w, 'delete', { path: '/ev/new' });
  const events = (await c.waitEvents(4)) as Schemas['WsEvent'][];
  assert.deepEqual(events.map((e) => `${e.event} ${e.path}`), [
    'NodeDataChanged /ev', 'NodeCreated /ev/new', 'NodeChildrenChanged /ev', 'NodeDeleted /ev/new',
  ]);
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.zxid >= events[i - 1]!.zxid);

  // A recursive persistent watch: NodeCreated below, never NodeChildrenChanged.
  const r = await connected();
  await ok(r, 'addWatch', { path: '/ev', mode: 'persistent_recursive' });
  await ok(w, 'create', { path: '/ev/x' });
  const [rec] = (await r.waitEvents(1)) as Schemas['WsEvent'][];
  assert.deepEqual([rec!.event, rec!.path], ['NodeCreated', '/ev/x']);

  for (const x of [w, c, r]) { x.check(); x.close(); }
});

test('failing requests: a failed multi, NoWatcher, NoNode, NodeExists, BadVersion, a bad request', async () => {
  const c = await connected();
  await ok(c, 'create', { path: '/err', data: '' });

  const m = await fails(c, 'multi', { ops: [{ op: 'check', path: '/err', version: 0 }, { op: 'create', path: '/err' }, { op: 'delete', path: '/err' }] }, 'NodeExists');
  assert.equal(m.failedOp, 1);
  assert.deepEqual(m.results, [{ error: 'Ok' }, { error: 'NodeExists' }, { error: 'RuntimeInconsistency' }]);
  const nw = await fails(c, 'removeWatches', { path: '/err', kind: 'data' }, 'NoWatcher');
  assert.equal(nw.error.path, '/err');
  assert.equal((await fails(c, 'get', { path: '/err/none' }, 'NoNode')).error.path, '/err/none');
  await fails(c, 'create', { path: '/err' }, 'NodeExists');
  await fails(c, 'set', { path: '/err', data: 'x', version: 7 }, 'BadVersion');
  await fails(c, 'delete', { path: '/' }, 'BadArguments');
  await fails(c, 'create', { path: '/err/e', mode: 'ephemeral_sequential', ttl: 5 }, 'BadArguments');
  await fails(c, 'create', { path: '/big', data: 'x'.repeat(1_048_576) }, 'PayloadTooLarge');
  await fails(c, 'create', { path: '/b64', data: '***', encoding: 'base64' }, 'BadArguments');

  // Requests the schema rejects are answered with an error response (the socket stays open).
  for (const [frame, code] of [
    [{ type: 'request', id: 'bad-op', op: 'rename', path: '/err' }, 'BadArguments'],
    [{ type: 'request', id: 'bad-path', op: 'get', path: 'relative' }, 'BadArguments'],
    [{ type: 'request', id: 'bad-watch', op: 'get', path: '/err', watch: 'yes' }, 'BadArguments'],
    [{ type: 'request', id: 'bad-mode', op: 'addWatch', path: '/err', mode: 'data' }, 'BadArguments'],
    [{ type: 'request', id: 'bad-kind', op: 'removeWatches', path: '/err', kind: 'exists' }, 'BadArguments'],
    [{ type: 'request', id: 'bad-acl', op: 'setAcl', path: '/err', acl: [] }, 'InvalidACL'],
    [{ type: 'request', id: 'bad-version', op: 'set', path: '/err', data: '', version: 'any' }, 'BadArguments'],
    [{ type: 'request', id: 'bad-ops', op: 'multi', ops: 'all' }, 'BadArguments'],
  ] as const) {
    const answer = c.next((x) => x.type === 'response' && x.id === frame.id);
    c.sendInvalid(frame);
    const r = (await answer) as Schemas['WsServerMessage'];
    assert.ok(r.type === 'response' && !r.ok && r.error.code === code, `${JSON.stringify(frame)} → ${JSON.stringify(r)}`);
  }
  assert.equal(c.closed, null);
  c.check();
  c.close();
});

test('protocol errors: an error frame, then close 1008', async () => {
  const cases: Array<[string, (c: ValidatingClient) => Promise<void> | void]> = [
    ['a request without id', async (c) => { await connectOn(c); c.sendInvalid({ type: 'request', op: 'get', path: '/' }); }],
    ['a frame that is not JSON', async (c) => { await connectOn(c); c.sendInvalid('{"type":'); }],
    ['a JSON array', (c) => c.sendInvalid([{ type: 'ping' }])],
    ['an unknown type', (c) => c.sendInvalid({ type: 'hello' })],
    ['a request before connect', (c) => c.send({ type: 'request', id: 1, op: 'exists', path: '/' })],
    ['a second connect', async (c) => { await connectOn(c); c.send({ type: 'connect' }); }],
    ['close before connect', (c) => c.send({ type: 'close' })],
    ['a connect with a malformed field', (c) => c.sendInvalid({ type: 'connect', timeoutMs: -5 })],
    ['a connect with a bad watch', (c) => c.sendInvalid({ type: 'connect', watches: [{ path: '/', kind: 'sometimes' }] })],
  ];
  for (const [name, act] of cases) {
    const c = await open();
    const err = c.next((m) => m.type === 'error');
    await act(c);
    const e = (await err) as Schemas['WsError'];
    assert.equal(e.code, 'BadArguments', name);
    assert.equal((await c.waitClose()).code, 1008, name);
    c.check();
  }
});

async function connectOn(c: ValidatingClient): Promise<void> {
  const reply = c.next((m) => m.type === 'connected');
  c.send({ type: 'connect' });
  c.sessionId = ((await reply) as Schemas['WsConnected']).sessionId;
}

test('StaleServer: resuming on a server behind the client\'s lastZxid is refused (error, close 1008)', async () => {
  const first = await connected();
  const { c, reply } = await connect({ sessionId: first.sessionId, lastZxid: server.node.lastZxid + 2 ** 33 });
  assert.equal(reply.type, 'error');
  assert.equal((reply as Schemas['WsError']).code, 'StaleServer');
  assert.equal((await c.waitClose()).code, 1008);
  // the session was not taken from the first connection
  assert.equal(first.closed, null);
  await ok(first, 'exists', { path: '/' });
  for (const x of [first, c]) x.check();
  first.close();
});

test('StaleServer: API.md — "a node that has applied less than lastZxid refuses" — holds for a connect without sessionId too', async () => {
  // API.md, WebSocket: the refusal is not limited to resumes (nor is ZooKeeper's,
  // which checks lastZxidSeen before it looks at the session id): a client whose
  // session expired must not open a new one on a server behind what it has read.
  const { c, reply } = await connect({ lastZxid: server.node.lastZxid + 2 ** 33 });
  try {
    c.check();
    assert.equal(reply.type, 'error', `expected StaleServer, got ${JSON.stringify(reply)}`);
    assert.equal((reply as Schemas['WsError']).code, 'StaleServer');
    assert.equal((await c.waitClose()).code, 1008);
  } finally {
    c.terminate();
  }
});

test('session states: Closed after {"type":"close"}, Closed after DELETE /sessions/{id}, Expired on resuming an expired session', async () => {
  const a = await connected();
  await ok(a, 'create', { path: '/st-eph', mode: 'ephemeral' });
  const closed = a.next((m) => m.type === 'state');
  a.send({ type: 'close' });
  assert.deepEqual(await closed, { type: 'state', state: 'Closed' });
  assert.equal((await a.waitClose()).code, 4000);
  assert.equal((await rest('HEAD', '/znodes/st-eph')).status, 404);
  assert.equal((await rest('GET', `/sessions/${a.sessionId}`)).status, 410);

  const b = await connected();
  const bState = b.next((m) => m.type === 'state');
  assert.equal((await rest('DELETE', `/sessions/${b.sessionId}`)).status, 204);
  assert.deepEqual(await bState, { type: 'state', state: 'Closed' });
  assert.equal((await b.waitClose()).code, 4000);

  // Expiry: the socket drops, the session outlives it by its timeout only.
  const d = await connected({ timeoutMs: 200 });
  d.terminate();
  await new Promise((r) => setTimeout(r, 800));
  const { c: late, reply } = await connect({ sessionId: d.sessionId });
  assert.deepEqual(reply, { type: 'state', state: 'Expired' });
  assert.equal((await late.waitClose()).code, 4000);

  const { c: unknown, reply: r2 } = await connect({ sessionId: '0123456789abcdef' });
  assert.deepEqual(r2, { type: 'state', state: 'Expired' });
  assert.equal((await unknown.waitClose()).code, 4000);
  for (const x of [a, b, late, unknown]) x.check();
});

test('resume elsewhere: the old connection gets 4001, re-registered watches fire what was missed', async () => {
  const a = await connected();
  await ok(a, 'create', { path: '/rs', data: '0' });
  await ok(a, 'create', { path: '/rs/p' });
  const seen = server.node.lastZxid;
  // changes the client misses while it moves
  await rest('PUT', '/znodes/rs', 'changed');
  await rest('POST', '/znodes/rs/p/kid');
  const b = await connected({
    sessionId: a.sessionId,
    lastZxid: seen,
    watches: [{ path: '/rs', kind: 'data' }, { path: '/rs/gone', kind: 'exists' }, { path: '/rs/p', kind: 'persistent' }, { path: '/rs', kind: 'children' }],
  });
  assert.equal((await a.waitClose()).code, 4001);
  const events = (await b.waitEvents(2)) as Schemas['WsEvent'][];
  assert.deepEqual(events.map((e) => `${e.event} ${e.path}`).sort(), ['NodeChildrenChanged /rs/p', 'NodeDataChanged /rs']);
  await ok(b, 'exists', { path: '/rs' });
  for (const x of [a, b]) { x.check(); }
  b.close();
});

test('slow consumer: a client that does not read is cut off with 4008, every frame it got still valid', async () => {
  const slow = await start({ clientBufferBytes: 16 * 1024 });
  const url = `http://127.0.0.1:${slow.port}`;
  const c = new ValidatingClient(url);
  await new Promise<void>((resolve) => c.ws.once('open', () => resolve()));
  await connectOn(c);
  await ok(c, 'create', { path: '/big', data: 'x'.repeat(900_000) });
  const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  for (let i = 0; i < 60; i++) c.fire('get', { path: '/big' });
  await new Promise((r) => setTimeout(r, 300));
  socket.resume();
  assert.equal((await c.waitClose(10_000)).code, 4008);
  c.check();
});

// ---- Server-Sent Events ----

/** GET with plain fetch, read SSE events until `n` arrived (or the stream ended), each validated. */
async function sse(path: string, n: number, headers: Record<string, string> = {}, during?: () => Promise<void>): Promise<{ events: SseMessage[]; parser: SseParser; status: number; contentType: string | null }> {
  const ac = new AbortController();
  const res = await fetch(base + path, { headers, signal: ac.signal });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  const parser = new SseParser();
  const events: SseMessage[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const timer = setTimeout(() => ac.abort(), 15_000);
  const pending = during?.();
  try {
    while (events.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const e of parser.push(decoder.decode(value, { stream: true }))) {
        const data = validateSseEvent(e.data, e.event);
        seenSse.add(data.type === 'event' ? `event ${data.event}` : `error ${data.code}`);
        events.push(e);
      }
    }
  } finally {
    clearTimeout(timer);
    await pending;
    ac.abort();
  }
  return { events, parser, status: res.status, contentType: res.headers.get('content-type') };
}

test('SSE: events of /watch/{path} (recursive or not) and /watch carry WsEvent data; Last-Event-ID resumes', async () => {
  await rest('POST', '/znodes/feed', 'a');
  const all = await sse('/watch/feed?recursive=true', 3, {}, async () => {
    await rest('POST', '/znodes/feed/x');
    await rest('POST', '/multi', JSON.stringify({ ops: [{ op: 'set', path: '/feed/x', data: '1' }, { op: 'delete', path: '/feed/x', version: 1 }] }));
  });
  assert.match(all.contentType ?? '', /^text\/event-stream/);
  assert.deepEqual(all.events.map((e) => e.event), ['NodeCreated', 'NodeDataChanged', 'NodeDeleted']);
  const [created, changed, deleted] = all.events.map((e) => validateSseEvent(e.data) as Schemas['WsEvent']);
  assert.equal(all.events[0]!.id, String(created!.zxid));
  assert.equal(all.events[1]!.id, undefined, 'no id inside a transaction');
  assert.equal(all.events[2]!.id, String(deleted!.zxid));
  assert.equal(changed!.zxid, deleted!.zxid);

  const self = await sse('/watch/feed', 2, {}, async () => {
    await rest('POST', '/znodes/feed/y');
    await rest('PUT', '/znodes/feed', 'b');
  });
  assert.deepEqual(self.events.map((e) => e.event), ['NodeChildrenChanged', 'NodeDataChanged']);

  // Resume after the first event: everything since is replayed from the log, by header or query.
  const since = [...all.events.slice(1).map((e) => e.data), ...self.events.map((e) => e.data).filter((d) => !d.includes('NodeChildrenChanged'))];
  const y = JSON.parse(self.events[0]!.data) as Schemas['WsEvent'];
  since.splice(2, 0, JSON.stringify({ type: 'event', event: 'NodeCreated', path: '/feed/y', zxid: y.zxid }));
  const byHeader = await sse('/watch/feed?recursive=true', 4, { 'Last-Event-ID': all.events[0]!.id! });
  assert.deepEqual(byHeader.events.map((e) => e.data), since);
  const byQuery = await sse(`/watch/feed?recursive=true&lastEventId=${all.events[0]!.id!}`, 4);
  assert.deepEqual(byQuery.events.map((e) => e.data), since);
  // Resuming from the last id seen replays nothing.
  const last = byHeader.events.at(-1)!.id!;
  const none = await sse('/watch/feed?recursive=true', 1, { 'Last-Event-ID': last }, async () => { await rest('PUT', '/znodes/feed', 'c'); });
  assert.deepEqual(none.events.map((e) => e.event), ['NodeDataChanged']);
  assert.ok(Number(none.events[0]!.id) > Number(last));

  const root = await sse('/watch?recursive=true', 1, {}, async () => { await rest('POST', '/znodes/feed/z'); });
  assert.equal((validateSseEvent(root.events[0]!.data) as Schemas['WsEvent']).path, '/feed/z');
});

test('SSE: a resume the log no longer covers is one `event: error` with code Compacted', async () => {
  const own = await start();
  const url = `http://127.0.0.1:${own.port}`;
  await fetch(`${url}/znodes/c`, { method: 'POST' });
  const early = own.node.lastZxid;
  await fetch(`${url}/znodes/c`, { method: 'PUT', body: '1' });
  await own.node.startSnapshot();
  await fetch(`${url}/znodes/c`, { method: 'PUT', body: '2' });
  const res = await fetch(`${url}/watch/c`, { headers: { 'last-event-id': String(early - 1) } });
  assert.equal(res.status, 200);
  const parser = new SseParser();
  const events = parser.push(await res.text()); // the stream ends after the error
  assert.equal(events.length, 1, JSON.stringify(events));
  assert.equal(events[0]!.event, 'error');
  const data = validateSseEvent(events[0]!.data, 'error');
  assert.deepEqual([data.type, (data as Schemas['SseError']).code], ['error', 'Compacted']);
  seenSse.add('error Compacted');
});

test('WebSocket: a resume with persistent watches that the log no longer covers gets `compacted`, no partial replay, and live events after', async () => {
  const own = await start();
  const url = `http://127.0.0.1:${own.port}`;
  const sock = async (hello: Omit<Schemas['WsConnect'], 'type'>) => {
    const c = new ValidatingClient(url);
    await new Promise<void>((resolve, reject) => { c.ws.once('open', () => resolve()); c.ws.once('error', reject); });
    const reply = c.next((m) => m.type === 'connected' || m.type === 'error' || m.type === 'state');
    c.send({ type: 'connect', ...hello });
    const m = (await reply) as Schemas['WsServerMessage'];
    assert.equal(m.type, 'connected', JSON.stringify(m));
    return { c, m: m as Schemas['WsConnected'] };
  };
  const { c: a, m: hello } = await sock({});
  await fetch(`${url}/znodes/pc`, { method: 'POST' });
  const seen = own.node.lastZxid;
  a.close();
  for (let i = 0; i < 5; i++) await fetch(`${url}/znodes/pc/n${i}`, { method: 'POST' }); // missed
  await own.node.startSnapshot(); // and purged behind the snapshot
  await fetch(`${url}/znodes/pc/after-snapshot`, { method: 'POST' }); // still in the log: must not be replayed alone
  const { c: b } = await sock({ sessionId: hello.sessionId, lastZxid: seen, watches: [{ path: '/pc', kind: 'persistent_recursive' }] });
  const notice = (await b.waitFor((m) => m.type === 'compacted')) as Schemas['WsCompacted'];
  assert.equal(notice.lastZxid, seen);
  await fetch(`${url}/znodes/pc/live`, { method: 'POST' });
  const events = await b.waitEvents(1);
  await ok(b, 'exists', { path: '/pc' }); // a response after: every event before it has arrived
  assert.deepEqual(b.events().map((e) => `${(e as Schemas['WsEvent']).event} ${(e as Schemas['WsEvent']).path}`), ['NodeCreated /pc/live'], JSON.stringify(events));
  b.check();
  b.close();
});

test('the schemas reject drift (so passing above means something)', () => {
  const stat = { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: null, dataLength: 0, numChildren: 0 };
  validateWsMessage('server', { type: 'response', id: 1, zxid: 5, ok: true, result: { path: '/a', stat } });
  const bad: Array<['client' | 'server', unknown, RegExp]> = [
    ['client', { type: 'request', id: 1, op: 'set', path: '/a', verison: 3 }, /additional properties/],
    ['client', { type: 'request', id: null, op: 'get', path: '/a' }, /id/],
    ['client', { type: 'request', id: 1, op: 'addWatch', path: '/a' }, /mode/],
    ['client', { type: 'connect', sessionId: 'abc' }, /pattern/],
    ['client', { type: 'ping', extra: 1 }, /additional properties/],
    ['server', { type: 'response', id: 1, zxid: 5, ok: true, result: { path: '/a', stat, extra: 1 } }, /WsResponseOk/],
    ['server', { type: 'response', id: 1, zxid: 5, ok: true, result: { stat: { ...stat, version: 'x' } } }, /WsResponseOk/],
    ['server', { type: 'response', id: 1, zxid: 5, ok: false, error: { code: 'StaleServer', message: '' } }, /allowed values/],
    ['server', { type: 'response', id: 1, zxid: 5, ok: false, error: { code: 'NoNode', message: '' }, failedOp: 0 }, /results/],
    ['server', { type: 'event', event: 'NodeRenamed', path: '/a', zxid: 1 }, /allowed values/],
    ['server', { type: 'event', event: 'NodeCreated', path: '/a', zxid: 1, data: 'x' }, /additional properties/],
    ['server', { type: 'state', state: 'Disconnected' }, /allowed values/],
    ['server', { type: 'error', code: 'Compacted', message: '' }, /StaleServer/],
    ['server', { type: 'connected', sessionId: 'x', timeoutMs: 1, serverId: 1, zxid: 0 }, /pattern/],
    ['server', { type: 'pong', at: 1 }, /additional properties/],
  ];
  for (const [direction, msg, re] of bad) {
    assert.throws(() => validateWsMessage(direction as 'client', msg), re, JSON.stringify(msg));
  }
  assert.throws(() => validateSseEvent({ type: 'error', code: 'StaleServer', message: '' }), /allowed values/);
  assert.throws(() => validateSseEvent({ type: 'event', event: 'NodeCreated', path: '/a', zxid: 1 }, 'NodeDeleted'), /name must be/);
  assert.throws(() => validateSseEvent('not json'), /not JSON/);
});

test('every client message kind and op was sent, every server message kind and SSE event seen', () => {
  for (const c of clients) c.check();
  const ops = ['create', 'get', 'children', 'exists', 'set', 'delete', 'multi', 'sync', 'getAcl', 'setAcl', 'addWatch', 'removeWatches'];
  const wantClient = ['connect', 'ping', 'close', ...ops.map((o) => `request ${o}`)];
  assert.deepEqual(wantClient.filter((k) => !seenClient.has(k)), [], 'client messages never sent');
  const wantServer = [
    'connected', 'compacted', 'pong', 'response ok', 'response error', 'state Closed', 'state Expired', 'error BadArguments', 'error StaleServer',
    'event NodeCreated', 'event NodeDeleted', 'event NodeDataChanged', 'event NodeChildrenChanged',
  ];
  assert.deepEqual(wantServer.filter((k) => !seenServer.has(k)), [], 'server messages never received');
  const wantSse = ['event NodeCreated', 'event NodeDeleted', 'event NodeDataChanged', 'event NodeChildrenChanged', 'error Compacted'];
  assert.deepEqual(wantSse.filter((k) => !seenSse.has(k)), [], 'SSE events never received');
});
