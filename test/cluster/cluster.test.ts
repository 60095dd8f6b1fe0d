// A real 3-server ensemble: separate processes, SQLite files, HTTP between peers, kill -9.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessCluster, until } from '../support/process-cluster.ts';
import { WsTestClient } from '../support/ws-client.ts';

const post = (url: string, path: string, body = '') => fetch(`${url}/znodes${path}`, { method: 'POST', body }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null) }));
const get = (url: string, path: string) => fetch(`${url}/znodes${path}`).then(async (r) => ({ status: r.status, body: (await r.json().catch(() => null)) as { data?: string; error?: { code: string } } | null }));

// Once with the defaults (the log's fsync on the event loop, followers committing on the leader's
// LOGGED) and once with the fsync on the thread pool and ZooKeeper's ACK/COMMIT round trip.
const MODES = [{ logSync: 'inline', directCommit: 'on' }, { logSync: 'deferred', directCommit: 'off' }] as const;
for (const { logSync, directCommit } of MODES) describe(`a 3-server ensemble, --log-sync=${logSync} --direct-commit=${directCommit}`, { timeout: 180_000 }, () => {
  let c: ProcessCluster;
  let leader: number;
  const followers = () => [1, 2, 3].filter((i) => i !== leader);

  before(async () => {
    // small snapshots so that a server down for a while is synchronised by SNAP
    c = await new ProcessCluster(3, ['--snapshot-every', '200', '--snapshot-retain', '1', '--log-sync', logSync, '--direct-commit', directCommit]).init();
    c.startAll();
    leader = await c.waitStable();
  });
  after(() => c.destroy());

  test('elects one leader; a write on a follower is read back on every server', async () => {
    const views = await Promise.all([1, 2, 3].map((i) => c.cluster(i)));
    assert.deepEqual(views.map((v) => v!.state).sort(), ['FOLLOWING', 'FOLLOWING', 'LEADING']);
    for (const m of c.members) {
      const conf = (await (await fetch(`${m.url}/commands/conf`)).json()) as { log_sync: string; direct_commit: boolean };
      assert.deepEqual([conf.log_sync, conf.direct_commit], [logSync, directCommit === 'on']);
    }
    const f = followers()[0]!;
    const w = await post(c.member(f).url, '/written-on-follower', 'hello');
    assert.equal(w.status, 201);
    const zxid = (w.body as { stat: { czxid: number } }).stat.czxid;
    // read-your-writes on the server that answered
    assert.equal((await get(c.member(f).url, '/written-on-follower')).body?.data, 'hello');
    for (const m of c.members) {
      const r = await fetch(`${m.url}/znodes/written-on-follower`, { headers: { 'zoogate-min-zxid': String(zxid) } });
      assert.equal(r.status, 200, `server ${m.id}`);
      assert.equal(((await r.json()) as { data: string }).data, 'hello');
    }
  });

  test('sync makes a follower read linearizable; /cluster shows every member', async () => {
    const [a, b] = followers() as [number, number];
    await post(c.member(a).url, '/lin', 'v1');
    const s = await fetch(`${c.member(b).url}/sync/lin`, { method: 'POST' });
    assert.equal(s.status, 200);
    assert.equal((await get(c.member(b).url, '/lin')).body?.data, 'v1');
    const view = (await (await fetch(`${c.member(a).url}/cluster`)).json()) as { members: Array<{ id: number; state: string }> };
    assert.deepEqual(view.members.map((m) => m.state).sort(), ['FOLLOWING', 'FOLLOWING', 'LEADING']);
  });

  test('kill -9 of the leader: a new leader within seconds, no acknowledged write lost, the old leader catches up by DIFF', async () => {
    const acked: string[] = [];
    let stop = false;
    let n = 0;
    const writers = followers().map(async (f) => {
      while (!stop) {
        const path = `/fo-${f}-${n++}`;
        try {
          const r = await fetch(`${c.member(f).url}/znodes${path}`, { method: 'POST', signal: AbortSignal.timeout(3000) });
          await r.arrayBuffer();
          if (r.status === 201) acked.push(path);
          else await new Promise((res) => setTimeout(res, 10));
        } catch {
          // outcome unknown: allowed
        }
      }
    });
    await until('writes before the kill', async () => acked.length > 50);
    const old = leader;
    const before = acked.length;
    const t0 = Date.now();
    await c.kill(old);
    leader = await c.waitStable(followers(), 15_000);
    const failoverMs = Date.now() - t0;
    assert.notEqual(leader, old);
    await until('writes after the failover', async () => acked.length > before + 50);
    stop = true;
    await Promise.all(writers);
    assert.ok(failoverMs < 10_000, `failover took ${failoverMs} ms`);
    c.start(old);
    leader = await c.waitStable();
    const z = Math.max(...(await Promise.all([1, 2, 3].map((i) => c.cluster(i)))).map((v) => v!.lastZxid));
    for (const m of c.members) {
      const missing: string[] = [];
      for (const p of acked) {
        const r = await fetch(`${m.url}/znodes${p}`, { method: 'HEAD', headers: { 'zoogate-min-zxid': String(z) } });
        if (r.status !== 200) missing.push(p);
      }
      assert.deepEqual(missing, [], `server ${m.id} lacks acknowledged writes`);
    }
    const leaderLog = c.member(leader).log;
    assert.match(leaderLog, new RegExp(`"learner":${old},"mode":"(DIFF|TRUNC)"`), 'the restarted server was synchronised from the log, not a snapshot');
  });

  test('a server down while the others purge its gap comes back by SNAP', async () => {
    const victim = followers()[0]!;
    await c.kill(victim);
    await c.waitStable([1, 2, 3].filter((i) => i !== victim));
    const url = c.member(leader).url;
    // more than snapshot-every × (retain + 1) transactions: the leader's log no longer reaches the victim's
    for (let i = 0; i < 30; i++) {
      const ops = Array.from({ length: 20 }, (_, j) => ({ op: 'create', path: `/gap-${i}-${j}`, data: 'x' }));
      const r = await fetch(`${url}/multi`, { method: 'POST', body: JSON.stringify({ ops }) });
      assert.equal(r.status, 200);
    }
    for (let i = 0; i < 450; i++) await fetch(`${url}/znodes/gap-0-0`, { method: 'PUT', body: String(i) }).then((r) => r.arrayBuffer());
    c.start(victim);
    await c.waitStable();
    assert.match(c.member(leader).log, new RegExp(`"learner":${victim},"mode":"SNAP"`));
    const z = (await c.cluster(leader))!.lastZxid;
    const r = await fetch(`${c.member(victim).url}/znodes/gap-29-19`, { headers: { 'zoogate-min-zxid': String(z) } });
    assert.equal(r.status, 200);
    assert.equal((await get(c.member(victim).url, '/gap-0-0')).body?.data, '449');
    const kids = await fetch(`${c.member(victim).url}/znodes/?children=true`).then((x) => x.json()) as { children: string[] };
    assert.equal(kids.children.filter((k) => k.startsWith('gap-')).length, 600);
  });

  test('a WebSocket session moves to another server and keeps its ephemerals and watches', async () => {
    const [a, b] = followers() as [number, number];
    const ws = await WsTestClient.connect(c.member(a).url, { timeoutMs: 3000 });
    await ws.request('create', { path: '/moving', mode: 'ephemeral' });
    await ws.request('create', { path: '/watched', data: '0' });
    await ws.request('get', { path: '/watched', watch: true });
    const lastZxid = (await ws.request('sync', { path: '/' })).result.zxid;
    ws.terminate();
    await post(c.member(leader).url, '/unrelated');
    await fetch(`${c.member(leader).url}/znodes/watched`, { method: 'PUT', body: '1' });
    const moved = await WsTestClient.connect(c.member(b).url, { sessionId: ws.sessionId, lastZxid, watches: [{ path: '/watched', kind: 'data' }] });
    try {
      assert.equal(moved.sessionId, ws.sessionId);
      const ev = await moved.waitFor((m) => m.type === 'event');
      assert.equal(ev.event, 'NodeDataChanged');
      assert.equal((await get(c.member(b).url, '/moving')).status, 200);
      const info = await fetch(`${c.member(leader).url}/sessions/${ws.sessionId}`).then((r) => r.json()) as { ephemerals: string[] };
      assert.deepEqual(info.ephemerals, ['/moving']);
    } finally {
      moved.close();
    }
  });

  test('a peer without the shared secret is refused', async () => {
    const victim = followers()[1]!;
    await c.kill(victim);
    c.start(victim, { secret: 'not-the-secret' });
    await until('the refusal', async () => c.member(leader).log.includes('bad or missing peer credentials'));
    assert.equal(await c.ready(victim), false);
    await c.kill(victim);
    c.start(victim);
    await c.waitStable();
  });

  test('a server without a quorum refuses writes and reads with 503 NoQuorum', async () => {
    const [a, b] = followers() as [number, number];
    await c.kill(leader);
    await c.kill(a);
    await until(`server ${b} to stop serving`, async () => !(await c.ready(b)));
    const w = await post(c.member(b).url, '/no-quorum');
    assert.equal(w.status, 503);
    assert.equal((w.body as { error: { code: string } }).error.code, 'NoQuorum');
    const r = await fetch(`${c.member(b).url}/znodes/lin`);
    assert.equal(r.status, 503);
    assert.ok(r.headers.get('retry-after'));
    const h = await fetch(`${c.member(b).url}/health`);
    assert.equal(await h.text(), 'imok');
  });
});
