// The operations surface: Prometheus metrics, AdminServer-style commands, graceful shutdown.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer } from '../support/server-process.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { WsTestClient } from '../support/ws-client.ts';

let s: TestServer;
before(async () => { s = await startTestServer(); });
after(() => s.destroy());

const metric = (text: string, name: string, labels = ''): number | null => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
};

test('GET /metrics: Prometheus text with request counts and latencies by route, zxid, znodes, sessions, watches, log appends', async () => {
  for (let i = 0; i < 3; i++) await fetch(`${s.url}/znodes/m${i}`, { method: 'POST', body: 'x' }).then((r) => r.arrayBuffer());
  await fetch(`${s.url}/znodes/nope`).then((r) => r.arrayBuffer());
  const ws = await WsTestClient.connect(s.url);
  await ws.request('get', { path: '/m0', watch: true });
  const r = await fetch(`${s.url}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await r.text();
  assert.equal(metric(text, 'zoogate_http_requests_total', 'route="/znodes/{path}",method="POST",status="201"'), 3);
  assert.equal(metric(text, 'zoogate_http_requests_total', 'route="/znodes/{path}",method="GET",status="404"'), 1);
  assert.ok((metric(text, 'zoogate_http_request_duration_seconds_count', 'route="/znodes/{path}",method="POST"') ?? 0) >= 3);
  assert.equal(metric(text, 'zoogate_last_zxid'), s.node.lastZxid);
  assert.equal(metric(text, 'zoogate_znodes'), s.node.tree.nodeCount);
  assert.equal(metric(text, 'zoogate_sessions'), s.node.tree.sessions.size);
  assert.equal(metric(text, 'zoogate_watches'), 1);
  assert.equal(metric(text, 'zoogate_websocket_sessions'), 1);
  assert.equal(metric(text, 'zoogate_server_state'), 2);
  assert.ok((metric(text, 'zoogate_log_append_seconds_count') ?? 0) >= 3, 'every append is timed');
  assert.equal(metric(text, 'zoogate_elections_total'), 0, 'a standalone server never elects');
  assert.match(text, /zoogate_process_resident_memory_bytes \d+/);
  ws.send({ type: 'close' });
  await ws.waitClose();
  const after = await (await fetch(`${s.url}/metrics`)).text();
  assert.equal(metric(after, 'zoogate_watches'), 0, 'a closed session takes its watches with it');
  assert.equal(metric(after, 'zoogate_websocket_sessions'), 0);
});

test('GET /commands/*: ZooKeeper AdminServer commands with real values', async () => {
  const ws = await WsTestClient.connect(s.url);
  await ws.request('create', { path: '/cmd-eph', mode: 'ephemeral' });
  await ws.request('exists', { path: '/cmd-watched', watch: true });
  const get = async (name: string) => {
    const r = await fetch(`${s.url}/commands/${name}`);
    assert.equal(r.status, 200, name);
    const body = (await r.json()) as Record<string, any>;
    assert.equal(body.command, name);
    assert.equal(body.error, null);
    return body;
  };
  const srvr = await get('srvr');
  assert.equal(srvr.server_stats.server_state, 'standalone');
  assert.equal(srvr.server_stats.last_processed_zxid, s.node.lastZxid);
  assert.equal(srvr.node_count, s.node.tree.nodeCount);
  const mntr = await get('mntr');
  assert.equal(mntr.znode_count, s.node.tree.nodeCount);
  assert.equal(mntr.watch_count, 1);
  assert.equal(mntr.ephemerals_count, 1);
  assert.ok(mntr.packets_received > 0);
  const conf = await get('conf');
  assert.equal(conf.tick_time, s.cfg.tickMs);
  assert.equal(conf.data_dir, s.cfg.dataDir);
  const cons = await get('cons');
  assert.deepEqual(cons.connections.map((c: { session_id: string }) => c.session_id), [ws.sessionId]);
  assert.equal(cons.connections[0].watches, 1);
  assert.deepEqual((await get('wchs')), { command: 'wchs', error: null, num_connections: 1, num_paths: 1, num_total_watches: 1 });
  assert.deepEqual((await get('wchc')).session_id_to_watched_paths, { [ws.sessionId]: ['/cmd-watched'] });
  assert.deepEqual((await get('wchp')).path_to_session_ids, { '/cmd-watched': [ws.sessionId] });
  assert.deepEqual((await get('dump')).session_id_to_ephemeral_paths[ws.sessionId], ['/cmd-eph']);
  assert.equal((await get('envi'))['node.version'], process.version);
  await get('ruok');
  assert.equal((await fetch(`${s.url}/commands/bogus`)).status, 404);
  ws.close();
});

test('SIGTERM: in-flight writes finish or fail clearly, clients are told, and a restart replays nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zoogate-term-'));
  try {
    const p = await spawnServer(['--port', '0', '--data-dir', dir, '--snapshot-every', '100000']);
    for (let i = 0; i < 50; i++) await fetch(`${p.url}/znodes/t${i}`, { method: 'POST', body: 'v' }).then((r) => r.arrayBuffer());
    const ws = await WsTestClient.connect(p.url);
    const inflight = Array.from({ length: 40 }, (_, i) => fetch(`${p.url}/znodes/late${i}`, { method: 'POST', body: 'v' }).then((r) => r.status, () => -1));
    p.proc.kill('SIGTERM');
    const statuses = await Promise.all(inflight);
    for (const st of statuses) assert.ok([201, 503, -1].includes(st), `in-flight write answered ${st}`);
    const closed = await ws.waitClose(10_000);
    assert.equal(closed.code, 4002);
    assert.match(closed.reason, /shutting down/);
    assert.equal(await p.exited, 0, 'a clean exit');
    assert.match(p.stderr(), /"msg":"stopped"/);
    const again = await spawnServer(['--port', '0', '--data-dir', dir]);
    try {
      assert.match(again.stderr(), /"replayed":0,/, 'the shutdown snapshot covers everything');
      const created = statuses.filter((x) => x === 201).length;
      const kids = ((await (await fetch(`${again.url}/znodes/?children=true`)).json()) as { children: string[] }).children;
      assert.equal(kids.filter((k) => k.startsWith('late')).length >= created, true, 'every acknowledged write survived');
      assert.equal(kids.filter((k) => /^t\d+$/.test(k)).length, 50);
      // ...and keeps its log (a follower behind the snapshot can still be brought up by DIFF).
      const t0 = ((await (await fetch(`${again.url}/znodes/t0`)).json()) as { stat: { czxid: number } }).stat.czxid;
      const firstLogged = metric(await (await fetch(`${again.url}/metrics`)).text(), 'zoogate_log_first_zxid');
      assert.ok(firstLogged !== null && firstLogged > 0 && firstLogged <= t0, `the log still starts at or before /t0's creation (${firstLogged} vs ${t0})`);
    } finally {
      again.proc.kill('SIGKILL');
      await again.exited;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--max-client-connections: one client IP cannot hold every socket (ZooKeeper maxClientCnxns)', async () => {
  const limited = await startTestServer({ maxClientConnections: 2 });
  const { connect } = await import('node:net');
  const open = () => new Promise<import('node:net').Socket>((res, rej) => {
    const c = connect(limited.port, '127.0.0.1', () => res(c));
    c.on('error', rej);
  });
  const answer = (c: import('node:net').Socket) => new Promise<string>((res) => {
    let buf = '';
    c.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n\r\n') && /content-length: (\d+)/i.test(buf)) { const len = Number(/content-length: (\d+)/i.exec(buf)![1]); if (buf.length - buf.indexOf('\r\n\r\n') - 4 >= len) res(buf); } });
    c.on('close', () => res(buf));
    c.write('GET /znodes/ HTTP/1.1\r\nhost: x\r\n\r\n');
  });
  try {
    const a = await open();
    const b = await open();
    assert.match(await answer(a), /^HTTP\/1.1 200/);
    assert.match(await answer(b), /^HTTP\/1.1 200/);
    const c = await open();
    const refused = await answer(c);
    assert.match(refused, /^HTTP\/1.1 429/);
    assert.match(refused, /"code":"Throttled"/);
    a.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const d = await open();
    assert.match(await answer(d), /^HTTP\/1.1 200/, 'a freed slot is usable again');
    b.destroy();
    d.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(((await (await fetch(`${limited.url}/commands/conf`)).json()) as { max_client_cnxns: number }).max_client_cnxns, 2);
  } finally {
    await limited.destroy();
  }
});
