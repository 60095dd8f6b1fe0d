/**
 * The server against openapi.yaml: a real server on a free port, driven only
 * through the client generated from the spec (openapi-typescript types +
 * openapi-fetch), every operation and the error cases of API.md's table. Each
 * answer's status is asserted, its body and headers validated against the
 * spec, and its Zoogate-Zxid checked; the last test fails when an operation of
 * the spec was never exercised. `GET /ws` (a WebSocket upgrade) and the
 * Server-Sent Events of `GET /watch/…` are HTTP too and are exercised here at
 * the HTTP level; their messages are checked in ws-schema.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createClient from 'openapi-fetch';
import type { components, paths } from '../../api/generated/openapi.ts';
import { loadConfig, type ServerConfig } from '../../api/config.ts';
import { startServer } from '../../api/start.ts';
import type { RunningServer } from '../../api/app.ts';
import { digestOf } from '../../api/http-util.ts';
import {
  declaredStatuses, listOperations, OPENAPI_PATH, spec, SseParser, type SseMessage, validateHeaders, validateResponse, validateSchema, validateSseEvent,
} from '../support/openapi-validator.ts';

type Stat = components['schemas']['Stat'];
type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
type Client = ReturnType<typeof createClient<paths>>;

interface Outcome {
  response: Response;
  data?: unknown;
  error?: unknown;
}

const dirs: string[] = [];
const servers: RunningServer[] = [];
let api: Client;
let baseUrl: string;
/** A server that throttles every write (maxOutstandingRequests 0), for 429. */
let throttled: Client;
/** Every `METHOD /template` exercised, with the statuses seen. */
const exercised = new Map<string, Set<number>>();

