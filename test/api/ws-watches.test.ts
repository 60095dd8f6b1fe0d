// Watches and sessions over real WebSockets: ZooKeeper's trigger table op by op,
// ordering, resume, expiry, and the slow-consumer cut-off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { prng } from '../support/prng.ts';
import { settle, WsTestClient, type Msg } from '../support/ws-client.ts';

let s: TestServer;
before(async () => { s = await startTestServer({ clientBufferBytes: 256 * 1024 }); });
after(() => s.destroy());

const rest = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, { method, body, headers }).then(async (r) => ({ status: r.status, body: r.status === 204 ? null : await r.json().catch(() => null) }));
const evs = (c: WsTestClient) => c.events().map((e) => `${e.event} ${e.path}`);

describe('ZooKeeper\'s watch-trigger table, op by op', () => {
  // [how the watch is set, the change, the events the watcher gets]
  const cases: Array<[string, (w: WsTestClient, p: string) => Promise<unknown>, (p: string) => Promise<unknown>, (p: string) => string[]]> = [
    ['get watch + set data', (w, p) => w.request('get', { path: p, watch: true }), (p) => rest('PUT', `/znodes${p}`, 'x'), (p) => [`NodeDataChanged ${p}`]],
    ['get watch + delete', (w, p) => w.request('get', { path: p, watch: true }), (p) => rest('DELETE', `/znodes${p}`), (p) => [`NodeDeleted ${p}`]],
    ['get watch + child create (no event)', (w, p) => w.request('get', { path: p, watch: true }), (p) => rest('POST', `/znodes${p}/kid`), () => []],
    ['get watch + setACL (no event)', (w, p) => w.request('get', { path: p, watch: true }), (p) => rest('PUT', `/znodes${p}?acl=true`, '[{"scheme":"world","id":"anyone","perms":"cdrwa"}]'), () => []],
    ['exists watch on an absent node + create', (w, p) => w.request('exists', { path: p + '-new', watch: true }), (p) => rest('POST', `/znodes${p}-new`), (p) => [`NodeCreated ${p}-new`]],
    ['exists watch on a node + set', (w, p) => w.request('exists', { path: p, watch: true }), (p) => rest('PUT', `/znodes${p}`, 'y'), (p) => [`NodeDataChanged ${p}`]],
    ['children watch + child create', (w, p) => w.request('children', { path: p, watch: true }), (p) => rest('POST', `/znodes${p}/kid`), (p) => [`NodeChildrenChanged ${p}`]],
    ['children watch + child delete', async (w, p) => { await rest('POST', `/znodes${p}/kid`); return w.request('children', { path: p, watch: true }); }, (p) => rest('DELETE', `/znodes${p}/kid`), (p) => [`NodeChildrenChanged ${p}`]],
    ['children watch + delete', (w, p) => w.request('children', { path: p, watch: true }), (p) => rest('DELETE', `/znodes${p}`), (p) => [`NodeDeleted ${p}`]],
    ['children watch + set data (no event)', (w, p) => w.request('children', { path: p, watch: true }), (p) => rest('PUT', `/znodes${p}`, 'z'), () => []],
    ['persistent + create child, set, delete child', (w, p) => w.request('addWatch', { path: p, mode: 'persistent' }),
      async (p) => { await rest('POST', `/znodes${p}/k`); await rest('PUT', `/znodes${p}`, '1'); await rest('PUT', `/znodes${p}`, '2'); await rest('DELETE', `/znodes${p}/k`); },
      (p) => [`NodeChildrenChanged ${p}`, `NodeDataChanged ${p}`, `NodeDataChanged ${p}`, `NodeChildrenChanged ${p}`]],
    ['persistent_recursive + changes below, never NodeChildrenChanged', (w, p) => w.request('addWatch', { path: p, mode: 'persistent_recursive' }),
      async (p) => { await rest('POST', `/znodes${p}/a/b?parents=true`); await rest('PUT', `/znodes${p}/a/b`, '1'); await rest('DELETE', `/znodes${p}?recursive=true`); },
      (p) => [`NodeCreated ${p}/a`, `NodeCreated ${p}/a/b`, `NodeDataChanged ${p}/a/b`, `NodeDeleted ${p}/a/b`, `NodeDeleted ${p}/a`, `NodeDeleted ${p}`]],
    ['data and children watch + delete: one notification', async (w, p) => { await w.request('get', { path: p, watch: true }); return w.request('children', { path: p, watch: true }); },
      (p) => rest('DELETE', `/znodes${p}`), (p) => [`NodeDeleted ${p}`]],
    ['get watch + a multi that sets it', (w, p) => w.request('get', { path: p, watch: true }),
      (p) => rest('POST', '/multi', JSON.stringify({ ops: [{ op: 'set', path: p, data: 'm' }, { op: 'create', path: `${p}/m` }] })), (p) => [`NodeDataChanged ${p}`]],
    ['get watch + a multi that fails (nothing applied, no event)', (w, p) => w.request('get', { path: p, watch: true }),
      (p) => rest('POST', '/multi', JSON.stringify({ ops: [{ op: 'set', path: p, data: 'm' }, { op: 'delete', path: `${p}/none` }] })), () => []],
  ];
  let n = 0;
  for (const [name, arm, change, want] of cases) {
    test(name, async () => {
      const p = `/table${n++}`;
      await rest('POST', `/znodes${p}`, 'v');
      const w = await WsTestClient.connect(s.url);
      try {
        const r = (await arm(w, p)) as Msg;
        assert.equal(r.ok, true, JSON.stringify(r));
        await change(p);
        await settle(w);
        // a marker change proves later events would have arrived by now
        await w.request('addWatch', { path: '/marker' + p, mode: 'persistent' });
        await rest('POST', `/znodes/marker${p}?parents=true`);
        await w.waitFor((m) => m.type === 'event' && m.path === '/marker' + p);
        assert.deepEqual(evs(w).filter((e) => !e.includes('/marker')), want(p));
        // one-shot watches are gone: a second change fires nothing more
      } finally { w.close(); }
    });
  }

  test('a watch set over REST with the session of a live socket fires on that socket', async () => {
    const w = await WsTestClient.connect(s.url);
    try {
      await rest('POST', '/znodes/restwatch', 'a');
      const g = await rest('GET', '/znodes/restwatch?watch=true', undefined, { 'zoogate-session': w.sessionId });
      assert.equal(g.status, 200);
      const h = await fetch(`${s.url}/znodes/restwatch-absent?watch=true`, { method: 'HEAD', headers: { 'zoogate-session': w.sessionId } });
      assert.equal(h.status, 404);
      await rest('PUT', '/znodes/restwatch', 'b');
      await rest('POST', '/znodes/restwatch-absent');
      await w.waitEvents(2);
      assert.deepEqual(evs(w), ['NodeDataChanged /restwatch', 'NodeCreated /restwatch-absent']);
      const other = await rest('POST', '/sessions', '{}');
      const refused = await rest('GET', '/znodes/restwatch?watch=true', undefined, { 'zoogate-session': (other.body as { sessionId: string }).sessionId });
      assert.equal(refused.status, 400, 'a session without a live socket cannot watch');
    } finally { w.close(); }
  });

  test('ephemeral cleanup at session close fires other sessions\' watches', async () => {
    const owner = await WsTestClient.connect(s.url);
    const w = await WsTestClient.connect(s.url);
    try {
      await owner.request('create', { path: '/eph-watched', mode: 'ephemeral' });
      await w.request('exists', { path: '/eph-watched', watch: true });
      await w.request('addWatch', { path: '/', mode: 'persistent' });
      owner.send({ type: 'close' });
      const state = await owner.waitFor((m) => m.type === 'state');
      assert.equal(state.state, 'Closed');
      await w.waitEvents(2);
      assert.deepEqual(evs(w), ['NodeDeleted /eph-watched', 'NodeChildrenChanged /']);
    } finally { w.close(); owner.terminate(); }
  });

  test('a recursive watch does not reveal nodes under a parent the watcher may not list (CVE-2024-23944)', async () => {
    const { digestOf } = await import('../../api/http-util.ts');
    const w = await WsTestClient.connect(s.url);
    try {
      await w.request('addWatch', { path: '/guarded', mode: 'persistent_recursive' });
      await rest('POST', '/znodes/guarded');
      await rest('POST', '/znodes/guarded/secret', '', { 'zoogate-acl': `digest:${digestOf('bob:pw')}:cdrwa` });
      await rest('POST', '/znodes/guarded/open');
      const basic = 'Basic ' + Buffer.from('bob:pw').toString('base64');
      await rest('POST', '/znodes/guarded/secret/inner-name', '', { authorization: basic });
      await rest('POST', '/znodes/guarded/open/visible');
      await w.waitEvents(4);
      await settle(w);
      assert.deepEqual(evs(w), ['NodeCreated /guarded', 'NodeCreated /guarded/secret', 'NodeCreated /guarded/open', 'NodeCreated /guarded/open/visible']);
    } finally { w.close(); }
  });

  test('removeWatches by kind; NoWatcher when there is none', async () => {
    const w = await WsTestClient.connect(s.url);
    try {
      await rest('POST', '/znodes/rw', 'a');
      await w.request('get', { path: '/rw', watch: true });
      await w.request('children', { path: '/rw', watch: true });
      assert.equal((await w.request('removeWatches', { path: '/rw', kind: 'data' })).ok, true);
      const again = await w.request('removeWatches', { path: '/rw', kind: 'data' });
      assert.equal(again.ok, false);
      assert.equal(again.error.code, 'NoWatcher');
      await rest('PUT', '/znodes/rw', 'b');
      await rest('POST', '/znodes/rw/k');
      await w.waitEvents(1);
      await settle(w);
      assert.deepEqual(evs(w), ['NodeChildrenChanged /rw']);
    } finally { w.close(); }
  });
});

