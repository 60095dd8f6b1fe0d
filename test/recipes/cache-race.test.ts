// The race naming.ts had (e07334c): the answer of a read the cache issued (from before a change)
// and that change's watch event arrive in one socket read, so the event is handled before the
// read's await resumes. TreeCache, NodeCache and ServiceDiscovery hold persistent watches and queue
// every event, applying answers and events with zxid checks, so they end up current; these tests
// hold the reader's server->client bytes in a proxy while the cache re-reads, let the change's
// event arrive, and release both in one write. They fail if a cache drops queued events for a path
// it has just read, or clears its queue after its first load.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateSession } from '../../client/index.ts';
import { NodeCache, TreeCache } from '../../client/recipes/cache.ts';
import { ServiceDiscovery, ServiceRegistry } from '../../client/recipes/discovery.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { HoldingProxy } from './coordination-support.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Makes the next get() of `s` start holding server->client bytes once it is sent. */
function armOnGet(s: ZooGateSession, proxy: HoldingProxy, order: string[]): { armed: boolean } {
  const st = { armed: false };
  const orig = s.get.bind(s) as (...a: unknown[]) => Promise<unknown>;
  (s as unknown as { get: unknown }).get = (...a: unknown[]) => {
    const p = orig(...a);
    if (st.armed) {
      st.armed = false;
      proxy.hold = true;
      p.then(() => order.push('answer'), () => order.push('answer-error'));
    }
    return p;
  };
  s.onEvent((ev) => order.push(`event ${ev.event} ${ev.path}`));
  return st;
}

async function heldUntil(proxy: HoldingProxy, text: string): Promise<void> {
  for (let i = 0; i < 100 && !proxy.heldText().includes(text); i++) await sleep(10);
  assert.ok(proxy.heldText().includes(text), `held bytes include ${text}`);
}

describe('caches: a change whose event arrives in one socket read with an earlier answer', { timeout: 60_000 }, () => {
  let server: TestServer;
  let proxy: HoldingProxy;
  before(async () => {
    server = await startTestServer();
    proxy = await HoldingProxy.start(server.url);
  });
  after(async () => {
    await proxy?.close();
    await server?.destroy();
  });

  /** `body` with a session on the server (the writer) and one through the proxy (the cache's). */
  async function withSessions(body: (admin: ZooGateSession, reader: ZooGateSession) => Promise<void>): Promise<void> {
    const admin = await ZooGateSession.connect([server.url], { timeoutMs: 5000 });
    const reader = await ZooGateSession.connect([proxy.url], { timeoutMs: 5000 });
    try {
      await body(admin, reader);
    } finally {
      proxy.release();
      await admin.close();
      await reader.close();
    }
  }

  for (const follow of ['delete', 'set', 'delete+create'] as const) {
    test(`TreeCache pump: set then ${follow} while the re-read's answer is held`, () => withSessions(async (admin, reader) => {
      const root = `/tp-${follow.replace('+', '')}`;
      await admin.create(root, 'r');
      const cache = new TreeCache(reader, root);
      await cache.start();
      const order: string[] = [];
      const arm = armOnGet(reader, proxy, order);
      for (let i = 0; i < 5; i++) {
        await admin.create(`${root}/x`, `v${i}`);
        await cache.catchUp();
        assert.equal(cache.get(`${root}/x`)?.text, `v${i}`);
        order.length = 0;
        arm.armed = true;
        await admin.set(`${root}/x`, `w${i}`);
        // the event reaches the cache, whose pump reads x: that get holds the proxy
        for (let k = 0; k < 200 && !proxy.hold; k++) await sleep(5);
        assert.ok(proxy.hold, 'the pump read x');
        if (follow === 'delete' || follow === 'delete+create') await admin.delete(`${root}/x`);
        if (follow === 'set') await admin.set(`${root}/x`, `z${i}`);
        if (follow === 'delete+create') await admin.create(`${root}/x`, `c${i}`);
        await heldUntil(proxy, follow === 'set' ? '"NodeDataChanged"' : follow === 'delete' ? '"NodeDeleted"' : '"NodeCreated"');
        proxy.release();
        await cache.catchUp();
        const ans = order.findIndex((o) => o.startsWith('answer'));
        const ev = order.findIndex((o, j) => j > 0 && o.startsWith('event'));
        assert.ok(ev >= 0 && ans >= 0 && ev < ans, `the later event was handled before the answer resumed: ${order.join(', ')}`);
        const want = follow === 'delete' ? undefined : follow === 'set' ? `z${i}` : `c${i}`;
        assert.equal(cache.get(`${root}/x`)?.text, want, `round ${i}: ${order.join(', ')}`);
        await sleep(50);
        assert.equal(cache.get(`${root}/x`)?.text, want, `round ${i} later`);
        if (follow !== 'delete') await admin.delete(`${root}/x`);
        await cache.catchUp();
      }
      await cache.close();
    }));
  }

  test('NodeCache load: a change while the first get is held', () => withSessions(async (admin, reader) => {
    for (let i = 0; i < 5; i++) {
      const path = `/nc${i}`;
      await admin.create(path, 'a');
      const order: string[] = [];
      const arm = armOnGet(reader, proxy, order);
      arm.armed = true;
      const cache = new NodeCache(reader, path);
      const started = cache.start();
      for (let k = 0; k < 200 && !proxy.hold; k++) await sleep(5);
      assert.ok(proxy.hold);
      if (i % 2 === 0) await admin.set(path, 'b');
      else await admin.delete(path);
      await heldUntil(proxy, i % 2 === 0 ? '"NodeDataChanged"' : '"NodeDeleted"');
      proxy.release();
      await started;
      await cache.catchUp();
      assert.equal(cache.current?.text, i % 2 === 0 ? 'b' : undefined, order.join(', '));
      await cache.close();
    }
  }));

  test('ServiceDiscovery: update then unregister while the re-read is held', () => withSessions(async (admin, reader) => {
    const reg = new ServiceRegistry(admin, { basePath: '/svc' });
    const disc = new ServiceDiscovery(reader, 'web', { basePath: '/svc' });
    await reg.register('web', { id: 'keep', address: 'h', port: 1 });
    await disc.start();
    const order: string[] = [];
    const arm = armOnGet(reader, proxy, order);
    for (let i = 0; i < 5; i++) {
      await reg.register('web', { id: 'a', address: 'h', port: 2 });
      await disc.catchUp();
      assert.ok(disc.instance('a'));
      order.length = 0;
      arm.armed = true;
      await reg.update('web', 'a', { metadata: { load: i } });
      for (let k = 0; k < 200 && !proxy.hold; k++) await sleep(5);
      assert.ok(proxy.hold);
      await reg.unregister('web', 'a');
      await heldUntil(proxy, '"NodeDeleted"');
      proxy.release();
      await disc.catchUp();
      assert.equal(disc.instance('a'), undefined, `round ${i}: ${order.join(', ')}`);
    }
    await disc.close();
    await reg.close();
  }));
});
