import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZkError } from '../../core/errors.ts';
import { epochOf, counterOf } from '../../core/ids.ts';
import type { LoggedTxn } from '../../core/txn.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { applyTxn } from '../../core/tree/apply-txn.ts';
import { CoreHarness, utf8 } from '../support/core-harness.ts';

test('requests submitted together are appended in one batch (one fsync) and answered in order', () => {
  const store = new MemoryStore();
  const batches: number[] = [];
  const append = store.append.bind(store);
  store.append = (txns: readonly LoggedTxn[]) => { batches.push(txns.length); append(txns); };
  const h = new CoreHarness(store);
  const tokens = Array.from({ length: 50 }, (_, i) => h.submit({ op: 'create', path: `/n${i}`, data: utf8('x'), acl: null, mode: 'persistent', ttlMs: null }));
  h.pump();
  assert.deepEqual(batches, [50]);
  const zxids = tokens.map((t) => (h.outcome(t) as { zxid: number }).zxid);
  assert.deepEqual(zxids, [...zxids].sort((a, b) => a - b));
  assert.equal(new Set(zxids).size, 50);
});

test('a failed request is answered only after the writes proposed before it are applied', () => {
  const h = new CoreHarness();
  const order: string[] = [];
  const ok = h.submit({ op: 'create', path: '/a', data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null });
  const bad = h.submit({ op: 'create', path: '/a', data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null });
  // nothing is answered before the batch is durable and applied
  assert.equal(h.outcome(ok), undefined);
  assert.equal(h.outcome(bad), undefined);
  const out = h.replica.takeOutput()!;
  assert.equal(out.txns.length, 1);
  assert.equal(out.replies.length, 0, 'the NodeExists waits for the create before it');
  h.store.append(out.txns);
  h.replica.logged(out.txns[0]!.zxid);
  const out2 = h.replica.takeOutput()!;
  assert.equal(out2.commits.length, 1);
  order.push('commit');
  applyTxn(h.tree, out2.commits[0]!.logged);
  const released = h.replica.applied(out2.commits[0]!.logged.zxid);
  assert.equal(released.length, 1, 'released by the apply of the create it waited for');
  assert.ok('error' in released[0]! && released[0].error.code === 'NodeExists');
});

test('each start leads a new epoch: zxids restart at counter 1 above every zxid logged before', () => {
  const h1 = new CoreHarness();
  h1.create('/a');
  h1.create('/b');
  const z1 = h1.tree.get('/b')!.czxid;
  assert.equal(epochOf(z1), 1);
  const h2 = h1.restart();
  assert.deepEqual(h2.store.getEpochs(), { acceptedEpoch: 2, currentEpoch: 2 });
  h2.create('/c');
  const z2 = h2.tree.get('/c')!.czxid;
  assert.equal(epochOf(z2), 2);
  assert.equal(counterOf(z2), 1);
  assert.ok(h2.tree.get('/a') && h2.tree.get('/b'));
});

test('sessions expire after their timeout in ticks, taking their ephemerals in one transaction', () => {
  const h = new CoreHarness();
  const s = h.openSession('000000000000000a', 300); // 3 ticks of 100 ms
  h.create('/e', { mode: 'ephemeral', session: s });
  h.tick();
  h.tick();
  h.tick();
  assert.ok(h.tree.get('/e'), 'alive within its timeout');
  assert.equal(h.replica.touchSession(s), true);
  h.tick();
  h.tick();
  h.tick();
  assert.ok(h.tree.get('/e'), 'a touch extends the life');
  h.tick();
  h.tick();
  assert.equal(h.tree.get('/e'), undefined);
  assert.equal(h.tree.sessions.has(s), false);
  assert.equal(h.replica.touchSession(s), false);
  assert.equal(h.failCode({ op: 'set', path: '/x', data: utf8(''), version: -1 }, { sessionId: s }), 'SessionExpired');
});

test('a container goes once its last child goes; an empty never-used one stays', () => {
  const h = new CoreHarness();
  h.create('/c', { mode: 'container' });
  h.create('/c/child');
  h.create('/fresh', { mode: 'container' });
  h.tick();
  assert.ok(h.tree.get('/c'));
  h.delete('/c/child');
  h.tick();
  assert.equal(h.tree.get('/c'), undefined);
  assert.ok(h.tree.get('/fresh'), 'a container that never had a child stays');
  assert.equal(h.tree.containers.has('/c'), false);
});

test('a TTL node goes once unmodified past its TTL and childless', () => {
  const h = new CoreHarness();
  h.create('/t', { mode: 'persistent_with_ttl', ttlMs: 250 });
  h.tick(200);
  assert.ok(h.tree.get('/t'), 'within its TTL');
  h.set('/t', 'touch');
  h.tick(200);
  assert.ok(h.tree.get('/t'), 'set data renews it');
  h.create('/t/kid');
  h.tick(300);
  assert.ok(h.tree.get('/t'), 'past its TTL but it has a child');
  h.delete('/t/kid');
  h.tick(100);
  assert.equal(h.tree.get('/t'), undefined, 'children do not renew it: only its own mtime counts');
  assert.equal(h.tree.ttls.size, 0);
});

test('recursive delete waits for outstanding writes, then removes the subtree at one zxid', () => {
  const h = new CoreHarness();
  h.create('/r');
  const c1 = h.submit({ op: 'create', path: '/r/a', data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null });
  const c2 = h.submit({ op: 'create', path: '/r/a/b', data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null });
  const del = h.submit({ op: 'delete', path: '/r', version: -1, recursive: true });
  const after = h.submit({ op: 'create', path: '/r', data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null });
  h.pump();
  for (const t of [c1, c2, del, after]) assert.ok(!(h.outcome(t) instanceof ZkError), `token ${t}`);
  const zDel = (h.outcome(del) as { zxid: number }).zxid;
  const deleted = h.events.filter((e) => e.type === 'NodeDeleted' && e.zxid === zDel).map((e) => e.path);
  assert.deepEqual(deleted, ['/r/a/b', '/r/a', '/r']);
  assert.ok(h.tree.get('/r'));
  assert.equal(h.tree.get('/r')!.numChildren, 0);
});

test('sync answers after everything proposed before it is applied', () => {
  const h = new CoreHarness();
  const w = h.submit({ op: 'create', path: '/s', data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null });
  let syncToken = 0;
  h.replica.sync((syncToken = 999), h.now);
  h.pump();
  const wz = (h.outcome(w) as { zxid: number }).zxid;
  assert.equal(h.outcome(syncToken), wz);
});
