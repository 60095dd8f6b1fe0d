/**
 * ZooGateSession against a real in-process server: pipelined requests with
 * typed results, watches of every kind, the events iterator, close and the
 * ends of a session (Closed, Expired); and, through a proxy and a fake stale
 * node, what happens when the socket drops: reads re-sent, writes reported
 * outcomeUnknown, StaleServer nodes skipped, watches carried over.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateError, ZooGateRest, ZooGateSession, type WatchEvent } from '../../client/index.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { freePort } from '../support/process-cluster.ts';
import { recordStates, StaleNode, waitFor, WsProxy } from './support.ts';

async function failsWith(p: Promise<unknown>, code: string): Promise<ZooGateError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ZooGateError, `expected a ZooGateError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

const brief = (e: WatchEvent) => `${e.event} ${e.path}`;

describe('ZooGateSession', () => {
  let s: TestServer;
  let rest: ZooGateRest;
  const open: ZooGateSession[] = [];
  const connect = async (urls: string[], opts: Parameters<typeof ZooGateSession.connect>[1] = {}) => {
    const z = await ZooGateSession.connect(urls, { timeoutMs: 2000, ...opts });
    open.push(z);
    return z;
  };

  before(async () => {
    s = await startTestServer();
    rest = new ZooGateRest([s.url]);
  });
  after(async () => {
    await Promise.all(open.map((z) => z.close()));
    await s.destroy();
  });

  test('connects, pipelines requests (answered in order, typed), reports errors with codes', async () => {
    const z = await connect([s.url]);
    assert.equal(z.state, 'Connected');
    assert.match(z.sessionId, /^[0-9a-f]{16}$/);
    assert.equal(z.timeoutMs, 2000);
    assert.equal(z.serverId, 1);
    assert.equal(z.node, s.url);
    assert.ok(z.lastZxid > 0, 'the connect frame shows the zxid');

    await z.create('/p', 'root');
    // 50 writes and reads in flight at once, answered in order
    const order: number[] = [];
    const all = Array.from({ length: 50 }, (_, i) => (i % 2 === 0
      ? z.create(`/p/n${i}`, `v${i}`).then(() => order.push(i))
      : z.exists(`/p/n${i - 1}`).then((st) => {
        assert.ok(st, 'a read sees the same client\'s earlier write');
        order.push(i);
      })));
    await Promise.all(all);
    assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));

    const got = await z.get('/p/n0', { as: 'utf8' });
    const text: string = got.data;
    assert.equal(text, 'v0');
    const raw: Uint8Array = (await z.get('/p/n0')).data;
    assert.deepEqual(raw, new TextEncoder().encode('v0'));
    await z.set('/p/n0', new Uint8Array([0xff, 0xfe]), { version: 0 });
    assert.deepEqual((await z.get('/p/n0')).data, new Uint8Array([0xff, 0xfe]));
    assert.equal((await z.children('/p')).children.length, 25);
    assert.equal((await z.getAcl('/p')).acl[0]!.scheme, 'world');
    assert.equal((await z.setAcl('/p', [{ scheme: 'world', id: 'anyone', perms: 'cdrwa' }], { aversion: 0 })).stat.aversion, 1);
    const m = await z.multi([{ op: 'create', path: '/p/m', data: new Uint8Array([1]) }, { op: 'delete', path: '/p/n2' }]);
    assert.ok(m.zxid > 0);
    assert.ok(z.lastZxid >= m.zxid);
    const sync = await z.sync('/p');
    assert.ok(sync.zxid >= m.zxid);
    // the low-level call takes the spec's request shape and returns its result
    const ex = await z.request('exists', { path: '/p/m' });
    assert.equal(ex.stat?.dataLength, 1);

    let e = await failsWith(z.get('/p/none'), 'NoNode');
    assert.equal(e.path, '/p/none');
    await failsWith(z.create('/p'), 'NodeExists');
    await failsWith(z.set('/p/n0', 'x', { version: 9 }), 'BadVersion');
    await failsWith(z.delete('/p'), 'NotEmpty');
    await failsWith(z.removeWatches('/p'), 'NoWatcher');
    e = await failsWith(z.multi([{ op: 'check', path: '/p', version: 5 }, { op: 'create', path: '/p/x' }]), 'BadVersion');
    assert.equal(e.failedOp, 0);
    assert.deepEqual(e.results, [{ error: 'BadVersion' }, { error: 'RuntimeInconsistency' }]);
    await z.delete('/p', { recursive: true });
  });

  test('watches: one-shot data/exists/children fire once, persistent ones stay, removeWatches drops them', async () => {
    const z = await connect([s.url]);
    const all: string[] = [];
    z.onEvent((e) => all.push(brief(e)));
    await z.create('/w', 'a');

    const data: string[] = [];
    const created: string[] = [];
    const kids: string[] = [];
    await z.get('/w', { watch: (e) => data.push(brief(e)) });
    assert.equal(await z.exists('/w/c', { watch: (e) => created.push(brief(e)) }), null);
    await z.children('/w', { watch: (e) => kids.push(brief(e)) });
    const persistent: string[] = [];
    const recursive: string[] = [];
    await z.addWatch('/w', 'persistent', (e) => persistent.push(brief(e)));
    await z.addWatch('/w', 'persistent_recursive', (e) => recursive.push(brief(e)));
    assert.deepEqual(z.heldWatches().map((w) => `${w.kind} ${w.path}`).sort(),
      ['children /w', 'data /w', 'exists /w/c', 'persistent /w', 'persistent_recursive /w']);

    await rest.set('/w', 'b');
    await rest.set('/w', 'c');
    await rest.create('/w/c', 'x');
    await rest.set('/w/c', 'y');
    await z.sync(); // every event of those changes has arrived before this answer
    assert.deepEqual(data, ['NodeDataChanged /w'], 'a one-shot data watch fires once');
    assert.deepEqual(created, ['NodeCreated /w/c']);
    assert.deepEqual(kids, ['NodeChildrenChanged /w']);
    assert.deepEqual(persistent, ['NodeDataChanged /w', 'NodeDataChanged /w', 'NodeChildrenChanged /w']);
    assert.deepEqual(recursive, ['NodeDataChanged /w', 'NodeDataChanged /w', 'NodeCreated /w/c', 'NodeDataChanged /w/c']);
    // one notification per change reaches the default watcher
    assert.deepEqual(all, ['NodeDataChanged /w', 'NodeDataChanged /w', 'NodeCreated /w/c', 'NodeChildrenChanged /w', 'NodeDataChanged /w/c']);
    assert.deepEqual(z.heldWatches().map((w) => `${w.kind} ${w.path}`).sort(), ['persistent /w', 'persistent_recursive /w']);

    await z.removeWatches('/w', 'persistent');
    await rest.set('/w', 'd');
    await z.removeWatches('/w', 'any');
    assert.deepEqual(z.heldWatches(), []);
    await rest.delete('/w', { recursive: true });
    await z.sync();
    assert.deepEqual(persistent.length, 3, 'removed: no more events');
    assert.deepEqual(recursive.at(-1), 'NodeDataChanged /w');
    assert.deepEqual(all.at(-1), 'NodeDataChanged /w');
  });

  test('events() iterates watch events until the session ends; close() takes the ephemerals and ends every request', async () => {
    const z = await connect([s.url]);
    const states = recordStates(z);
    await z.create('/it', '');
    await z.create('/it/mine', 'e', { mode: 'ephemeral' });
    await z.addWatch('/it', 'persistent_recursive');
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of z.events()) seen.push(brief(e));
    })();
    await rest.set('/it', 'x');
    await rest.create('/it/other');
    await waitFor('two events through the iterator', () => seen.length >= 2);
    assert.deepEqual(seen, ['NodeDataChanged /it', 'NodeCreated /it/other']);

    await z.close();
    await reading; // the iterator ended with the session
    assert.equal(z.state, 'Closed');
    assert.deepEqual(states.map((c) => c.state), ['Closed']);
    assert.equal(await rest.exists('/it/mine'), null, 'the ephemeral went with the session');
    await failsWith(z.get('/it'), 'SessionClosed');
    await z.close(); // idempotent
  });

  test('a session closed elsewhere is Closed; one expired by the ensemble is Expired; requests then fail', async () => {
    const a = await connect([s.url]);
    const aStates = recordStates(a);
    await rest.closeSession(a.sessionId);
    await waitFor('state Closed', () => a.state === 'Closed');
    assert.deepEqual(aStates.map((c) => `${c.state} ${c.reason}`), ['Closed server']);

    const b = await connect([s.url]);
    const bStates = recordStates(b);
    await b.create('/exp', 'x', { mode: 'ephemeral' });
    // the leader expires the session (as it does when it has not heard from it in time): a `state` Expired frame
    s.node.submitWith({ op: 'expireSession', sessionId: b.sessionId }, { sessionId: null, auth: [] }, () => {});
    await waitFor('state Expired', () => b.state === 'Expired');
    assert.deepEqual(bStates.map((c) => c.state), ['Expired']);
    await failsWith(b.exists('/'), 'SessionExpired');
    assert.equal(await rest.exists('/exp'), null);
  });

  test('when the socket drops: reads in flight are re-sent, writes in flight fail outcomeUnknown and are not re-sent', async () => {
    const proxy = new WsProxy(s.url);
    await proxy.ready;
    try {
      await rest.create('/drop', '0');
      const z = await connect([proxy.url, s.url], { shuffle: false, reconnectDelayMs: 0 });
      const states = recordStates(z);
      assert.equal(z.node, proxy.url);
      await z.get('/drop', { watch: true });
      proxy.holdRequests = true; // from now on, requests vanish on the way: in flight until the socket goes
      const write = z.set('/drop', 'lost?');
      const read = z.get('/drop', { as: 'utf8' });
      const create = z.create('/drop/c', 'x');
      await waitFor('the three requests held', () => proxy.held.length === 3);
      proxy.cut();

      const w = await failsWith(write, 'ConnectionLoss');
      assert.equal(w.outcomeUnknown, true);
      assert.equal(w.path, '/drop');
      const c = await failsWith(create, 'ConnectionLoss');
      assert.equal(c.outcomeUnknown, true);
      assert.equal((await read).data, '0', 'the read was answered after the move');
      await waitFor('Reconnected', () => states.some((x) => x.state === 'Reconnected'));
      assert.deepEqual(states.map((x) => x.state), ['Disconnected', 'Reconnected']);
      assert.equal(states[1]!.node, s.url);
      assert.equal(z.state, 'Connected');
      // neither write was applied (they never reached the server), and neither was re-sent
      assert.equal((await rest.get('/drop', { as: 'utf8' })).stat.version, 0);
      assert.equal(await rest.exists('/drop/c'), null);
      // the data watch came along
      assert.deepEqual(z.heldWatches(), [{ path: '/drop', kind: 'data' }]);
      const fired = new Promise<WatchEvent>((r) => z.onEvent(r));
      await rest.set('/drop', '1');
      assert.equal(brief(await fired), 'NodeDataChanged /drop');

      // with retryReads off, a read in flight fails too (not outcomeUnknown: nothing changed)
      const strict = await connect([proxy.url, s.url], { shuffle: false, retryReads: false, reconnectDelayMs: 0 });
      proxy.held.length = 0;
      const r2 = strict.exists('/drop');
      await waitFor('the read held', () => proxy.held.length === 1);
      proxy.cut();
      const e = await failsWith(r2, 'ConnectionLoss');
      assert.equal(e.outcomeUnknown, false);
      await waitFor('strict reconnected', () => strict.state === 'Connected' && strict.node === s.url);
    } finally {
      await proxy.close();
    }
  });

  test('a socket that dies between the events of one transaction: the rest arrive after the move, none twice', async () => {
    const proxy = new WsProxy(s.url);
    await proxy.ready;
    try {
      await rest.create('/split', '');
      await rest.create('/split/a', '');
      await rest.create('/pr', '');
      const z = await connect([proxy.url, s.url], { shuffle: false, reconnectDelayMs: 0 });
      const seen: string[] = [];
      z.onEvent((e) => seen.push(brief(e)));
      await z.get('/split/a', { watch: true });
      await z.children('/split', { watch: true });
      await z.addWatch('/pr', 'persistent_recursive');
      // one delete fires the data watch and the child watch at one zxid: the socket dies after the first event
      proxy.cutAfter = (m) => m.type === 'event';
      await rest.delete('/split/a');
      await waitFor('moved to the server', () => z.state === 'Connected' && z.node === s.url);
      await waitFor('both events of the delete', () => seen.length >= 2);
      assert.deepEqual([...seen].sort(), ['NodeChildrenChanged /split', 'NodeDeleted /split/a']);
      // one multi creates two nodes under a persistent recursive watch: cut after the first event again
      const z2 = await connect([proxy.url, s.url], { shuffle: false, reconnectDelayMs: 0 });
      const seen2: string[] = [];
      z2.onEvent((e) => seen2.push(brief(e)));
      await z2.addWatch('/pr', 'persistent_recursive');
      proxy.cutAfter = (m) => m.type === 'event';
      await rest.multi([{ op: 'create', path: '/pr/x' }, { op: 'create', path: '/pr/y' }]);
      await waitFor('moved to the server', () => z2.state === 'Connected' && z2.node === s.url);
      await waitFor('both creates', () => seen2.length >= 2);
      await rest.create('/pr/z', ''); // a later change: by its arrival any replayed duplicate would be here too
      await waitFor('the later create', () => seen2.includes('NodeCreated /pr/z'));
      assert.deepEqual(seen2, ['NodeCreated /pr/x', 'NodeCreated /pr/y', 'NodeCreated /pr/z']);
      assert.deepEqual(seen.filter((e) => e.startsWith('NodeCreated')), ['NodeCreated /pr/x', 'NodeCreated /pr/y', 'NodeCreated /pr/z'], 'the first session too, once each');
    } finally {
      await proxy.close();
    }
  });

  test('a node behind the session (StaleServer) is skipped; the session resumes on one that has its state', async () => {
    const stale = new StaleNode();
    await stale.ready;
    const proxy = new WsProxy(s.url);
    await proxy.ready;
    try {
      const z = await connect([proxy.url, stale.url, s.url], { shuffle: false, reconnectDelayMs: 0 });
      const states = recordStates(z);
      await z.create('/stale-test', 'v1');
      await z.get('/stale-test', { watch: true });
      const seen = z.lastZxid;
      proxy.cut();
      await waitFor('Reconnected', () => z.state === 'Connected' && states.length === 2);
      assert.deepEqual(states.map((x) => x.state), ['Disconnected', 'Reconnected']);
      assert.equal(z.node, s.url, 'not the stale node');
      // the stale node was asked to resume this session at what it had seen, with its watches
      assert.deepEqual(stale.connects, [{ type: 'connect', sessionId: z.sessionId, lastZxid: seen, watches: [{ path: '/stale-test', kind: 'data' }] }]);
      assert.equal((await z.get('/stale-test', { as: 'utf8' })).data, 'v1');
    } finally {
      await stale.close();
      await proxy.close();
    }
  });

  test('the first connect fails with ConnectionLoss when no node answers in time', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    const e = await failsWith(ZooGateSession.connect([dead], { connectTimeoutMs: 300 }), 'ConnectionLoss');
    assert.ok(Date.now() - t0 < 3000);
    assert.match(e.message, /no node took the session/);
  });
});
