// Error codes and their precedence, as ZooKeeper's PrepRequestProcessor orders its checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Perms } from '../../core/acl.ts';
import type { CreateMode, WriteRequest } from '../../core/request/requests.ts';
import { CoreHarness, utf8 } from '../support/core-harness.ts';

const create = (path: string, mode: CreateMode = 'persistent', extra: Partial<WriteRequest & { op: 'create' }> = {}): WriteRequest =>
  ({ op: 'create', path, data: new Uint8Array(), acl: null, mode, ttlMs: null, ...extra });

test('create: NoNode for a missing parent, reported at the parent', () => {
  const h = new CoreHarness();
  assert.equal(h.failCode(create('/nope/x')), 'NoNode');
});

test('create: NodeExists wins over NoChildrenForEphemerals', () => {
  const h = new CoreHarness();
  const s = h.openSession();
  h.create('/e', { mode: 'ephemeral', session: s });
  assert.equal(h.failCode(create('/e/c')), 'NoChildrenForEphemerals');
  assert.equal(h.failCode(create('/e/c', 'ephemeral_sequential'), { sessionId: s }), 'NoChildrenForEphemerals');
  assert.equal(h.failCode(create('/e')), 'NodeExists');
});

test('create: bad paths and sequential prefixes', () => {
  const h = new CoreHarness();
  for (const p of ['a', '/a/', '//a', '/a/./b', '/a/../b', '/a\u0000', '/a\u0001b', '/\ud800', '/\ufff5']) {
    assert.equal(h.failCode(create(p)), 'BadArguments', p);
  }
  h.create('/q');
  assert.equal(h.create('/q/', { mode: 'persistent_sequential' }), '/q/0000000000');
  assert.equal(h.failCode(create('/q/')), 'BadArguments');
  assert.equal(h.failCode(create('/')), 'NodeExists');
});

test('create: TTL rules and the session rules', () => {
  const h = new CoreHarness();
  assert.equal(h.failCode(create('/t', 'persistent_with_ttl')), 'BadArguments');
  assert.equal(h.failCode(create('/t', 'persistent_with_ttl', { ttlMs: 0 })), 'BadArguments');
  assert.equal(h.failCode(create('/t', 'persistent_with_ttl', { ttlMs: 2 ** 40 })), 'BadArguments');
  assert.equal(h.failCode(create('/t', 'persistent', { ttlMs: 100 })), 'BadArguments');
  assert.equal(h.failCode(create('/t', 'ephemeral')), 'BadArguments');
  assert.equal(h.failCode(create('/t'), { sessionId: 'ffffffffffffffff' }), 'SessionExpired');
  h.run(create('/t', 'persistent_with_ttl', { ttlMs: 2 ** 40 - 1 }));
});

test('create: InvalidACL comes before NoNode', () => {
  const h = new CoreHarness();
  assert.equal(h.failCode(create('/nope/x', 'persistent', { acl: [] })), 'InvalidACL');
  assert.equal(h.failCode(create('/x', 'persistent', { acl: [{ scheme: 'world', id: 'someone', perms: 31 }] })), 'InvalidACL');
  assert.equal(h.failCode(create('/x', 'persistent', { acl: [{ scheme: 'auth', id: '', perms: 31 }] })), 'InvalidACL');
  assert.equal(h.failCode(create('/x', 'persistent', { acl: [{ scheme: 'digest', id: 'nocolon', perms: 31 }] })), 'InvalidACL');
  assert.equal(h.failCode(create('/x', 'persistent', { acl: [{ scheme: 'ip', id: '10.0.0.0/33', perms: 31 }] })), 'InvalidACL');
  assert.equal(h.failCode(create('/x', 'persistent', { acl: [{ scheme: 'kerberos', id: 'x', perms: 31 }] })), 'InvalidACL');
});

test('delete: BadArguments for special paths, then NoNode, BadVersion before NotEmpty', () => {
  const h = new CoreHarness();
  for (const p of ['/', '/zookeeper', '/zookeeper/config', '/zookeeper/quota']) {
    assert.equal(h.failCode({ op: 'delete', path: p, version: -1 }), 'BadArguments', p);
    assert.equal(h.failCode({ op: 'delete', path: p, version: -1, recursive: true }), 'BadArguments', p);
  }
  assert.equal(h.failCode({ op: 'delete', path: '/nope', version: 3 }), 'NoNode');
  h.create('/p');
  h.create('/p/c');
  assert.equal(h.failCode({ op: 'delete', path: '/p', version: 9 }), 'BadVersion');
  assert.equal(h.failCode({ op: 'delete', path: '/p', version: 0 }), 'NotEmpty');
  assert.equal(h.failCode({ op: 'delete', path: '/p', version: -1 }), 'NotEmpty');
});

