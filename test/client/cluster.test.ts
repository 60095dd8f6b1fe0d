/**
 * The client against a real 3-process ensemble, with kill -9: a session moves
 * to another node and keeps its ephemerals and watches (no event lost, state
 * never older than seen), a write in flight during the kill is reported
 * outcomeUnknown, and a session cut off from every node for longer than its
 * timeout is Expired.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateError, ZooGateRest, ZooGateSession, type WatchEvent } from '../../client/index.ts';
import { ProcessCluster } from '../support/process-cluster.ts';
import { recordStates, waitFor } from './support.ts';

describe('the client against a 3-process ensemble', { timeout: 120_000 }, () => {
  let c: ProcessCluster;
  let leader: number;
  const sessions: ZooGateSession[] = [];
  const url = (id: number) => c.member(id).url;
  const followers = () => [1, 2, 3].filter((i) => i !== leader);
  /** A node's URL first, then the others: the session starts on `first`. */
  const startingAt = (first: number) => [first, ...[1, 2, 3].filter((i) => i !== first)].map(url);
  const connect = async (first: number, opts: Parameters<typeof ZooGateSession.connect>[1] = {}) => {
    // the cluster's tick is 100 ms, so 2 s is the longest timeout it grants
    const z = await ZooGateSession.connect(startingAt(first), { timeoutMs: 2000, shuffle: false, ...opts });
    sessions.push(z);
    assert.equal(z.serverId, first);
    return z;
  };
  const restart = async (id: number) => {
    c.start(id);
    leader = await c.waitStable();
  };

  before(async () => {
    c = await new ProcessCluster(3).init();
    c.startAll();
    leader = await c.waitStable();
  });
  after(async () => {
    for (const m of c.members) if (m.proc?.pid) process.kill(m.proc.pid, 'SIGCONT');
    await Promise.all(sessions.map((z) => z.close()));
    await c.destroy();
  });

  test('a session survives the kill -9 of its node: same session, its ephemeral, a watch that fires for a change made meanwhile, no older state', async () => {
    const victim = followers()[0]!;
    // a pause before moving, so that the change below lands while the session has no node
    const z = await connect(victim, { reconnectDelayMs: 400 });
    const survivors = new ZooGateRest([1, 2, 3].filter((i) => i !== victim).map(url), { shuffle: false });
    const states = recordStates(z);
    const sessionId = z.sessionId;

    await z.create('/svc/me', 'alive', { mode: 'ephemeral', parents: true });
    await z.create('/watched', '0');
    const dataEvents: WatchEvent[] = [];
    await z.get('/watched', { watch: (e) => dataEvents.push(e) });
    const treeEvents: string[] = [];
    await z.addWatch('/tree', 'persistent_recursive', (e) => treeEvents.push(`${e.event} ${e.path}`));
    const before = await z.get('/watched', { as: 'utf8' });
    const seenBefore = z.lastZxid;

    let change: { zxid: number; at: number } | null = null;
    let reconnectedAt = 0;
    z.onState((s) => {
      if (s.state === 'Disconnected') {
        // made by someone else while the session looks for a node
        void survivors.set('/watched', '1').then(async (r) => {
          await survivors.create('/tree/a/b', 'x', { parents: true });
          change = { zxid: r.stat.mzxid, at: Date.now() };
        });
      }
      if (s.state === 'Reconnected') reconnectedAt = Date.now();
    });

    await c.kill(victim);
    await waitFor('Reconnected', () => reconnectedAt > 0, 10_000);
    assert.deepEqual(states.map((s) => s.state), ['Disconnected', 'Reconnected']);
    assert.equal(states[0]!.node, url(victim));
    assert.equal(z.sessionId, sessionId, 'the same session');
    assert.notEqual(z.serverId, victim);
    assert.ok(change !== null && (change as { at: number }).at <= reconnectedAt, 'the change was made while the session was moving');
    const changed = change as unknown as { zxid: number };

    // the watch set before the kill fired for it, and the persistent watch replayed what it missed
    await waitFor('the data watch to fire', () => dataEvents.length > 0, 5000);
    assert.deepEqual(dataEvents, [{ type: 'event', event: 'NodeDataChanged', path: '/watched', zxid: changed.zxid }]);
    await waitFor('the recursive watch to catch up', () => treeEvents.length >= 3, 5000);
    assert.deepEqual(treeEvents, ['NodeCreated /tree', 'NodeCreated /tree/a', 'NodeCreated /tree/a/b']);

    // the ephemeral lives on, owned by the same session
    assert.equal((await z.exists('/svc/me'))?.ephemeralOwner, sessionId);
    assert.deepEqual((await survivors.sessionInfo(sessionId)).ephemerals, ['/svc/me']);

    // never older than what was seen: the read after the move sees the change and more
    assert.ok(z.lastZxid >= seenBefore && z.lastZxid >= changed.zxid);
    const after = await z.get('/watched', { as: 'utf8' });
    assert.equal(after.data, '1');
    assert.ok(after.stat.mzxid > before.stat.mzxid && after.stat.version === before.stat.version + 1);

    await z.close();
    await waitFor('closing to take the ephemeral', async () => (await survivors.exists('/svc/me')) === null, 5000);
    await restart(victim);
  });

  test('writes in flight when the node is killed are outcomeUnknown, never re-sent; a REST client moving nodes reads what it saw', async () => {
    const victim = followers()[1]!;
    const z = await connect(victim, { reconnectDelayMs: 0 });
    const states = recordStates(z);
    const rest = new ZooGateRest(startingAt(victim), { shuffle: false });
    const seen = await rest.create('/rest-seen', 'v1');
    assert.equal(rest.node, url(victim));
    await z.create('/inflight', '');

    const N = 300;
    let answered = 0;
    const outcomes = Array.from({ length: N }, (_, i) => z.create('/inflight/n-', String(i), { mode: 'persistent_sequential' }).then(
      (r) => (answered++, { i, path: r.path as string | null, error: null as unknown }),
      (e: unknown) => ({ i, path: null, error: e }),
    ));
    await waitFor('a few answers, so that the kill lands mid-stream', () => answered >= 5, 10_000);
    await c.kill(victim);
    const settled = await Promise.all(outcomes);

    const ok = settled.filter((o) => o.error === null);
    const unknown = settled.filter((o) => o.error !== null);
    assert.ok(ok.length >= 5 && unknown.length >= 1, `${ok.length} answered, ${unknown.length} in flight`);
    for (const u of unknown) {
      assert.ok(u.error instanceof ZooGateError, String(u.error));
      assert.equal(u.error.code, 'ConnectionLoss');
      assert.equal(u.error.outcomeUnknown, true, 'a write in flight is not reported as failed or done');
    }
    // answered in order: everything after the first unknown is unknown too
    const firstUnknown = unknown[0]!.i;
    assert.ok(ok.every((o) => o.i < firstUnknown));

    await waitFor('the session to move', () => z.state === 'Connected' && states.some((s) => s.state === 'Reconnected'), 10_000);
    const kids = (await z.children('/inflight')).children;
    const data = await Promise.all(kids.map(async (k) => (await z.get(`/inflight/${k}`, { as: 'utf8' })).data));
    assert.equal(new Set(data).size, data.length, 'no write applied twice: nothing was re-sent');
    for (const o of ok) assert.equal(data[kids.indexOf(o.path!.slice('/inflight/'.length))], String(o.i), 'every acknowledged write is there');
    assert.ok(data.length <= N && data.length >= ok.length);
    // the unknown ones may or may not be there (the leader may have committed some), but only once each, as sent
    const maybe = data.filter((d) => Number(d) >= firstUnknown).length;
    assert.ok(maybe <= unknown.length);

    // REST: the next read goes to another node, with Zoogate-Min-Zxid, and sees at least what was seen
    const r = await rest.get('/rest-seen', { as: 'utf8' });
    assert.equal(r.data, 'v1');
    assert.notEqual(rest.node, url(victim));
    assert.ok(rest.lastZxid >= seen.stat.czxid);

    await z.delete('/inflight', { recursive: true });
    await restart(victim);
  });

  test('a session that reaches no node for longer than its timeout is Expired; the ensemble expires it too', async () => {
    const first = followers()[0]!;
    const others = [1, 2, 3].filter((i) => i !== first);
    const z = await connect(first);
    const states = recordStates(z);
    await z.create('/gone/eph', 'x', { mode: 'ephemeral', parents: true });
    // another client, told what the session has seen, so that it never reads behind it
    const rest = new ZooGateRest(others.map(url), { shuffle: false, minZxid: z.lastZxid });
    assert.ok(await rest.exists('/gone/eph'));

    // the other two stop answering (paused), and the session's node dies
    const paused = others.map((id) => c.member(id).proc!.pid!);
    for (const pid of paused) process.kill(pid, 'SIGSTOP');
    let pending: Promise<unknown> | null = null;
    try {
      const t0 = Date.now();
      await c.kill(first);
      await waitFor('Disconnected', () => z.state === 'Disconnected', 5000);
      pending = z.exists('/gone/eph').catch((e: unknown) => e); // waits for a node, then fails with the session
      await waitFor('Expired', () => z.state === 'Expired', 10_000);
      const took = Date.now() - t0;
      assert.ok(took >= 1000 && took < 8000, `expired after ${took} ms (timeout ${z.timeoutMs})`);
    } finally {
      for (const pid of paused) process.kill(pid, 'SIGCONT');
    }
    assert.deepEqual(states.map((s) => s.state), ['Disconnected', 'Expired']);
    assert.match(states[1]!.reason ?? '', /timeout/);
    const e = await pending;
    assert.ok(e instanceof ZooGateError && e.code === 'SessionExpired', String(e));
    assert.equal(e.outcomeUnknown, false, 'never sent');
    await assert.rejects(z.get('/'), (x: unknown) => x instanceof ZooGateError && x.code === 'SessionExpired');
    assert.deepEqual(z.heldWatches(), []);

    // once the ensemble is back, its leader expires the session as well: the ephemeral goes
    await restart(first);
    await waitFor('the ephemeral to go', async () => (await rest.exists('/gone/eph')) === null, 15_000);
  });
});