describe('ordering', () => {
  test('a writer sees its own change\'s event before the answer to its write; answers come in request order', async () => {
    const c = await WsTestClient.connect(s.url);
    try {
      await c.request('create', { path: '/ord', data: '0' });
      await c.request('get', { path: '/ord', watch: true });
      const ids = [c.fire('set', { path: '/ord', data: '1' }), c.fire('get', { path: '/ord' }), c.fire('create', { path: '/ord' }), c.fire('set', { path: '/ord', data: '2', version: 1 })];
      await c.next((m) => m.type === 'response' && m.id === ids[3]);
      const tail = c.messages.slice(c.messages.findIndex((m) => m.type === 'event'));
      assert.deepEqual(tail.map((m) => (m.type === 'event' ? `event ${m.event}` : `response ${m.id}`)),
        ['event NodeDataChanged', ...ids.map((i) => `response ${i}`)]);
      assert.equal(tail[2]!.result.data, '1', 'a read after a write on the same socket sees the write');
      assert.equal(tail[3]!.error.code, 'NodeExists');
      assert.equal(tail[4]!.ok, true);
    } finally { c.close(); }
  });

  test('under concurrent writers every recursive watcher gets exactly the log\'s changes, in zxid order', async () => {
    const watchers = await Promise.all(Array.from({ length: 4 }, () => WsTestClient.connect(s.url)));
    const writers = await Promise.all(Array.from({ length: 6 }, () => WsTestClient.connect(s.url)));
    await rest('POST', '/znodes/conc');
    for (const w of watchers) await w.request('addWatch', { path: '/conc', mode: 'persistent_recursive' });
    const startZxid = s.node.lastZxid;
    const rnd = prng(7);
    await Promise.all(writers.map(async (w, wi) => {
      for (let i = 0; i < 60; i++) {
        const p = `/conc/n${rnd(12)}`;
        const k = rnd(4);
        if (k === 0) await w.request('create', { path: p, data: `${wi}` });
        else if (k === 1) await w.request('set', { path: p, data: `${wi}-${i}` });
        else if (k === 2) await w.request('delete', { path: p });
        else await w.request('multi', { ops: [{ op: 'create', path: `${p}-m${wi}-${i}` }, { op: 'delete', path: `${p}-m${wi}-${i}` }] });
      }
    }));
    const endZxid = s.node.lastZxid;
    // the expected stream, from the log
    const { eventsOfTxn } = await import('../../core/tree/txn-events.ts');
    const want = s.node.store.readAfter(startZxid, 1e6).filter((t) => t.zxid <= endZxid).flatMap(eventsOfTxn)
      .filter((e) => e.type !== 'NodeChildrenChanged' && e.path.startsWith('/conc/')).map((e) => `${e.zxid} ${e.type} ${e.path}`);
    assert.ok(want.length > 50, `only ${want.length} events in the log between ${startZxid} and ${endZxid}`);
    for (const w of watchers) {
      await w.waitEvents(want.length);
      await settle(w);
      assert.deepEqual(w.events().map((e) => `${e.zxid} ${e.event} ${e.path}`), want);
    }
    for (const c of [...watchers, ...writers]) c.close();
  });
});