test('set: NoNode, then NoAuth, then BadVersion', () => {
  const h = new CoreHarness();
  assert.equal(h.failCode({ op: 'set', path: '/nope', data: utf8('x'), version: 5 }), 'NoNode');
  h.run(create('/ro', 'persistent', { acl: [{ scheme: 'world', id: 'anyone', perms: Perms.READ }] }));
  assert.equal(h.failCode({ op: 'set', path: '/ro', data: utf8('x'), version: 5 }), 'NoAuth');
  h.create('/rw');
  assert.equal(h.failCode({ op: 'set', path: '/rw', data: utf8('x'), version: 5 }), 'BadVersion');
});

test('ACLs are enforced on writes: CREATE and DELETE on the parent, WRITE on the node; super and digest identities', () => {
  const h = new CoreHarness();
  const alice = { scheme: 'digest', id: 'alice:HASH' };
  h.run(create('/a', 'persistent', { acl: [{ scheme: 'digest', id: 'alice:HASH', perms: Perms.ALL }, { scheme: 'world', id: 'anyone', perms: Perms.READ }] }));
  assert.equal(h.failCode(create('/a/x')), 'NoAuth');
  h.run(create('/a/x'), { auth: [alice] });
  assert.equal(h.failCode({ op: 'delete', path: '/a/x', version: -1 }), 'NoAuth');
  h.run({ op: 'delete', path: '/a/x', version: -1 }, { auth: [{ scheme: 'super', id: 'root' }] });
  // the auth scheme expands to the requester's digest identity
  const r = h.run(create('/b', 'persistent', { acl: [{ scheme: 'auth', id: '', perms: Perms.ALL }] }), { auth: [alice] });
  assert.equal(r.result.op, 'create');
  assert.deepEqual(h.tree.get('/b')!.acl, [{ scheme: 'digest', id: 'alice:HASH', perms: Perms.ALL }]);
  // ip scheme with a mask
  h.run(create('/c', 'persistent', { acl: [{ scheme: 'ip', id: '127.0.0.0/8', perms: Perms.ALL }] }));
  h.run({ op: 'set', path: '/c', data: utf8('x'), version: -1 }, { auth: [{ scheme: 'ip', id: '127.1.2.3' }] });
  assert.equal(h.failCode({ op: 'set', path: '/c', data: utf8('x'), version: -1 }, { auth: [{ scheme: 'ip', id: '10.1.2.3' }] }), 'NoAuth');
});

test('multi: nothing applied on failure, and the failing op is reported', () => {
  const h = new CoreHarness();
  h.create('/m', { data: 'v0' });
  const before = h.tree.lastProcessedZxid;
  const t = h.submit({
    op: 'multi',
    ops: [
      { op: 'create', path: '/m/a', data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null },
      { op: 'set', path: '/m', data: utf8('v1'), version: 0 },
      { op: 'check', path: '/m', version: 0 },
      { op: 'delete', path: '/m/zz', version: -1 },
    ],
  });
  h.pump();
  const err = h.outcome(t) as unknown as { code: string; failedOp: number };
  assert.equal(err.code, 'BadVersion', 'the check sees the set before it');
  assert.equal(err.failedOp, 2);
  assert.equal(h.tree.lastProcessedZxid, before);
  assert.equal(h.tree.get('/m/a'), undefined);
  assert.equal(h.tree.get('/m')!.version, 0);
  // the view was rolled back: the same create now succeeds alone
  h.create('/m/a');
});

test('pipelined requests are checked against outstanding changes: two creates of one path cannot both succeed', () => {
  const h = new CoreHarness();
  const a = h.submit(create('/dup'));
  const b = h.submit(create('/dup'));
  const c = h.submit({ op: 'set', path: '/dup', data: utf8('x'), version: 0 });
  const d = h.submit({ op: 'set', path: '/dup', data: utf8('y'), version: 0 });
  const e = h.submit({ op: 'delete', path: '/dup', version: 2 });
  h.pump();
  assert.equal((h.outcome(a) as { result: { op: string } }).result.op, 'create');
  assert.equal((h.outcome(b) as { code: string }).code, 'NodeExists');
  assert.equal((h.outcome(c) as { result: { op: string } }).result.op, 'set');
  assert.equal((h.outcome(d) as { code: string }).code, 'BadVersion');
  assert.equal((h.outcome(e) as { code: string }).code, 'BadVersion');
  assert.equal(h.tree.get('/dup')!.version, 1);
});