async function start(overrides: Partial<ServerConfig>): Promise<Client> {
  const dataDir = mkdtempSync(join(tmpdir(), 'zoogate-openapi-'));
  dirs.push(dataDir);
  const server = await startServer(loadConfig([], {}, { port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent', ...overrides }));
  servers.push(server);
  return createClient<paths>({ baseUrl: `http://127.0.0.1:${server.port}` });
}

before(async () => {
  api = await start({ minZxidWaitMs: 100 });
  baseUrl = `http://127.0.0.1:${servers[0]!.port}`;
  throttled = await start({ maxOutstandingRequests: 0 });
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Awaits a call made with the generated client and checks it against the
 * spec: the expected status, Zoogate-Zxid present and a zxid, the declared
 * headers, and the body (data on 2xx, error otherwise).
 */
async function expect<R extends Outcome>(method: Method, template: string, status: number, request: Promise<R>): Promise<R & { body: unknown; zxid: number }> {
  const r = await request;
  const body = r.response.ok ? r.data : r.error;
  assert.equal(r.response.status, status, `${method} ${template}: expected ${status}, got ${r.response.status}: ${JSON.stringify(body)}`);
  const zxidHeader = r.response.headers.get('zoogate-zxid');
  assert.ok(zxidHeader !== null && /^\d+$/.test(zxidHeader), `${method} ${template} → ${status}: Zoogate-Zxid missing or not a zxid (${zxidHeader})`);
  validateHeaders(method, template, status, r.response.headers);
  validateResponse(method, template, status, body, r.response.headers.get('content-type'));
  markExercised(method, template, status);
  return Object.assign(r, { body, zxid: Number(zxidHeader) });
}

function markExercised(method: string, template: string, status: number): void {
  let seen = exercised.get(`${method} ${template}`);
  if (seen === undefined) exercised.set(`${method} ${template}`, (seen = new Set()));
  seen.add(status);
}

/** A request made with plain fetch (for what the generated client must not or cannot send), as an Outcome. */
async function rawFetch(method: string, path: string, init: RequestInit = {}): Promise<Outcome> {
  const response = await fetch(baseUrl + path, { ...init, method });
  const text = await response.text();
  const parsed = text === '' ? undefined : (response.headers.get('content-type') ?? '').startsWith('application/json') ? JSON.parse(text) as unknown : text;
  return response.ok ? { response, data: parsed } : { response, error: parsed };
}

/**
 * An open Server-Sent Events stream (a 200 from the generated client with
 * parseAs: 'stream'), checked against the spec once it has been read: its
 * headers, the text received as the declared text/event-stream body, and
 * each event's data against SseEventData.
 */
async function expectStream(template: string, request: Promise<{ response: Response; data?: unknown; error?: unknown }>) {
  const r = await request;
  assert.equal(r.response.status, 200, `GET ${template}: expected 200, got ${r.response.status}: ${JSON.stringify(r.error)}`);
  const zxid = Number(r.response.headers.get('zoogate-zxid'));
  validateHeaders('GET', template, 200, r.response.headers);
  const reader = (r.data as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  const events: SseMessage[] = [];
  let text = '';
  let ended = false;
  return {
    zxid,
    parser,
    events,
    /** Reads until `n` events have arrived in all (or the stream ends). */
    async take(n: number, timeoutMs = 5000): Promise<SseMessage[]> {
      const timer = setTimeout(() => void reader.cancel(), timeoutMs);
      try {
        while (events.length < n && !ended) {
          const { value, done } = await reader.read();
          if (done) { ended = true; break; }
          const chunk = decoder.decode(value, { stream: true });
          text += chunk;
          for (const e of parser.push(chunk)) {
            validateSseEvent(e.data, e.event);
            events.push(e);
          }
        }
      } finally {
        clearTimeout(timer);
      }
      assert.ok(events.length >= n, `GET ${template}: expected ${n} events, got ${JSON.stringify(events)}`);
      return events;
    },
    get ended() { return ended; },
    async close(): Promise<void> {
      await reader.cancel();
      validateResponse('GET', template, 200, text, r.response.headers.get('content-type'));
      markExercised('GET', template, 200);
    },
  };
}

/** A WebSocket handshake (or an attempt) on GET /ws with node:http, which reports a 101 as 'upgrade'. */
function upgradeRequest(headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${baseUrl}/ws`, { headers });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Options for a request whose body is raw data bytes (not JSON). */
function raw(contentType = 'application/octet-stream') {
  return { bodySerializer: (b: unknown) => b, headers: { 'content-type': contentType } };
}

function errorCode(body: unknown): string {
  return (body as { error: { code: string } }).error.code;
}

const p = (path: string) => ({ path: { path } });
const basic = (userPassword: string) => ({ authorization: `Basic ${Buffer.from(userPassword).toString('base64')}` });

test('operations: health, readiness, cluster and the spec itself', async () => {
  const h = await expect('GET', '/health', 200, api.GET('/health', { parseAs: 'text' }));
  assert.equal(h.body, 'imok');
  await expect('HEAD', '/health', 200, api.HEAD('/health'));

  const r = await expect('GET', '/ready', 200, api.GET('/ready'));
  assert.deepEqual(r.body, { ready: true, state: 'LEADING' });
  await expect('HEAD', '/ready', 200, api.HEAD('/ready'));

  const c = await expect('GET', '/cluster', 200, api.GET('/cluster'));
  const cluster = c.body as components['schemas']['Cluster'];
  assert.equal(cluster.leaderId, cluster.serverId);
  assert.equal(cluster.lastZxid, c.zxid);
  assert.equal(cluster.members.length, 1);

  const ruok = await expect('GET', '/commands/{name}', 200, api.GET('/commands/{name}', { params: { path: { name: 'ruok' } } }));
  assert.deepEqual(ruok.body, { command: 'ruok', error: null });
  const hash1 = await expect('GET', '/commands/{name}', 200, api.GET('/commands/{name}', { params: { path: { name: 'hash' } } }));
  const hash2 = await expect('GET', '/commands/{name}', 200, api.GET('/commands/{name}', { params: { path: { name: 'hash' } } }));
  const d1 = hash1.body as { digest: string; zxid: number };
  assert.equal(d1.digest, (hash2.body as { digest: string }).digest, 'the same state gives the same digest');
  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { path: { path: 'hash-changer' } }, body: 'x' as never, bodySerializer: (b: unknown) => b as string }));
  const hash3 = await expect('GET', '/commands/{name}', 200, api.GET('/commands/{name}', { params: { path: { name: 'hash' } } }));
  assert.notEqual((hash3.body as { digest: string }).digest, d1.digest, 'a change changes the digest');
  await expect('GET', '/commands/{name}', 404, api.GET('/commands/{name}', { params: { path: { name: 'nope' as never } } }));
  for (const name of ['srvr', 'stat', 'mntr', 'conf', 'cons', 'wchs', 'wchc', 'wchp', 'dump', 'envi'] as const) {
    const r = await expect('GET', '/commands/{name}', 200, api.GET('/commands/{name}', { params: { path: { name } } }));
    assert.equal((r.body as { command: string }).command, name);
  }
  const m = await expect('GET', '/metrics', 200, api.GET('/metrics', { parseAs: 'text' }));
  assert.match(m.body as string, /^zoogate_znodes \d+$/m);

  const o = await expect('GET', '/openapi.yaml', 200, api.GET('/openapi.yaml', { parseAs: 'text' }));
  assert.equal(o.body, readFileSync(OPENAPI_PATH, 'utf8'));
  assert.match(o.response.headers.get('content-type') ?? '', /^application\/yaml/);
});

test('the root: /znodes and /znodes/', async () => {
  const g = await expect('GET', '/znodes', 200, api.GET('/znodes'));
  assert.equal((g.body as components['schemas']['ZnodeData']).path, '/');
  const ls = await expect('GET', '/znodes', 200, api.GET('/znodes', { params: { query: { children: true } } }));
  assert.ok((ls.body as components['schemas']['ZnodeChildren']).children.includes('zookeeper'));
  await expect('GET', '/znodes', 200, api.GET('/znodes', { params: { query: { acl: true } } }));
  // `/znodes/` is the root too (the {path} template with an empty path).
  const slash = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: p('') }));
  assert.equal((slash.body as components['schemas']['ZnodeData']).path, '/');

  const head = await expect('HEAD', '/znodes', 200, api.HEAD('/znodes'));
  assert.equal((JSON.parse(head.response.headers.get('zoogate-stat')!) as Stat).czxid, 0);

  const set = await expect('PUT', '/znodes', 200, api.PUT('/znodes', { body: 'root data', ...raw('text/plain') }));
  assert.equal((set.body as components['schemas']['ZnodeSet']).stat.version, 1);

  const seq = await expect('POST', '/znodes', 201, api.POST('/znodes', { params: { query: { mode: 'persistent_sequential' } }, body: '', ...raw() }));
  const created = seq.body as components['schemas']['ZnodeCreated'];
  assert.match(created.path, /^\/\d{10}$/);
  assert.equal(seq.response.headers.get('location'), `/znodes${created.path}`);
  const exists = await expect('POST', '/znodes', 409, api.POST('/znodes', { body: '', ...raw() }));
  assert.equal(errorCode(exists.body), 'NodeExists');

  const del = await expect('DELETE', '/znodes', 400, api.DELETE('/znodes'));
  assert.equal(errorCode(del.body), 'BadArguments');
});

test('create: modes, parents, sequential prefixes, ACL header, percent-encoded paths', async () => {
  const c = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: p('conf'), body: 'hello', ...raw() }));
  const created = c.body as components['schemas']['ZnodeCreated'];
  assert.equal(created.path, '/conf');
  assert.equal(created.stat.dataLength, 5);
  assert.equal(created.stat.czxid, c.zxid);
  assert.equal(c.response.headers.get('location'), '/znodes/conf');

  // Any content type is data.
  const j = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: p('conf/json'), body: '{"a":1}', ...raw('application/json') }));
  assert.equal((j.body as components['schemas']['ZnodeCreated']).stat.dataLength, 7);

  const q1 = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('queue/'), query: { mode: 'persistent_sequential', parents: true } }, body: 'job', ...raw() }));
  assert.equal((q1.body as components['schemas']['ZnodeCreated']).path, '/queue/0000000000');
  const q2 = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('queue/job-'), query: { mode: 'persistent_sequential' } }, body: '', ...raw() }));
  assert.equal((q2.body as components['schemas']['ZnodeCreated']).path, '/queue/job-0000000001');
  assert.equal(q2.response.headers.get('location'), '/znodes/queue/job-0000000001');

  const deep = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('deep/er/node'), query: { parents: true } }, body: 'x', ...raw() }));
  assert.equal((deep.body as components['schemas']['ZnodeCreated']).path, '/deep/er/node');
  await expect('HEAD', '/znodes/{path}', 200, api.HEAD('/znodes/{path}', { params: p('deep/er') }));

  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('ttl'), query: { mode: 'persistent_with_ttl', ttl: 60_000 } }, body: '', ...raw() }));
  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('ttl/'), query: { mode: 'persistent_sequential_with_ttl', ttl: 60_000 } }, body: '', ...raw() }));
  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('lock'), query: { mode: 'container' } }, body: '', ...raw() }));

  const uni = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: p('conf/ünï cødé'), body: '', ...raw() }));
  assert.equal((uni.body as components['schemas']['ZnodeCreated']).path, '/conf/ünï cødé');
  assert.equal(uni.response.headers.get('location'), '/znodes/conf/' + encodeURIComponent('ünï cødé'));
  await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: p('conf/ünï cødé') }));

  const ro = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('readonly'), header: { 'Zoogate-Acl': 'world:anyone:r' } }, body: 'ro', ...raw() }));
  assert.equal((ro.body as components['schemas']['ZnodeCreated']).stat.aversion, 0);
  const acl = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('readonly'), query: { acl: true } } }));
  assert.deepEqual((acl.body as components['schemas']['ZnodeAcl']).acl, [{ scheme: 'world', id: 'anyone', perms: 'r' }]);
});

test('create: error cases', async () => {
  const exists = await expect('POST', '/znodes/{path}', 409, api.POST('/znodes/{path}', { params: p('conf'), body: 'again', ...raw() }));
  assert.deepEqual((exists.body as components['schemas']['Error']).error.code, 'NodeExists');
  assert.equal((exists.body as components['schemas']['Error']).error.path, '/conf');

  const noParent = await expect('POST', '/znodes/{path}', 404, api.POST('/znodes/{path}', { params: p('missing/child'), body: '', ...raw() }));
  assert.equal(errorCode(noParent.body), 'NoNode');

  const badPath = await expect('POST', '/znodes/{path}', 400, api.POST('/znodes/{path}', { params: p('trailing/'), body: '', ...raw() }));
  assert.equal(errorCode(badPath.body), 'BadArguments');

  const ttlWrongMode = await expect('POST', '/znodes/{path}', 400, api.POST('/znodes/{path}', { params: { ...p('t1'), query: { ttl: 1000 } }, body: '', ...raw() }));
  assert.equal(errorCode(ttlWrongMode.body), 'BadArguments');
  const ttlMissing = await expect('POST', '/znodes/{path}', 400, api.POST('/znodes/{path}', { params: { ...p('t2'), query: { mode: 'persistent_with_ttl' } }, body: '', ...raw() }));
  assert.equal(errorCode(ttlMissing.body), 'BadArguments');
  const noSession = await expect('POST', '/znodes/{path}', 400, api.POST('/znodes/{path}', { params: { ...p('eph'), query: { mode: 'ephemeral' } }, body: '', ...raw() }));
  assert.equal(errorCode(noSession.body), 'BadArguments');

  const badAcl = await expect('POST', '/znodes/{path}', 400, api.POST('/znodes/{path}', { params: { ...p('acl1'), header: { 'Zoogate-Acl': 'world:anyone:xyz' } }, body: '', ...raw() }));
  assert.equal(errorCode(badAcl.body), 'InvalidACL');
  const authNoCreds = await expect('POST', '/znodes/{path}', 400, api.POST('/znodes/{path}', { params: { ...p('acl2'), header: { 'Zoogate-Acl': 'auth::cdrwa' } }, body: '', ...raw() }));
  assert.equal(errorCode(authNoCreds.body), 'InvalidACL');

  const denied = await expect('POST', '/znodes/{path}', 403, api.POST('/znodes/{path}', { params: p('readonly/child'), body: '', ...raw() }));
  assert.equal(errorCode(denied.body), 'NoAuth');

  // Exactly the limit is fine; one byte more is 413, for create and set alike.
  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: p('max'), body: 'x'.repeat(1_048_575), ...raw() }));
  const big = await expect('POST', '/znodes/{path}', 413, api.POST('/znodes/{path}', { params: p('big'), body: 'x'.repeat(1_048_576), ...raw() }));
  assert.equal(errorCode(big.body), 'PayloadTooLarge');
  await expect('HEAD', '/znodes/{path}', 404, api.HEAD('/znodes/{path}', { params: p('big') }));
});

test('read: data encodings, raw bytes, children, ACL, exists', async () => {
  const g = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: p('conf') }));
  assert.deepEqual({ ...(g.body as components['schemas']['ZnodeData']), stat: undefined }, { path: '/conf', data: 'hello', encoding: 'utf8', stat: undefined });

  const b64 = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('conf'), query: { encoding: 'base64' } } }));
  assert.equal((b64.body as components['schemas']['ZnodeData']).data, Buffer.from('hello').toString('base64'));
  assert.equal((b64.body as components['schemas']['ZnodeData']).encoding, 'base64');

  const bytes = Uint8Array.from([0xff, 0xfe, 0x00, 0x80]);
  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: p('binary'), body: bytes as unknown as string, ...raw() }));
  const bin = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: p('binary') }));
  assert.equal((bin.body as components['schemas']['ZnodeData']).encoding, 'base64');
  assert.equal((bin.body as components['schemas']['ZnodeData']).data, Buffer.from(bytes).toString('base64'));

  const rawRead = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: p('binary'), headers: { accept: 'application/octet-stream' }, parseAs: 'arrayBuffer' }));
  assert.deepEqual(new Uint8Array(rawRead.body as ArrayBuffer), bytes);
  assert.equal(rawRead.response.headers.get('content-type'), 'application/octet-stream');
  const rawStat = JSON.parse(rawRead.response.headers.get('zoogate-stat') ?? 'null') as Stat;
  validateSchema('Stat', rawStat);
  assert.equal(rawStat.dataLength, 4);

  const ls = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('queue'), query: { children: true } } }));
  assert.deepEqual((ls.body as components['schemas']['ZnodeChildren']).children, ['0000000000', 'job-0000000001']);
  assert.equal((ls.body as components['schemas']['ZnodeChildren']).stat.numChildren, 2);

  const acl = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('conf'), query: { acl: true } } }));
  assert.deepEqual((acl.body as components['schemas']['ZnodeAcl']).acl, [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }]);

  const head = await expect('HEAD', '/znodes/{path}', 200, api.HEAD('/znodes/{path}', { params: p('conf') }));
  assert.deepEqual(JSON.parse(head.response.headers.get('zoogate-stat')!), (g.body as components['schemas']['ZnodeData']).stat);

  const synced = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('conf'), query: { sync: true } } }));
  assert.equal((synced.body as components['schemas']['ZnodeData']).data, 'hello');
  await expect('HEAD', '/znodes/{path}', 200, api.HEAD('/znodes/{path}', { params: { ...p('conf'), query: { sync: true } } }));
});

test('read: error cases', async () => {
  const missing = await expect('GET', '/znodes/{path}', 404, api.GET('/znodes/{path}', { params: p('nope') }));
  assert.deepEqual((missing.body as components['schemas']['Error']).error.path, '/nope');
  await expect('HEAD', '/znodes/{path}', 404, api.HEAD('/znodes/{path}', { params: p('nope') }));

  for (const bad of ['a//b', 'a/./b', 'a/../b', 'x\u0001y', 'trailing/']) {
    const r = await expect('GET', '/znodes/{path}', 400, api.GET('/znodes/{path}', { params: p(bad) }));
    assert.equal(errorCode(r.body), 'BadArguments', bad);
  }
  await expect('HEAD', '/znodes/{path}', 400, api.HEAD('/znodes/{path}', { params: p('a//b') }));

  const both = await expect('GET', '/znodes/{path}', 400, api.GET('/znodes/{path}', { params: { ...p('conf'), query: { acl: true, children: true } } }));
  assert.equal(errorCode(both.body), 'BadArguments');
  const unknownParam = await expect('GET', '/znodes/{path}', 400, api.GET('/znodes/{path}', { params: { ...p('conf'), query: { chldren: true } as unknown as { children: boolean } } }));
  assert.match((unknownParam.body as components['schemas']['Error']).error.message, /chldren/);
  const badEncoding = await expect('GET', '/znodes/{path}', 400, api.GET('/znodes/{path}', { params: { ...p('conf'), query: { encoding: 'hex' as 'utf8' } } }));
  assert.equal(errorCode(badEncoding.body), 'BadArguments');
  // A watch needs a session with a live WebSocket.
  const watch = await expect('GET', '/znodes/{path}', 400, api.GET('/znodes/{path}', { params: { ...p('conf'), query: { watch: true } } }));
  assert.equal(errorCode(watch.body), 'BadArguments');

  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('secret'), header: { 'Zoogate-Acl': 'digest:' + digestOf('alice:pw') + ':cdrwa' } }, body: 's', ...raw() }));
  const denied = await expect('GET', '/znodes/{path}', 403, api.GET('/znodes/{path}', { params: p('secret') }));
  assert.equal(errorCode(denied.body), 'NoAuth');
  const badAuth = await expect('GET', '/znodes/{path}', 401, api.GET('/znodes/{path}', { params: p('secret'), headers: { authorization: 'Basic !!!' } }));
  assert.equal(errorCode(badAuth.body), 'AuthFailed');
});

test('authentication: digest identities and masked ACLs', async () => {
  const hash = digestOf('alice:pw');
  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('shared'), header: { 'Zoogate-Acl': `world:anyone:r,digest:${hash}:cdrwa` } }, body: 'v1', ...raw() }));
  const masked = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('shared'), query: { acl: true } } }));
  assert.deepEqual((masked.body as components['schemas']['ZnodeAcl']).acl[1], { scheme: 'digest', id: 'alice:x', perms: 'cdrwa' });
  const full = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('shared'), query: { acl: true } }, headers: basic('alice:pw') }));
  assert.deepEqual((full.body as components['schemas']['ZnodeAcl']).acl[1], { scheme: 'digest', id: hash, perms: 'cdrwa' });
  await expect('PUT', '/znodes/{path}', 403, api.PUT('/znodes/{path}', { params: p('shared'), body: 'v2', ...raw() }));
  await expect('PUT', '/znodes/{path}', 200, api.PUT('/znodes/{path}', { params: p('shared'), body: 'v2', ...raw(), headers: { 'content-type': 'application/octet-stream', ...basic('alice:pw') } }));
  await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: p('secret'), headers: basic('alice:pw') }));
});

test('set: data and ACL, with versions', async () => {
  const s = await expect('PUT', '/znodes/{path}', 200, api.PUT('/znodes/{path}', { params: { ...p('conf'), query: { version: 0 } }, body: 'v1', ...raw() }));
  const set = s.body as components['schemas']['ZnodeSet'];
  assert.equal(set.path, '/conf');
  assert.equal(set.stat.version, 1);
  assert.equal(set.stat.mzxid, s.zxid);

  const stale = await expect('PUT', '/znodes/{path}', 412, api.PUT('/znodes/{path}', { params: { ...p('conf'), query: { version: 0 } }, body: 'v2', ...raw() }));
  assert.equal(errorCode(stale.body), 'BadVersion');
  await expect('PUT', '/znodes/{path}', 200, api.PUT('/znodes/{path}', { params: { ...p('conf'), query: { version: -1 } }, body: 'v2', ...raw() }));

  const missing = await expect('PUT', '/znodes/{path}', 404, api.PUT('/znodes/{path}', { params: p('nope'), body: 'x', ...raw() }));
  assert.equal(errorCode(missing.body), 'NoNode');
  const ro = await expect('PUT', '/znodes/{path}', 403, api.PUT('/znodes/{path}', { params: p('readonly'), body: 'x', ...raw() }));
  assert.equal(errorCode(ro.body), 'NoAuth');
  const big = await expect('PUT', '/znodes/{path}', 413, api.PUT('/znodes/{path}', { params: p('conf'), body: 'x'.repeat(1_048_576), ...raw() }));
  assert.equal(errorCode(big.body), 'PayloadTooLarge');
  const badPath = await expect('PUT', '/znodes/{path}', 400, api.PUT('/znodes/{path}', { params: p('a//b'), body: 'x', ...raw() }));
  assert.equal(errorCode(badPath.body), 'BadArguments');

  const acl: components['schemas']['AclList'] = [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }, { scheme: 'ip', id: '10.0.0.0/8', perms: 'a' }];
  const a = await expect('PUT', '/znodes/{path}', 200, api.PUT('/znodes/{path}', { params: { ...p('conf'), query: { acl: true, aversion: 0 } }, body: acl }));
  assert.deepEqual((a.body as components['schemas']['ZnodeAcl']).acl, acl);
  assert.equal((a.body as components['schemas']['ZnodeAcl']).stat.aversion, 1);
  const staleAcl = await expect('PUT', '/znodes/{path}', 412, api.PUT('/znodes/{path}', { params: { ...p('conf'), query: { acl: true, aversion: 0 } }, body: acl }));
  assert.equal(errorCode(staleAcl.body), 'BadVersion');
  const badPerms = await expect('PUT', '/znodes/{path}', 400, api.PUT('/znodes/{path}', { params: { ...p('conf'), query: { acl: true } }, body: [{ scheme: 'world', id: 'anyone', perms: 'xyz' }] }));
  assert.equal(errorCode(badPerms.body), 'InvalidACL');
  const empty = await expect('PUT', '/znodes/{path}', 400, api.PUT('/znodes/{path}', { params: { ...p('conf'), query: { acl: true } }, body: [] as unknown as components['schemas']['AclList'] }));
  assert.equal(errorCode(empty.body), 'InvalidACL');
  const noAdmin = await expect('PUT', '/znodes/{path}', 403, api.PUT('/znodes/{path}', { params: { ...p('readonly'), query: { acl: true } }, body: acl }));
  assert.equal(errorCode(noAdmin.body), 'NoAuth');
});

test('delete: versions, children, recursion, special paths', async () => {
  await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('tree/a/b'), query: { parents: true } }, body: '', ...raw() }));
  await expect('PUT', '/znodes/{path}', 200, api.PUT('/znodes/{path}', { params: p('tree'), body: 'changed', ...raw() }));

  // BadVersion wins over NotEmpty, as in ZooKeeper.
  const stale = await expect('DELETE', '/znodes/{path}', 412, api.DELETE('/znodes/{path}', { params: { ...p('tree'), query: { version: 0 } } }));
  assert.equal(errorCode(stale.body), 'BadVersion');
  const notEmpty = await expect('DELETE', '/znodes/{path}', 409, api.DELETE('/znodes/{path}', { params: { ...p('tree'), query: { version: 1 } } }));
  assert.equal(errorCode(notEmpty.body), 'NotEmpty');
  // A typo in a parameter must not turn a conditional delete into an unconditional one.
  const typo = await expect('DELETE', '/znodes/{path}', 400, api.DELETE('/znodes/{path}', { params: { ...p('tree/a/b'), query: { verison: 7 } as unknown as { version: number } } }));
  assert.equal(errorCode(typo.body), 'BadArguments');
  await expect('HEAD', '/znodes/{path}', 200, api.HEAD('/znodes/{path}', { params: p('tree/a/b') }));

  await expect('DELETE', '/znodes/{path}', 204, api.DELETE('/znodes/{path}', { params: { ...p('tree/a/b'), query: { version: 0 } } }));
  await expect('DELETE', '/znodes/{path}', 204, api.DELETE('/znodes/{path}', { params: { ...p('tree'), query: { recursive: true, version: 1 } } }));
  await expect('HEAD', '/znodes/{path}', 404, api.HEAD('/znodes/{path}', { params: p('tree/a') }));

  const missing = await expect('DELETE', '/znodes/{path}', 404, api.DELETE('/znodes/{path}', { params: p('tree') }));
  assert.equal(errorCode(missing.body), 'NoNode');
  for (const special of ['zookeeper', 'zookeeper/config', 'zookeeper/quota']) {
    const r = await expect('DELETE', '/znodes/{path}', 400, api.DELETE('/znodes/{path}', { params: p(special) }));
    assert.equal(errorCode(r.body), 'BadArguments', special);
  }
  const denied = await expect('DELETE', '/znodes/{path}', 403, api.DELETE('/znodes/{path}', { params: p('readonly/x') }));
  assert.equal(errorCode(denied.body), 'NoAuth');
});

test('sessions: open, keepalive, info, ephemerals, close, expiry codes', async () => {
  const o = await expect('POST', '/sessions', 201, api.POST('/sessions', { body: { timeoutMs: 30_000 } }));
  const session = o.body as components['schemas']['Session'];
  assert.equal(o.response.headers.get('location'), `/sessions/${session.sessionId}`);
  assert.ok(session.timeoutMs >= 4_000 && session.timeoutMs <= 40_000);
  const d = await expect('POST', '/sessions', 201, api.POST('/sessions'));
  const dflt = d.body as components['schemas']['Session'];
  const clamped = await expect('POST', '/sessions', 201, api.POST('/sessions', { body: { timeoutMs: 1 } }));
  assert.equal((clamped.body as components['schemas']['Session']).timeoutMs, 4_000);
  const badBody = await expect('POST', '/sessions', 400, api.POST('/sessions', { body: { timeoutMs: 'soon' } as unknown as { timeoutMs: number } }));
  assert.equal(errorCode(badBody.body), 'BadArguments');

  const id = session.sessionId;
  const e = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('members/m1'), query: { mode: 'ephemeral', parents: true }, header: { 'Zoogate-Session': id } }, body: 'up', ...raw() }));
  assert.equal((e.body as components['schemas']['ZnodeCreated']).stat.ephemeralOwner, id);
  const es = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: { ...p('members/m-'), query: { mode: 'ephemeral_sequential', session: id } }, body: '', ...raw() }));
  const seqPath = (es.body as components['schemas']['ZnodeCreated']).path;
  assert.match(seqPath, /^\/members\/m-\d{10}$/);
  const child = await expect('POST', '/znodes/{path}', 409, api.POST('/znodes/{path}', { params: p('members/m1/child'), body: '', ...raw() }));
  assert.equal(errorCode(child.body), 'NoChildrenForEphemerals');
  await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('members/m1'), header: { 'Zoogate-Session': id } } }));

  const info = await expect('GET', '/sessions/{id}', 200, api.GET('/sessions/{id}', { params: { path: { id } } }));
  assert.deepEqual((info.body as components['schemas']['SessionInfo']).ephemerals, [seqPath, '/members/m1'].sort());
  const ka = await expect('POST', '/sessions/{id}/keepalive', 200, api.POST('/sessions/{id}/keepalive', { params: { path: { id } } }));
  assert.deepEqual(ka.body, { sessionId: id, timeoutMs: session.timeoutMs });

  await expect('DELETE', '/sessions/{id}', 204, api.DELETE('/sessions/{id}', { params: { path: { id } } }));
  await expect('HEAD', '/znodes/{path}', 404, api.HEAD('/znodes/{path}', { params: p('members/m1') }));
  const ls = await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('members'), query: { children: true } } }));
  assert.deepEqual((ls.body as components['schemas']['ZnodeChildren']).children, []);

  const gone = await expect('GET', '/sessions/{id}', 410, api.GET('/sessions/{id}', { params: { path: { id } } }));
  assert.equal(errorCode(gone.body), 'SessionExpired');
  await expect('POST', '/sessions/{id}/keepalive', 410, api.POST('/sessions/{id}/keepalive', { params: { path: { id } } }));
  await expect('DELETE', '/sessions/{id}', 410, api.DELETE('/sessions/{id}', { params: { path: { id } } }));
  await expect('GET', '/znodes/{path}', 410, api.GET('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Session': id } } }));
  await expect('HEAD', '/znodes/{path}', 410, api.HEAD('/znodes/{path}', { params: { ...p('conf'), query: { session: id } } }));
  await expect('GET', '/znodes', 410, api.GET('/znodes', { params: { header: { 'Zoogate-Session': id } } }));
  await expect('HEAD', '/znodes', 410, api.HEAD('/znodes', { params: { header: { 'Zoogate-Session': id } } }));
  await expect('POST', '/znodes/{path}', 410, api.POST('/znodes/{path}', { params: { ...p('x'), header: { 'Zoogate-Session': id } }, body: '', ...raw() }));
  await expect('PUT', '/znodes/{path}', 410, api.PUT('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Session': id } }, body: '', ...raw() }));
  await expect('DELETE', '/znodes/{path}', 410, api.DELETE('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Session': id } } }));
  await expect('POST', '/multi', 410, api.POST('/multi', { params: { header: { 'Zoogate-Session': id } }, body: { ops: [] } }));
  await expect('POST', '/sync/{path}', 410, api.POST('/sync/{path}', { params: { ...p('conf'), query: { session: id } } }));
  await expect('GET', '/sessions/{id}', 410, api.GET('/sessions/{id}', { params: { path: { id: '0000000000000000' } } }));
  await expect('POST', '/sessions', 410, api.POST('/sessions', { headers: { 'zoogate-session': id } }));

  await expect('DELETE', '/sessions/{id}', 204, api.DELETE('/sessions/{id}', { params: { path: { id: dflt.sessionId } } }));
});

test('multi: success, each failure status, malformed requests, size limit', async () => {
  const ok = await expect('POST', '/multi', 200, api.POST('/multi', {
    body: {
      ops: [
        { op: 'create', path: '/m' },
        { op: 'create', path: '/m/c', data: Buffer.from([0xff, 0x00]).toString('base64'), encoding: 'base64', acl: [{ scheme: 'world', id: 'anyone', perms: 'rw' }] },
        { op: 'create', path: '/m/s-', mode: 'persistent_sequential', data: 'seq' },
        { op: 'set', path: '/m', data: 'parent', version: 0 },
        { op: 'check', path: '/m', version: 1 },
        { op: 'delete', path: '/m/s-0000000001', version: 0 },
      ],
    },
  }));
  const res = ok.body as components['schemas']['MultiResponse'];
  assert.equal(res.zxid, ok.zxid);
  assert.deepEqual(res.results.map((r) => r.op), ['create', 'create', 'create', 'set', 'check', 'delete']);
  assert.equal((res.results[2] as components['schemas']['MultiCreateResult']).path, '/m/s-0000000001');
  assert.equal((res.results[3] as components['schemas']['MultiSetResult']).stat.version, 1);
  for (const r of res.results) if ('stat' in r) assert.equal(r.stat.mzxid <= res.zxid, true);

  const conflict = await expect('POST', '/multi', 409, api.POST('/multi', {
    body: { ops: [{ op: 'check', path: '/m', version: 1 }, { op: 'create', path: '/m' }, { op: 'delete', path: '/m/c' }] },
  }));
  assert.deepEqual({ ...(conflict.body as components['schemas']['MultiFailure']), error: undefined }, {
    error: undefined,
    failedOp: 1,
    results: [{ error: 'Ok' }, { error: 'NodeExists' }, { error: 'RuntimeInconsistency' }],
  });
  assert.equal(errorCode(conflict.body), 'NodeExists');
  // Nothing was applied: /m/c is still there.
  await expect('HEAD', '/znodes/{path}', 200, api.HEAD('/znodes/{path}', { params: p('m/c') }));

  const badVersion = await expect('POST', '/multi', 412, api.POST('/multi', { body: { ops: [{ op: 'create', path: '/m/new' }, { op: 'check', path: '/m', version: 9 }] } }));
  assert.equal((badVersion.body as components['schemas']['MultiFailure']).failedOp, 1);
  await expect('HEAD', '/znodes/{path}', 404, api.HEAD('/znodes/{path}', { params: p('m/new') }));
  const noNode = await expect('POST', '/multi', 404, api.POST('/multi', { body: { ops: [{ op: 'set', path: '/nope', data: 'x' }] } }));
  assert.deepEqual((noNode.body as components['schemas']['MultiFailure']).results, [{ error: 'NoNode' }]);
  const noAuth = await expect('POST', '/multi', 403, api.POST('/multi', { body: { ops: [{ op: 'delete', path: '/m/c' }, { op: 'set', path: '/readonly', data: 'x' }] } }));
  assert.equal((noAuth.body as components['schemas']['MultiFailure']).failedOp, 1);
  const notEmpty = await expect('POST', '/multi', 409, api.POST('/multi', { body: { ops: [{ op: 'delete', path: '/m' }] } }));
  assert.equal(errorCode(notEmpty.body), 'NotEmpty');
  const ruleBroken = await expect('POST', '/multi', 400, api.POST('/multi', { body: { ops: [{ op: 'create', path: '/m/e', mode: 'ephemeral' }] } }));
  assert.equal((ruleBroken.body as components['schemas']['MultiFailure']).failedOp, 0);

  // Malformed: rejected before any op runs, with a plain error body.
  const notOps = await expect('POST', '/multi', 400, api.POST('/multi', { body: { ops: 'all' } as unknown as components['schemas']['MultiRequest'] }));
  assert.equal('failedOp' in (notOps.body as object), false);
  const unknownOp = await expect('POST', '/multi', 400, api.POST('/multi', { body: { ops: [{ op: 'rename', path: '/m' }] } as unknown as components['schemas']['MultiRequest'] }));
  assert.equal(errorCode(unknownOp.body), 'BadArguments');
  const badPath = await expect('POST', '/multi', 400, api.POST('/multi', { body: { ops: [{ op: 'delete', path: 'relative' }] } }));
  assert.equal(errorCode(badPath.body), 'BadArguments');
  const notJson = await expect('POST', '/multi', 400, api.POST('/multi', { body: '{"ops":' as unknown as components['schemas']['MultiRequest'], ...raw('application/json') }));
  assert.equal(errorCode(notJson.body), 'BadArguments');

  const half = 'x'.repeat(600_000);
  const tooBig = await expect('POST', '/multi', 413, api.POST('/multi', { body: { ops: [{ op: 'create', path: '/big1', data: half }, { op: 'create', path: '/big2', data: half }] } }));
  assert.equal(errorCode(tooBig.body), 'PayloadTooLarge');

  const empty = await expect('POST', '/multi', 200, api.POST('/multi', { body: { ops: [] } }));
  assert.deepEqual((empty.body as components['schemas']['MultiResponse']).results, []);
});

test('sync and Zoogate-Min-Zxid', async () => {
  const s = await expect('POST', '/sync/{path}', 200, api.POST('/sync/{path}', { params: p('conf') }));
  assert.equal((s.body as components['schemas']['SyncResponse']).zxid, s.zxid);
  await expect('POST', '/sync/{path}', 200, api.POST('/sync/{path}', { params: p('') }));
  await expect('POST', '/sync/{path}', 200, api.POST('/sync/{path}', { params: p('does/not/exist') }));
  const bad = await expect('POST', '/sync/{path}', 400, api.POST('/sync/{path}', { params: p('a//b') }));
  assert.equal(errorCode(bad.body), 'BadArguments');

  const at = s.zxid;
  await expect('GET', '/znodes/{path}', 200, api.GET('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Min-Zxid': at } } }));
  const ahead = await expect('GET', '/znodes/{path}', 503, api.GET('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Min-Zxid': at + 1000 } } }));
  assert.equal(errorCode(ahead.body), 'NoQuorum');
  assert.equal(ahead.response.headers.get('retry-after'), '1');
  await expect('HEAD', '/znodes/{path}', 503, api.HEAD('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Min-Zxid': at + 1000 } } }));
  const malformed = await expect('GET', '/znodes/{path}', 400, api.GET('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Min-Zxid': 'soon' as unknown as number } } }));
  assert.equal(errorCode(malformed.body), 'BadArguments');
  await expect('HEAD', '/znodes/{path}', 400, api.HEAD('/znodes/{path}', { params: { ...p('conf'), header: { 'Zoogate-Min-Zxid': -1 } } }));

  // The operations endpoints declare no Zoogate-Min-Zxid and ignore one, ahead or malformed.
  const h = await expect('GET', '/health', 200, api.GET('/health', { headers: { 'zoogate-min-zxid': String(at + 1000) }, parseAs: 'text' }));
  assert.equal(h.body, 'imok');
  await expect('HEAD', '/health', 200, api.HEAD('/health', { headers: { 'zoogate-min-zxid': 'soon' } }));
  await expect('GET', '/cluster', 200, api.GET('/cluster', { headers: { 'zoogate-min-zxid': 'soon' } }));
  await expect('HEAD', '/ready', 200, api.HEAD('/ready', { headers: { 'zoogate-min-zxid': '-1' } }));
  await expect('GET', '/ready', 200, api.GET('/ready', { headers: { 'zoogate-min-zxid': String(at + 1000) } }));
  await expect('GET', '/openapi.yaml', 200, api.GET('/openapi.yaml', { headers: { 'zoogate-min-zxid': String(at + 1000) }, parseAs: 'text' }));
  const unknownParam = await expect('GET', '/cluster', 400, api.GET('/cluster', { params: { query: { verbose: 1 } as never } }));
  assert.equal(errorCode(unknownParam.body), 'BadArguments');
});

test('unsupported methods are 501 with Allow (PATCH is not in the spec, so it is sent with plain fetch)', async () => {
  // openapi.yaml declares no PATCH (a generated SDK must not grow a patchZnode); the 501 rule is in the path's description.
  assert.deepEqual(listOperations().filter((op) => op.startsWith('PATCH ')), []);
  const noPatch: paths['/znodes/{path}'] extends { patch?: never } ? true : false = true;
  assert.equal(noPatch, true);
  assert.match(String(spec.paths['/znodes/{path}']!.description), /501 Unimplemented/);

  for (const [method, path, allow] of [
    ['PATCH', '/znodes/conf', ['DELETE', 'GET', 'HEAD', 'POST', 'PUT']],
    ['PATCH', '/znodes', ['DELETE', 'GET', 'HEAD', 'POST', 'PUT']],
    ['GET', '/multi', ['POST']],
    ['PUT', '/sessions', ['POST']],
    ['POST', '/watch/conf', ['GET']],
  ] as const) {
    const r = await rawFetch(method, path);
    assert.equal(r.response.status, 501, `${method} ${path}`);
    assert.match(r.response.headers.get('zoogate-zxid') ?? '', /^\d+$/);
    validateSchema('Error', r.error);
    validateSchema('NotImplementedError', r.error);
    assert.equal(errorCode(r.error), 'Unimplemented');
    assert.deepEqual(r.response.headers.get('allow')?.split(/,\s*/).sort(), [...allow], `${method} ${path}`);
  }
});

test('watch streams: GET /watch/{path} and GET /watch as Server-Sent Events', async () => {
  const all = await expectStream('/watch/{path}', api.GET('/watch/{path}', { params: { ...p('sse'), query: { recursive: true } }, parseAs: 'stream' }));
  const self = await expectStream('/watch/{path}', api.GET('/watch/{path}', { params: p('sse'), parseAs: 'stream' }));
  const c = await expect('POST', '/znodes/{path}', 201, api.POST('/znodes/{path}', { params: p('sse'), body: '', ...raw() }));
  const m = await expect('POST', '/multi', 200, api.POST('/multi', { body: { ops: [{ op: 'create', path: '/sse/a' }, { op: 'set', path: '/sse', data: 'x' }] } }));

  const got = await all.take(3);
  assert.deepEqual(got.map((e) => [e.event, JSON.parse(e.data).path]), [['NodeCreated', '/sse'], ['NodeCreated', '/sse/a'], ['NodeDataChanged', '/sse']]);
  // id: the zxid, on the last event of each transaction only.
  assert.deepEqual(got.map((e) => e.id), [String(c.zxid), undefined, String(m.zxid)]);
  assert.ok(all.parser.comments.some((c) => c.startsWith('watching /sse')));
  assert.equal(all.parser.retry, 1000);
  // Without recursive: the node itself, NodeChildrenChanged included.
  assert.deepEqual((await self.take(3)).map((e) => e.event), ['NodeCreated', 'NodeChildrenChanged', 'NodeDataChanged']);
  await all.close();
  await self.close();

  // Resume after the create: the multi's events are replayed from the log.
  const firstId = got[0]!.id!;
  const resumed = await expectStream('/watch/{path}', api.GET('/watch/{path}', { params: { ...p('sse'), query: { recursive: true }, header: { 'Last-Event-ID': Number(firstId) } }, parseAs: 'stream' }));
  assert.deepEqual((await resumed.take(2)).map((e) => e.data), got.slice(1).map((e) => e.data));
  await resumed.close();
  const byQuery = await expectStream('/watch/{path}', api.GET('/watch/{path}', { params: { ...p('sse'), query: { recursive: true, lastEventId: Number(firstId) } }, parseAs: 'stream' }));
  assert.deepEqual((await byQuery.take(2)).map((e) => e.data), got.slice(1).map((e) => e.data));
  await byQuery.close();

  // The root form.
  const root = await expectStream('/watch', api.GET('/watch', { parseAs: 'stream' }));
  await expect('PUT', '/znodes', 200, api.PUT('/znodes', { body: 'root again', ...raw('text/plain') }));
  const [ev] = await root.take(1);
  assert.equal(ev!.event, 'NodeDataChanged');
  assert.equal(JSON.parse(ev!.data).path, '/');
  await root.close();

  // Errors before the stream starts are the JSON error, as anywhere.
  const unknown = await expect('GET', '/watch/{path}', 400, api.GET('/watch/{path}', { params: { ...p('sse'), query: { recursiv: true } as never } }));
  assert.equal(errorCode(unknown.body), 'BadArguments');
  const badId = await expect('GET', '/watch/{path}', 400, api.GET('/watch/{path}', { params: { ...p('sse'), header: { 'Last-Event-ID': 'yesterday' as unknown as number } } }));
  assert.equal(errorCode(badId.body), 'BadArguments');
  await expect('GET', '/watch/{path}', 400, api.GET('/watch/{path}', { params: p('a//b') }));
  await expect('GET', '/watch', 400, api.GET('/watch', { params: { query: { recursive: 'maybe' as unknown as boolean } } }));
  const ahead = await expect('GET', '/watch/{path}', 503, api.GET('/watch/{path}', { params: { ...p('sse'), header: { 'Zoogate-Min-Zxid': m.zxid + 1000 } } }));
  assert.equal(errorCode(ahead.body), 'NoQuorum');
  await expect('GET', '/watch', 503, api.GET('/watch', { params: { header: { 'Zoogate-Min-Zxid': m.zxid + 1000 } } }));
});

test('GET /ws: the WebSocket handshake (101), a malformed one (400), a plain GET (404)', async () => {
  const key = Buffer.from('0123456789abcdef').toString('base64');
  const ok = await upgradeRequest({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': key });
  assert.equal(ok.status, 101);
  validateHeaders('GET', '/ws', 101, ok.headers);
  validateResponse('GET', '/ws', 101, ok.body);
  markExercised('GET', '/ws', 101);

  const bad = await upgradeRequest({ connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'short' });
  assert.equal(bad.status, 400);
  validateHeaders('GET', '/ws', 400, bad.headers);
  validateResponse('GET', '/ws', 400, bad.body, bad.headers['content-type']);
  markExercised('GET', '/ws', 400);

  const plain = await expect('GET', '/ws', 404, rawFetch('GET', '/ws'));
  assert.equal(errorCode(plain.body), 'NoNode');
});

test('throttling: 429 with Retry-After', async () => {
  const c = await expect('POST', '/znodes/{path}', 429, throttled.POST('/znodes/{path}', { params: p('x'), body: '', ...raw() }));
  assert.equal(errorCode(c.body), 'Throttled');
  assert.equal(c.response.headers.get('retry-after'), '1');
  await expect('POST', '/sessions', 429, throttled.POST('/sessions'));
  await expect('POST', '/multi', 429, throttled.POST('/multi', { body: { ops: [] } }));
  // Reads are not throttled.
  await expect('GET', '/znodes', 200, throttled.GET('/znodes'));
});

test('the validator rejects drift (so passing above means something)', () => {
  const stat: Stat = { czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: null, dataLength: 0, numChildren: 0 };
  validateResponse('POST', '/znodes/{path}', 201, { path: '/a', stat });
  assert.throws(() => validateResponse('POST', '/znodes/{path}', 201, { path: '/a', stat, extra: 1 }), /must NOT have additional properties/);
  assert.throws(() => validateResponse('POST', '/znodes/{path}', 201, { path: '/a', stat: { ...stat, ephemeralOwner: 7 } }), /ephemeralOwner/);
  assert.throws(() => validateResponse('GET', '/znodes/{path}', 404, { error: { code: 'NodeExists', message: 'x' } }), /allowed values/);
  assert.throws(() => validateResponse('GET', '/znodes/{path}', 404, { error: { code: 'NoNode', message: 'x' }, failedOp: 0 }), /additional properties/);
  assert.throws(() => validateResponse('GET', '/znodes/{path}', 418, {}), /does not declare/);
  assert.throws(() => validateResponse('HEAD', '/znodes/{path}', 404, { error: { code: 'NoNode', message: 'x' } }), /no body/);
  assert.throws(() => validateResponse('GET', '/nowhere', 200, {}), /no path/);
  assert.throws(() => validateHeaders('HEAD', '/znodes/{path}', 200, { 'zoogate-zxid': '1' }), /Zoogate-Stat is missing/);
  assert.throws(() => validateHeaders('GET', '/health', 200, {}), /Zoogate-Zxid is missing/);
  assert.throws(() => validateHeaders('HEAD', '/znodes/{path}', 200, { 'zoogate-zxid': '1', 'zoogate-stat': JSON.stringify({ ...stat, version: 'x' }) }), /version/);
});

test('every operation in openapi.yaml was exercised', (t) => {
  const missing = listOperations().filter((op) => !exercised.has(op));
  assert.deepEqual(missing, [], `operations never exercised: ${missing.join(', ')}`);
  for (const op of listOperations()) {
    const [method, template] = op.split(' ') as [string, string];
    const unseen = declaredStatuses(method, template).filter((s) => !exercised.get(op)!.has(Number(s)));
    if (unseen.length > 0) t.diagnostic(`${op}: declared but not exercised: ${unseen.join(', ')}`);
  }
});