describe('sessions over the socket', () => {
  test('a dropped socket leaves the session alive; resuming re-registers watches and fires what was missed', async () => {
    const a = await WsTestClient.connect(s.url, { timeoutMs: 2000 });
    await rest('POST', '/znodes/res-data', '0');
    await rest('POST', '/znodes/res-kids');
    await rest('POST', '/znodes/res-quiet', 'q');
    await a.request('create', { path: '/res-eph', mode: 'ephemeral' });
    await a.request('get', { path: '/res-data', watch: true });
    await a.request('get', { path: '/res-quiet', watch: true });
    await a.request('children', { path: '/res-kids', watch: true });
    await a.request('addWatch', { path: '/res-tree', mode: 'persistent_recursive' });
    const lastZxid = Number((await a.request('sync', { path: '/' })).result.zxid);
    a.terminate();
    await a.waitClose();
    await rest('PUT', '/znodes/res-data', '1');
    await rest('POST', '/znodes/res-kids/k');
    await rest('POST', '/znodes/res-tree/x/y?parents=true');
    assert.equal((await rest('GET', '/znodes/res-eph')).status, 200, 'the session outlives its socket');
    const b = await WsTestClient.connect(s.url, {
      sessionId: a.sessionId, lastZxid,
      watches: [{ path: '/res-data', kind: 'data' }, { path: '/res-quiet', kind: 'data' }, { path: '/res-kids', kind: 'children' }, { path: '/res-tree', kind: 'persistent_recursive' }],
    });
    try {
      assert.equal(b.sessionId, a.sessionId);
      await b.waitEvents(5);
      assert.deepEqual(evs(b), ['NodeDataChanged /res-data', 'NodeChildrenChanged /res-kids', 'NodeCreated /res-tree', 'NodeCreated /res-tree/x', 'NodeCreated /res-tree/x/y']);
      await rest('PUT', '/znodes/res-quiet', 'changed');
      await b.waitEvents(6);
      assert.equal(evs(b)[5], 'NodeDataChanged /res-quiet', 'the unchanged watch was re-registered');
    } finally { b.close(); }
  });

  test('a server behind the client\'s lastZxid refuses with StaleServer', async () => {
    const a = await WsTestClient.connect(s.url);
    const b = await WsTestClient.connect(s.url, { sessionId: a.sessionId, lastZxid: s.node.lastZxid + 1000 });
    assert.equal(b.messages[0]!.type, 'error');
    assert.equal(b.messages[0]!.code, 'StaleServer');
    await b.waitClose();
    a.close();
  });

  test('a second connection takes the session over and the first is closed', async () => {
    const a = await WsTestClient.connect(s.url);
    const b = await WsTestClient.connect(s.url, { sessionId: a.sessionId });
    assert.equal(b.sessionId, a.sessionId);
    assert.equal((await a.waitClose()).code, 4001);
    assert.equal((await b.request('exists', { path: '/' })).ok, true);
    b.close();
  });

  test('a client that stops answering pings loses its session: Expired is announced, its ephemerals go, others\' watches fire', async () => {
    const w = await WsTestClient.connect(s.url);
    const mute = await WsTestClient.connect(s.url, { timeoutMs: 400 }, { autoPong: false });
    try {
      await mute.request('create', { path: '/mute-eph', mode: 'ephemeral' });
      await w.request('exists', { path: '/mute-eph', watch: true });
      // the mute client sends nothing more and does not pong
      const closed = await mute.waitClose(5000);
      const state = mute.messages.find((m) => m.type === 'state');
      assert.equal(state?.state, 'Expired', `closed ${JSON.stringify(closed)} with ${JSON.stringify(mute.messages.slice(-3))}`);
      await w.waitEvents(1);
      assert.deepEqual(evs(w), ['NodeDeleted /mute-eph']);
      const again = await WsTestClient.connect(s.url, { sessionId: mute.sessionId });
      assert.equal(again.messages[0]!.type, 'state');
      assert.equal(again.messages[0]!.state, 'Expired');
    } finally { w.close(); }
  });

  test('an open socket keeps its session alive well past the timeout', async () => {
    const c = await WsTestClient.connect(s.url, { timeoutMs: 300 });
    try {
      await c.request('create', { path: '/kept-alive', mode: 'ephemeral' });
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal((await rest('GET', '/znodes/kept-alive')).status, 200);
      assert.equal(c.closed, null);
    } finally { c.close(); }
  });
});

