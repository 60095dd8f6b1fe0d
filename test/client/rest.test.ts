/**
 * ZooGateRest against real in-process servers: every call typed and working,
 * errors with the contract's code/status/path, and the failover rules: reads
 * and never-applied writes move on, a write without an answer is reported
 * outcomeUnknown and not re-sent, Zoogate-Min-Zxid carries what was seen.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ZooGateError, ZooGateRest, type Stat } from '../../client/index.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { freePort } from '../support/process-cluster.ts';

const bytes = (...b: number[]) => new Uint8Array(b);

/** Rejects with a ZooGateError; returns it for more checks. */
async function failsWith(p: Promise<unknown>, code: string, status?: number): Promise<ZooGateError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ZooGateError, `expected a ZooGateError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (status !== undefined) assert.equal(e.status, status);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** A plain HTTP server that answers every request with `answer` (after reading the body). */
async function fakeNode(answer: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push(`${req.method} ${req.url}`);
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

describe('ZooGateRest', () => {
  let s1: TestServer;
  let s2: TestServer;
  const fakes: Server[] = [];

  before(async () => {
    s1 = await startTestServer({ minZxidWaitMs: 100 });
    s2 = await startTestServer({ minZxidWaitMs: 100 });
  });
  after(async () => {
    for (const f of fakes) f.closeAllConnections(), f.close();
    await s1.destroy();
    await s2.destroy();
  });

  test('every call, typed: create, get (bytes and text), children, exists, set, delete, ACLs, multi, sync, sessions, cluster', async () => {
    const z = new ZooGateRest([s1.url]);

    const created = await z.create('/app', 'hello');
    assert.equal(created.path, '/app');
    assert.equal(created.stat.dataLength, 5);

    const asBytes = await z.get('/app');
    const b: Uint8Array = asBytes.data; // typed: bytes by default
    assert.deepEqual(b, new TextEncoder().encode('hello'));
    const asText = await z.get('/app', { as: 'utf8' });
    const t: string = asText.data; // typed: text when asked
    assert.equal(t, 'hello');
    assert.equal(asText.stat.version, 0);

    // bytes that are not UTF-8 round-trip exactly
    await z.create('/app/bin', bytes(0xff, 0x00, 0x80, 0x01));
    assert.deepEqual((await z.get('/app/bin')).data, bytes(0xff, 0x00, 0x80, 0x01));
    assert.equal((await z.get('/app/bin', { as: 'utf8' })).data, '\ufffd\u0000\ufffd\u0001');

    // parents, sequential, TTL, container, an ACL in the header form
    const deep = await z.create('/a/b/c', 'x', { parents: true });
    assert.equal(deep.path, '/a/b/c');
    const seq1 = await z.create('/app/job-', 'j', { mode: 'persistent_sequential' });
    const seq2 = await z.create('/app/job-', undefined, { mode: 'persistent_sequential' });
    assert.match(seq1.path, /^\/app\/job-\d{10}$/);
    assert.ok(seq2.path > seq1.path);
    assert.equal((await z.create('/lease', 'l', { mode: 'persistent_with_ttl', ttl: 60_000 })).stat.ephemeralOwner, null);
    await z.create('/locks', undefined, { mode: 'container' });
    await z.create('/ro', 'r', { acl: 'world:anyone:r' });
    assert.deepEqual((await z.getAcl('/ro')).acl, [{ scheme: 'world', id: 'anyone', perms: 'r' }]);

    const kids = await z.children('/app');
    assert.deepEqual(kids.children, ['bin', seq1.path.slice(5), seq2.path.slice(5)]);
    assert.equal(kids.stat.numChildren, 3);
    assert.deepEqual((await z.children('/')).children, ['a', 'app', 'lease', 'locks', 'ro', 'zookeeper']);

    const st: Stat | null = await z.exists('/app');
    assert.equal(st?.numChildren, 3);
    assert.equal(await z.exists('/nope'), null);

    const set = await z.set('/app', bytes(1, 2, 3), { version: 0 });
    assert.equal(set.stat.version, 1);
    assert.deepEqual((await z.get('/app')).data, bytes(1, 2, 3));
    await z.set('/app', 'any version'); // -1
    assert.equal((await z.get('/app', { as: 'utf8' })).data, 'any version');

    // ACLs: digest identity from the auth option
    const digest = (await import('node:crypto')).createHash('sha1').update('alice:secret').digest('base64');
    await z.create('/private', 'p', { acl: [{ scheme: 'world', id: 'anyone', perms: 'r' }, { scheme: 'digest', id: `alice:${digest}`, perms: 'cdrwa' }] });
    await failsWith(z.set('/private', 'no'), 'NoAuth', 403);
    const alice = new ZooGateRest([s1.url], { auth: { user: 'alice', password: 'secret' } });
    await alice.set('/private', 'yes');
    const acl = await alice.setAcl('/private', [{ scheme: 'digest', id: `alice:${digest}`, perms: 'cdrwa' }], { aversion: 0 });
    assert.equal(acl.stat.aversion, 1);
    assert.deepEqual((await alice.getAcl('/private')).acl, [{ scheme: 'digest', id: `alice:${digest}`, perms: 'cdrwa' }]);

    // multi: bytes and text data, results in order, one zxid
    const m = await z.multi([
      { op: 'create', path: '/m', data: bytes(9, 9) },
      { op: 'set', path: '/m', data: 'text', version: 0 },
      { op: 'check', path: '/m', version: 1 },
      { op: 'create', path: '/m/child' },
      { op: 'delete', path: '/m/child' },
    ]);
    assert.deepEqual(m.results.map((r) => r.op), ['create', 'set', 'check', 'create', 'delete']);
    assert.equal((await z.get('/m', { as: 'utf8' })).stat.mzxid, m.zxid);

    const sync = await z.sync('/app');
    assert.ok(sync.zxid >= m.zxid);
    assert.equal((await z.sync()).zxid, sync.zxid);

    // sessions over REST, and an ephemeral owned by one
    const sess = await z.openSession(1000);
    assert.match(sess.sessionId, /^[0-9a-f]{16}$/);
    assert.equal((await z.keepAlive(sess.sessionId)).sessionId, sess.sessionId);
    const eph = await z.create('/e', 'x', { mode: 'ephemeral', session: sess.sessionId });
    assert.equal(eph.stat.ephemeralOwner, sess.sessionId);
    assert.deepEqual((await z.sessionInfo(sess.sessionId)).ephemerals, ['/e']);
    await z.closeSession(sess.sessionId);
    assert.equal(await z.exists('/e'), null);
    await failsWith(z.sessionInfo(sess.sessionId), 'SessionExpired', 410);

    // deletes: conditional, recursive
    await failsWith(z.delete('/app'), 'NotEmpty', 409);
    await z.delete('/a/b/c', { version: 0 });
    await z.delete('/app', { recursive: true });
    assert.equal(await z.exists('/app'), null);

    const cluster = await z.cluster();
    assert.equal(cluster.state, 'LEADING');
    assert.ok(z.lastZxid >= cluster.lastZxid - 1 && z.lastZxid > 0);
  });

  test("errors carry the contract's code, HTTP status and path", async () => {
    const z = new ZooGateRest([s1.url]);
    await z.create('/err', 'x');
    await z.create('/err/kid');
    let e = await failsWith(z.get('/err/none'), 'NoNode', 404);
    assert.equal(e.path, '/err/none');
    assert.equal(e.outcomeUnknown, false);
    assert.equal(e.node, s1.url);
    e = await failsWith(z.create('/err'), 'NodeExists', 409);
    assert.equal(e.path, '/err');
    await failsWith(z.create('/nope/child'), 'NoNode', 404);
    await failsWith(z.set('/err', 'y', { version: 5 }), 'BadVersion', 412);
    await failsWith(z.delete('/err', { version: 3 }), 'BadVersion', 412); // BadVersion before NotEmpty, as ZooKeeper
    await failsWith(z.delete('/err'), 'NotEmpty', 409);
    await failsWith(z.get('/a//b'), 'BadArguments', 400);
    await failsWith(z.create('/eph', 'x', { mode: 'ephemeral' }), 'BadArguments', 400);
    await failsWith(z.create('/acl', 'x', { acl: 'nonsense:x:r' }), 'InvalidACL', 400);
    await failsWith(z.get('/err', { session: '0123456789abcdef' }), 'SessionExpired', 410);
    // HEAD has no body: the code comes from the status
    await failsWith(z.exists('/err', { session: '0123456789abcdef' }), 'SessionExpired', 410);
    await failsWith(z.delete('/zookeeper'), 'BadArguments', 400);
    await failsWith(z.get('relative'), 'BadArguments');
    // a failed multi: nothing applied, the failing op and every outcome
    e = await failsWith(z.multi([{ op: 'create', path: '/err/new' }, { op: 'check', path: '/err', version: 7 }, { op: 'delete', path: '/err/kid' }]), 'BadVersion', 412);
    assert.equal(e.failedOp, 1);
    assert.deepEqual(e.results, [{ error: 'Ok' }, { error: 'BadVersion' }, { error: 'RuntimeInconsistency' }]);
    assert.equal(await z.exists('/err/new'), null);
    const small = await startTestServer({ maxDataBytes: 16 });
    try {
      await failsWith(new ZooGateRest([small.url]).create('/big', 'x'.repeat(17)), 'PayloadTooLarge', 413);
    } finally {
      await small.destroy();
    }
  });

  test('Zoogate-Min-Zxid carries the highest zxid seen to every node', async () => {
    const seen: Array<{ method: string; url: string; min: string | null }> = [];
    const recording = (req: Request) => {
      seen.push({ method: req.method, url: req.url, min: req.headers.get('zoogate-min-zxid') });
      return fetch(req);
    };
    const z = new ZooGateRest([s1.url], { fetch: recording });
    assert.equal(z.lastZxid, 0);
    await z.exists('/');
    assert.equal(seen[0]!.min, null, 'nothing seen yet, nothing sent');
    const c = await z.create('/carried', 'x');
    assert.ok(z.lastZxid >= c.stat.czxid);
    await z.get('/carried');
    assert.equal(seen.at(-1)!.min, String(z.lastZxid));

    // a client that must not read behind s1's state: s2 (a fresh server, far behind) cannot answer
    // within its wait (503 NoQuorum) and the read moves on to s1
    const behind = new ZooGateRest([s2.url, s1.url], { shuffle: false, minZxid: z.lastZxid });
    assert.equal((await behind.get('/carried', { as: 'utf8' })).data, 'x');
    assert.equal(behind.node, s1.url);
    // a write refused with 503 NoQuorum was not applied: it is safe to send elsewhere
    const writer = new ZooGateRest([s2.url, s1.url], { shuffle: false, minZxid: z.lastZxid });
    await writer.create('/moved-on', 'w');
    assert.equal(writer.node, s1.url);
    assert.equal(await new ZooGateRest([s2.url]).exists('/moved-on'), null);
    assert.ok(await z.exists('/moved-on'));
    // and if no node can serve it, the last 503 is what the caller gets
    const stuck = new ZooGateRest([s2.url], { minZxid: z.lastZxid, retryTimeoutMs: 300 });
    const e = await failsWith(stuck.get('/carried'), 'NoQuorum', 503);
    assert.ok(e.retryAfterMs !== undefined);
  });

  test('a node that refuses connections is skipped, for reads and writes (nothing was sent)', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const z = new ZooGateRest([dead, s1.url], { shuffle: false });
    await z.create('/after-refused', 'ok');
    assert.equal(z.node, s1.url);
    const r = new ZooGateRest([dead, s1.url], { shuffle: false });
    assert.equal((await r.get('/after-refused', { as: 'utf8' })).data, 'ok');
    const none = new ZooGateRest([dead], { retryTimeoutMs: 200 });
    const e = await failsWith(none.get('/x'), 'ConnectionLoss');
    assert.equal(e.outcomeUnknown, false);
  });

  test('a write that got no answer is outcomeUnknown and is not sent again; a read moves on', async () => {
    // a node that takes the request and drops the connection without answering
    const black = await fakeNode((req) => req.socket.destroy());
    fakes.push(black.server);
    const z = new ZooGateRest([black.url, s1.url], { shuffle: false });
    const e = await failsWith(z.create('/unknown-fate', 'x'), 'ConnectionLoss');
    assert.equal(e.outcomeUnknown, true);
    assert.equal(e.node, black.url);
    assert.deepEqual(black.hits, ['POST /znodes/unknown-fate']);
    assert.equal(await new ZooGateRest([s1.url]).exists('/unknown-fate'), null, 'not silently re-sent to the next node');

    const r = new ZooGateRest([black.url, s1.url], { shuffle: false });
    assert.ok(await r.exists('/'), 'a read is sent again elsewhere');
    assert.equal(r.node, s1.url);

    // 504 OperationTimeout: "may or may not have been applied"
    const slow = await fakeNode((_req, res) => {
      res.writeHead(504, { 'content-type': 'application/json', 'zoogate-zxid': '1' });
      res.end(JSON.stringify({ error: { code: 'OperationTimeout', message: 'the leader went away', path: '/t' } }));
    });
    fakes.push(slow.server);
    const w = new ZooGateRest([slow.url, s1.url], { shuffle: false });
    const e504 = await failsWith(w.set('/t', 'x'), 'OperationTimeout', 504);
    assert.equal(e504.outcomeUnknown, true);
    assert.equal(e504.path, '/t');

    // a request that times out after it was sent is just as unknown
    const silent = await fakeNode(() => {});
    fakes.push(silent.server);
    const t = new ZooGateRest([silent.url, s1.url], { shuffle: false, requestTimeoutMs: 200 });
    const et = await failsWith(t.delete('/whatever'), 'ConnectionLoss');
    assert.equal(et.outcomeUnknown, true);
    assert.ok(await t.exists('/'), 'the next request goes to the next node');
  });
});
