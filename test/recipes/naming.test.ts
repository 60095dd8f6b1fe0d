/**
 * The naming service against a real 3-process ensemble: names bound on one
 * node resolved on another, answered from the cache until a change
 * invalidates them (bound, rebound, unbound, also a name not bound yet); the
 * invalidation still arriving when the change happened while the session was
 * moving to another node; followers told of new values; directories created
 * and pruned; unique names drawn concurrently, never twice.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateSession } from '../../client/index.ts';
import { NamingService, type BindingChange } from '../../client/recipes/naming.ts';
import { FreezableProxy, HoldingProxy, RecipeCluster, waitFor } from './coordination-support.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

describe('naming service against a 3-process ensemble', { timeout: 90_000 }, () => {
  let rc: RecipeCluster;
  before(async () => {
    rc = await RecipeCluster.start();
  });
  after(async () => {
    await rc?.destroy();
  });

  test('resolve through the cache: a hit costs nothing, a change invalidates it, the next resolve reads the new value', async () => {
    const [sa, sb, sc] = await rc.spread(3);
    const root = '/n1/names';
    const admin = new NamingService(sa!, { root });
    const client = new NamingService(sb!, { root });

    await admin.bind('db/primary', '10.0.0.7:5432');
    assert.equal(await client.resolve('db/primary', { sync: true }), '10.0.0.7:5432');
    assert.equal(client.lookup('db/primary'), '10.0.0.7:5432', 'cached');
    const before = client.stats;
    for (let i = 0; i < 5; i++) assert.equal(await client.resolve('db/primary'), '10.0.0.7:5432');
    assert.deepEqual(client.stats, { ...before, hits: before.hits + 5 }, 'five hits, no read');
    assert.ok(sb!.heldWatches().some((w) => w.path === `${root}/db/primary` && w.kind === 'data'), 'a data watch on the name');

    // a name not bound is cached too (with an exists watch), and invalidated when it is bound
    assert.equal(await client.resolve('db/replica'), null);
    assert.equal(client.lookup('db/replica'), null);
    assert.equal(client.lookup('never/asked'), undefined, 'not cached: undefined');
    await admin.bind('db/replica', '10.0.0.8:5432');
    await waitFor('the negative answer to be invalidated', () => client.lookup('db/replica') === undefined);
    assert.equal(await client.resolve('db/replica'), '10.0.0.8:5432');

    // bind does not overwrite; rebind does, and invalidates
    await assert.rejects(admin.bind('db/primary', '10.9.9.9:5432'), { code: 'NodeExists' });
    await admin.bind('db/primary', '10.0.0.7:5432'); // the same value: fine
    await admin.rebind('db/primary', '10.0.0.9:5432');
    await waitFor('the rebind to invalidate the cache', () => client.lookup('db/primary') === undefined);
    assert.equal(client.stats.invalidations, before.invalidations + 2);
    assert.equal(await client.resolve('db/primary'), '10.0.0.9:5432');

    // a follower hears the new value of the names it resolved
    const follower = new NamingService(sc!, { root });
    const heard: BindingChange[] = [];
    follower.onChange((c) => heard.push(c));
    assert.equal(await follower.resolve('db/primary', { sync: true }), '10.0.0.9:5432');
    await admin.rebind('db/primary', '10.0.0.10:5432');
    await admin.unbind('db/primary');
    await follower.catchUp();
    assert.equal(follower.lookup('db/primary'), null);
    assert.deepEqual(heard.at(-1), { name: 'db/primary', value: null, old: heard.length > 1 ? '10.0.0.10:5432' : '10.0.0.9:5432' });
    assert.ok(heard.every((c) => c.name === 'db/primary'), 'only the name it resolved');

    // directories: created by bind, pruned once empty
    assert.deepEqual(await admin.list(), ['db/replica']);
    assert.equal(await admin.unbind('db/replica'), true);
    assert.equal(await admin.unbind('db/replica'), false, 'nothing left to unbind');
    const rest = rc.rest();
    await rest.sync('/');
    assert.equal(await rest.exists(`${root}/db`), null, 'the empty directory went');
    await assert.rejects(client.resolve('.hidden'), { code: 'BadArguments' });
    await assert.rejects(client.resolve('a//b'), { code: 'BadArguments' });
    await Promise.all([admin.close(), client.close(), follower.close()]);
  });

  test('a change made while the session moves to another node still invalidates the cache', async () => {
    const [sa] = await rc.spread(1);
    const root = '/n2/names';
    const admin = new NamingService(sa!, { root });
    await admin.bind('svc', 'v1');
    // the client's first way in is a proxy that goes away; then the real nodes, after a pause
    const proxy = await FreezableProxy.start(rc.url(1));
    const s = await ZooGateSession.connect([proxy.url, rc.url(2), rc.url(3)], { timeoutMs: 2000, shuffle: false, reconnectDelayMs: 500 });
    rc.sessions.push(s);
    const client = new NamingService(s, { root });
    assert.equal(await client.resolve('svc', { sync: true }), 'v1');
    assert.equal(await client.resolve('missing'), null);
    const sessionId = s.sessionId;
    const moved = new Promise<void>((resolve) => s.onState((c) => c.state === 'Disconnected' && resolve()));

    await proxy.close(); // the node is gone, as far as this client can tell
    await moved;
    await admin.rebind('svc', 'v2');
    await admin.bind('missing', 'here now');
    assert.equal(client.lookup('svc'), 'v1', 'not told yet: the session has no node');
    await waitFor('the session to move', () => s.state === 'Connected', 10_000);
    assert.equal(s.sessionId, sessionId);
    await waitFor('the watches to fire on the new node', () => client.lookup('svc') === undefined && client.lookup('missing') === undefined, 5000);
    assert.equal(await client.resolve('svc'), 'v2');
    assert.equal(await client.resolve('missing'), 'here now');
    await Promise.all([admin.close(), client.close()]);
  });

  test('unique names drawn concurrently by clients on three nodes never repeat, and leave nothing behind', async () => {
    const sessions = await rc.spread(3);
    const services = sessions.map((s) => new NamingService(s, { root: '/n3/names' }));
    const drawn = await Promise.all(services.map(async (n) => {
      const mine: string[] = [];
      for (let i = 0; i < 10; i++) mine.push(await n.uniqueName('worker'));
      return mine;
    }));
    const all = drawn.flat();
    assert.equal(new Set(all).size, 30, `no name twice: ${all.join(' ')}`);
    assert.ok(all.every((x) => /^worker-\d{10}$/.test(x)));
    for (const mine of drawn) assert.deepEqual(mine, [...mine].sort(), 'each client\'s names increase');
    const rest = rc.rest();
    await rest.sync('/');
    assert.deepEqual((await rest.children('/n3/names-ids/worker')).children, [], 'the drawing nodes are deleted');
    await Promise.all(services.map((n) => n.close()));
  });
});

// The reader's server->client bytes pass a proxy that holds them and lets them go every 100 ms in
// one write, so the answer to the cache's re-read and the watch event of a change right after it
// reach the client in one socket read (the client handles both before the read's await resumes).
describe('naming cache: an event arriving with the answer of the read it invalidates', { timeout: 60_000 }, () => {
  let server: TestServer;
  let proxy: HoldingProxy;
  let flush: ReturnType<typeof setInterval>;
  let proxyUrl = '';
  before(async () => {
    server = await startTestServer();
    proxy = await HoldingProxy.start(server.url);
    proxy.hold = true;
    flush = setInterval(() => proxy.flush(), 100);
    proxyUrl = proxy.url;
  });
  after(async () => {
    clearInterval(flush);
    await proxy?.close();
    await server?.close();
  });

  test('the read answers from before the change: it is read again, not cached', async () => {
    const admin = await ZooGateSession.connect([server.url], { timeoutMs: 5000 });
    const reader = await ZooGateSession.connect([proxyUrl], { timeoutMs: 5000 });
    try {
      const a = new NamingService(admin, { root: '/n9' });
      const r = new NamingService(reader, { root: '/n9' });
      const heard: BindingChange[] = [];
      r.onChange((c) => heard.push(c));
      for (let i = 0; i < 5; i++) {
        await a.bind('x', `v${i}`);
        assert.equal(await r.resolve('x', { sync: true }), `v${i}`);
        const misses = r.stats.misses;
        await a.rebind('x', `w${i}`);
        // the rebind's event reaches the reader, which reads x again; that read's answer is held
        await waitFor('the re-read to start', () => r.stats.misses > misses);
        await new Promise((res) => setTimeout(res, 20));
        await a.unbind('x'); // its event joins the held answer
        await r.catchUp();
        assert.equal(r.lookup('x'), null, `round ${i}: the cache holds ${r.lookup('x')} for an unbound name`);
        assert.equal(heard.at(-1)?.value, null, `round ${i}: the last change heard is the unbind`);
      }
    } finally {
      await admin.close();
      await reader.close();
    }
  });
});
