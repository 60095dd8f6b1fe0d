// Server-Sent Events: what `curl -N /watch/app?recursive=true` and a browser's EventSource see.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SseTestClient } from '../support/sse-client.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

let s: TestServer;
before(async () => { s = await startTestServer(); });
after(() => s.destroy());

const rest = (method: string, path: string, body?: string) => fetch(`${s.url}${path}`, { method, body }).then((r) => r.arrayBuffer().then(() => r.status));

test('recursive stream: changes at or under the path, in order, zxid as the id of each transaction\'s last event', async () => {
  const c = new SseTestClient(`${s.url}/watch/app?recursive=true`);
  await c.opened();
  assert.equal(c.status, 200);
  assert.match(String(c.res!.headers['content-type']), /^text\/event-stream/);
  await rest('POST', '/znodes/app/a/b?parents=true', 'x');
  await rest('PUT', '/znodes/app/a', 'y');
  await rest('POST', '/znodes/elsewhere');
  await rest('DELETE', '/znodes/app/a/b');
  const ev = await c.waitFor(5);
  assert.deepEqual(ev.map((e) => `${e.event} ${e.data.path}`), [
    'NodeCreated /app', 'NodeCreated /app/a', 'NodeCreated /app/a/b', 'NodeDataChanged /app/a', 'NodeDeleted /app/a/b',
  ]);
  assert.deepEqual(ev.map((e) => e.id !== null), [false, false, true, true, true], 'one id per transaction, on its last event');
  for (const e of ev) {
    assert.deepEqual(Object.keys(e.data).sort(), ['event', 'path', 'type', 'zxid']);
    assert.equal(e.data.type, 'event');
    assert.equal(e.data.event, e.event);
  }
  assert.equal(ev[2]!.id, String(ev[0]!.data.zxid));
  c.close();
});

test('a plain stream sees only its own path, children changes included', async () => {
  const c = new SseTestClient(`${s.url}/watch/plain`);
  await c.opened();
  await rest('POST', '/znodes/plain');
  await rest('POST', '/znodes/plain/kid');
  await rest('PUT', '/znodes/plain/kid', 'z');
  await rest('PUT', '/znodes/plain', 'z');
  const ev = await c.waitFor(3);
  assert.deepEqual(ev.map((e) => `${e.event} ${e.data.path}`), ['NodeCreated /plain', 'NodeChildrenChanged /plain', 'NodeDataChanged /plain']);
  c.close();
});

test('reconnecting with Last-Event-ID replays what was missed, then continues live, with no gap and no repeat', async () => {
  const a = new SseTestClient(`${s.url}/watch/resume?recursive=true`);
  await a.opened();
  await rest('POST', '/znodes/resume');
  await rest('POST', '/znodes/resume/1');
  await a.waitFor(2);
  a.close();
  const last = a.lastEventId!;
  await rest('POST', '/znodes/resume/2');
  await rest('POST', '/multi', JSON.stringify({ ops: [{ op: 'create', path: '/resume/3' }, { op: 'set', path: '/resume/1', data: 'x' }] }));
  const b = new SseTestClient(`${s.url}/watch/resume?recursive=true`, { 'last-event-id': last });
  await b.waitFor(3);
  await rest('DELETE', '/znodes/resume/2');
  const ev = await b.waitFor(4);
  assert.deepEqual(ev.map((e) => `${e.event} ${e.data.path}`), ['NodeCreated /resume/2', 'NodeCreated /resume/3', 'NodeDataChanged /resume/1', 'NodeDeleted /resume/2']);
  b.close();
});

test('a bad Last-Event-ID is 400', async () => {
  const r = await fetch(`${s.url}/watch/x`, { headers: { 'last-event-id': 'yesterday' } });
  assert.equal(r.status, 400);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'BadArguments');
});

test('a resume from before what the log still holds is told Compacted', async () => {
  const t = await startTestServer({ snapshotEveryTxnCount: 20, snapshotRetainCount: 1 });
  try {
    const first = await fetch(`${t.url}/znodes/c0`, { method: 'POST' });
    const z0 = Number(first.headers.get('zoogate-zxid'));
    for (let i = 1; i < 80; i++) await fetch(`${t.url}/znodes/c${i}`, { method: 'POST' });
    const end = Date.now() + 5000;
    while ((t.node.store.firstZxid() ?? 0) <= z0 + 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const c = new SseTestClient(`${t.url}/watch/?recursive=true`, { 'last-event-id': String(z0) });
    const ev = await c.waitFor(1);
    assert.equal(ev[0]!.event, 'error');
    assert.equal(ev[0]!.data.code, 'Compacted');
    const deadline = Date.now() + 2000;
    while (!c.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(c.ended, 'the stream ends after Compacted');
  } finally {
    await t.destroy();
  }
});

test('a stream that is not read is cut off with SlowConsumer; others keep streaming', async () => {
  const t = await startTestServer({ clientBufferBytes: 64 * 1024 });
  try {
    const slow = new SseTestClient(`${t.url}/watch/flood?recursive=true`);
    const fast = new SseTestClient(`${t.url}/watch/flood?recursive=true`);
    await slow.opened();
    await fast.opened();
    slow.res!.pause();
    const long = 'y'.repeat(3000);
    await fetch(`${t.url}/znodes/flood`, { method: 'POST' });
    let total = 1;
    for (let b = 0; b < 60; b++) {
      const ops = Array.from({ length: 100 }, (_, i) => ({ op: 'create', path: `/flood/${long}${b}-${i}` }));
      const r = await fetch(`${t.url}/multi`, { method: 'POST', body: JSON.stringify({ ops }) });
      await r.arrayBuffer();
      total += 100;
      if (t.hub.streamCount < 2) break;
    }
    assert.equal(t.hub.streamCount, 1, 'the unread stream was dropped');
    await fast.waitFor(total, 10_000);
    slow.res!.resume();
    const end = Date.now() + 10_000;
    while (!slow.ended && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const lastEv = slow.events[slow.events.length - 1]!;
    assert.equal(lastEv.event, 'error');
    assert.equal(lastEv.data.code, 'SlowConsumer');
    fast.close();
  } finally {
    await t.destroy();
  }
});
