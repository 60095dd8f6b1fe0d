// The Stat rules of ZooKeeper 3.8, as a real one answered them on this machine
// (see test/conformance for the side-by-side run): czxid/mzxid/pzxid, version,
// the visible cversion (2 * creates - children), aversion, numChildren.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeZxid } from '../../core/ids.ts';
import { statOf } from '../../core/tree/znode.ts';
import { DataTree } from '../../core/tree/data-tree.ts';
import { CoreHarness } from '../support/core-harness.ts';

const stat = (h: CoreHarness, path: string) => statOf(h.tree.get(path)!);
const z = (n: number) => makeZxid(1, n);

test('a fresh tree has /, /zookeeper, /zookeeper/config and /zookeeper/quota with ZooKeeper\'s stats', () => {
  const t = new DataTree();
  assert.deepEqual(t.childNames(t.root), ['zookeeper']);
  assert.deepEqual(t.childNames(t.get('/zookeeper')!), ['config', 'quota']);
  assert.equal(statOf(t.root).cversion, -1);
  assert.equal(statOf(t.get('/zookeeper')!).cversion, -2);
  assert.equal(statOf(t.get('/zookeeper/config')!).aversion, -1);
  assert.deepEqual(t.get('/zookeeper/config')!.acl, [{ scheme: 'world', id: 'anyone', perms: 1 }]);
  assert.deepEqual({ ...statOf(t.get('/zookeeper/quota')!) }, {
    czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: null, dataLength: 0, numChildren: 0,
  });
  assert.equal(t.nodeCount, 4);
});

test('create sets czxid = mzxid = pzxid, versions 0, and moves the parent\'s pzxid and cversion', () => {
  const h = new CoreHarness();
  h.now = 5000;
  h.create('/p', { data: 'x' });
  assert.deepEqual(stat(h, '/p'), {
    czxid: z(1), mzxid: z(1), pzxid: z(1), ctime: 5000, mtime: 5000, version: 0, cversion: 0, aversion: 0,
    ephemeralOwner: null, dataLength: 1, numChildren: 0,
  });
  assert.equal(stat(h, '/').pzxid, z(1));
  assert.equal(stat(h, '/').cversion, 0); // 2*1 - 2 children
  h.create('/p/a');
  let p = stat(h, '/p');
  assert.equal(p.pzxid, z(2));
  assert.equal(p.cversion, 1);
  assert.equal(p.numChildren, 1);
  assert.equal(p.mzxid, z(1), 'a child does not change the parent\'s mzxid');
  h.delete('/p/a');
  p = stat(h, '/p');
  assert.equal(p.pzxid, z(3), 'deleting a child moves pzxid');
  assert.equal(p.cversion, 2, 'deletes count in the visible cversion');
  assert.equal(p.numChildren, 0);
});

test('sequential suffixes count creates only, not deletes', () => {
  const h = new CoreHarness();
  h.create('/q');
  for (const n of ['a', 'b', 'c']) h.create(`/q/${n}`);
  h.delete('/q/a');
  h.delete('/q/b');
  assert.equal(h.create('/q/s', { mode: 'persistent_sequential' }), '/q/s0000000003');
  assert.equal(h.create('/q/', { mode: 'persistent_sequential' }), '/q/0000000004');
  assert.equal(stat(h, '/q').cversion, 2 * 5 - 3);
});

test('set data bumps version and mzxid and mtime only', () => {
  const h = new CoreHarness();
  h.create('/n', { data: 'a' });
  h.now += 10;
  h.set('/n', 'bcd');
  const s = stat(h, '/n');
  assert.equal(s.version, 1);
  assert.equal(s.mzxid, z(2));
  assert.equal(s.czxid, z(1));
  assert.equal(s.pzxid, z(1));
  assert.equal(s.mtime - s.ctime, 10);
  assert.equal(s.dataLength, 3);
});

test('setACL bumps aversion and nothing else', () => {
  const h = new CoreHarness();
  h.create('/n');
  const r = h.run({ op: 'setACL', path: '/n', acl: [{ scheme: 'world', id: 'anyone', perms: 17 }], aversion: 0 });
  assert.equal(r.result.op, 'setACL');
  const s = stat(h, '/n');
  assert.equal(s.aversion, 1);
  assert.equal(s.version, 0);
  assert.equal(s.mzxid, z(1));
  assert.equal(h.failCode({ op: 'setACL', path: '/n', acl: [{ scheme: 'world', id: 'anyone', perms: 31 }], aversion: 0 }), 'BadVersion');
});

test('a multi\'s changes share one zxid and see each other', () => {
  const h = new CoreHarness();
  h.create('/m');
  const r = h.run({
    op: 'multi',
    ops: [
      { op: 'create', path: '/m/s-', data: new Uint8Array(), acl: null, mode: 'persistent_sequential', ttlMs: null },
      { op: 'create', path: '/m/s-', data: new Uint8Array(), acl: null, mode: 'persistent_sequential', ttlMs: null },
      { op: 'set', path: '/m', data: new Uint8Array([1]), version: 0 },
      { op: 'check', path: '/m', version: 1 },
    ],
  });
  assert.equal(r.zxid, z(2));
  assert.ok(r.result.op === 'multi');
  assert.deepEqual(r.result.results.map((x) => (x.op === 'create' ? x.path : x.op)), ['/m/s-0000000000', '/m/s-0000000001', 'set', 'check']);
  const m = stat(h, '/m');
  assert.equal(m.pzxid, z(2));
  assert.equal(m.mzxid, z(2));
  assert.equal(m.numChildren, 2);
});

test('ephemeral nodes carry their owner and go with the session, in one transaction', () => {
  const h = new CoreHarness();
  const s = h.openSession('00000000000000aa');
  h.create('/e1', { mode: 'ephemeral', session: s });
  h.create('/e2', { mode: 'ephemeral_sequential', session: s });
  assert.equal(stat(h, '/e1').ephemeralOwner, s);
  assert.deepEqual([...h.tree.sessions.get(s)!.ephemerals].sort(), ['/e1', '/e20000000001']);
  const r = h.run({ op: 'closeSession', sessionId: s });
  assert.equal(h.tree.get('/e1'), undefined);
  assert.equal(h.tree.get('/e20000000001'), undefined);
  assert.equal(h.tree.sessions.has(s), false);
  assert.deepEqual(h.events.filter((e) => e.zxid === r.zxid).map((e) => `${e.type} ${e.path}`).sort(), [
    'NodeChildrenChanged /', 'NodeChildrenChanged /', 'NodeDeleted /e1', 'NodeDeleted /e20000000001',
  ]);
});

test('parents=true creates the missing ancestors in the same transaction', () => {
  const h = new CoreHarness();
  h.create('/a');
  const path = h.create('/a/b/c/d', { parents: true, data: 'x' });
  assert.equal(path, '/a/b/c/d');
  const zs = ['/a/b', '/a/b/c', '/a/b/c/d'].map((p) => stat(h, p).czxid);
  assert.deepEqual(new Set(zs).size, 1);
  assert.equal(stat(h, '/a').cversion, 1);
  assert.equal(h.tree.get('/a/b/c/d')!.data.length, 1);
  assert.equal(h.tree.get('/a/b')!.data.length, 0);
});