describe('back-pressure', () => {
  test('a consumer that does not read is cut off with a reason while another keeps receiving', async () => {
    const slow = await WsTestClient.connect(s.url, { timeoutMs: 2000 });
    const fast = await WsTestClient.connect(s.url);
    await slow.request('addWatch', { path: '/flood', mode: 'persistent_recursive' });
    await fast.request('addWatch', { path: '/flood', mode: 'persistent_recursive' });
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const long = 'x'.repeat(2000);
    let made = 0;
    for (let b = 0; b < 40 && s.hub.hasChannel(slow.sessionId); b++) {
      const ops = Array.from({ length: 100 }, (_, i) => ({ op: 'create', path: `/flood/${long}${b}-${i}` }));
      const r = await rest('POST', '/multi', JSON.stringify({ ops: [{ op: 'create', path: `/flood-${b}` }, ...ops.map((o, i) => (i === 0 && b === 0 ? { ...o, path: '/flood' } : o))] }));
      if (r.status === 200) made += 100;
    }
    assert.equal(s.hub.hasChannel(slow.sessionId), false, 'the slow consumer was cut off');
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.waitClose(5000);
    assert.equal(closed.code, 4008);
    assert.match(closed.reason, /slow consumer/);
    await fast.waitEvents(made, 10_000);
    assert.equal((await fast.request('exists', { path: '/flood' })).ok, true, 'the other client is unaffected');
    assert.equal((await rest('GET', `/sessions/${slow.sessionId}`)).status, 200, 'the session itself lives on');
    fast.close();
  });
});
