// ZooKeeper's watch-trigger table, op by op, at the WatchManager.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatchEvent } from '../../core/tree/txn-events.ts';
import { WatchManager, type WatchKind } from '../../core/watch/watch-manager.ts';
import { CoreHarness } from '../support/core-harness.ts';

const S = 'aaaaaaaaaaaaaaaa';
const T = 'bbbbbbbbbbbbbbbb';
const ev = (type: WatchEvent['type'], path: string, zxid = 1): WatchEvent => ({ type, path, zxid });
const fired = (m: Map<string, WatchEvent[]>, sid = S) => (m.get(sid) ?? []).map((e) => `${e.type} ${e.path}`);

// [watch kind on /a, change, events fired to the session]
const TABLE: Array<[WatchKind, WatchEvent[], string[]]> = [
  ['data', [ev('NodeDataChanged', '/a')], ['NodeDataChanged /a']],
  ['data', [ev('NodeDeleted', '/a'), ev('NodeChildrenChanged', '/')], ['NodeDeleted /a']],
  ['data', [ev('NodeCreated', '/a/b'), ev('NodeChildrenChanged', '/a')], []],
  ['exists', [ev('NodeCreated', '/a'), ev('NodeChildrenChanged', '/')], ['NodeCreated /a']],
  ['exists', [ev('NodeDataChanged', '/a')], ['NodeDataChanged /a']],
  ['children', [ev('NodeCreated', '/a/b'), ev('NodeChildrenChanged', '/a')], ['NodeChildrenChanged /a']],
  ['children', [ev('NodeDeleted', '/a'), ev('NodeChildrenChanged', '/')], ['NodeDeleted /a']],
  ['children', [ev('NodeDataChanged', '/a')], []],
  ['persistent', [ev('NodeCreated', '/a'), ev('NodeChildrenChanged', '/')], ['NodeCreated /a']],
  ['persistent', [ev('NodeCreated', '/a/b'), ev('NodeChildrenChanged', '/a')], ['NodeChildrenChanged /a']],
  ['persistent', [ev('NodeDataChanged', '/a/b')], []],
  ['persistent_recursive', [ev('NodeCreated', '/a/b/c'), ev('NodeChildrenChanged', '/a/b')], ['NodeCreated /a/b/c']],
  ['persistent_recursive', [ev('NodeDataChanged', '/a')], ['NodeDataChanged /a']],
  ['persistent_recursive', [ev('NodeDeleted', '/a/b'), ev('NodeChildrenChanged', '/a')], ['NodeDeleted /a/b']],
  ['persistent_recursive', [ev('NodeDataChanged', '/ab')], []],
];

for (const [kind, events, want] of TABLE) {
  test(`${kind} watch on /a, ${events.map((e) => `${e.type} ${e.path}`).join(' + ')} → ${want.join(', ') || 'nothing'}`, () => {
    const w = new WatchManager();
    w.add(S, '/a', kind);
    assert.deepEqual(fired(w.trigger(events)), want);
  });
}

test('one-shot watches fire once, persistent ones every time', () => {
  const w = new WatchManager();
  w.add(S, '/a', 'data');
  w.add(T, '/a', 'persistent');
  assert.deepEqual(fired(w.trigger([ev('NodeDataChanged', '/a', 1)])), ['NodeDataChanged /a']);
  assert.deepEqual(fired(w.trigger([ev('NodeDataChanged', '/a', 2)])), []);
  assert.deepEqual(fired(w.trigger([ev('NodeDataChanged', '/a', 3)]), T), ['NodeDataChanged /a']);
  assert.deepEqual(w.watchesOf(S), []);
  assert.deepEqual(w.watchesOf(T), [{ path: '/a', kind: 'persistent' }]);
});

test('one notification per change however many watches it triggers', () => {
  const w = new WatchManager();
  for (const k of ['data', 'children', 'persistent', 'persistent_recursive'] as const) w.add(S, '/a', k);
  w.add(S, '/', 'persistent_recursive');
  assert.deepEqual(fired(w.trigger([ev('NodeDeleted', '/a'), ev('NodeChildrenChanged', '/')])), ['NodeDeleted /a']);
  assert.deepEqual(w.watchesOf(S).map((r) => r.kind).sort(), ['persistent', 'persistent_recursive', 'persistent_recursive']);
});

test('removeWatches by kind, NoWatcher when there is none, and everything of a session', () => {
  const w = new WatchManager();
  w.add(S, '/a', 'data');
  w.add(S, '/a', 'children');
  w.add(S, '/b', 'persistent_recursive');
  w.remove(S, '/a', 'children');
  assert.throws(() => w.remove(S, '/a', 'children'), { code: 'NoWatcher' });
  assert.throws(() => w.remove(T, '/a', 'any'), { code: 'NoWatcher' });
  assert.deepEqual(fired(w.trigger([ev('NodeCreated', '/a/x'), ev('NodeChildrenChanged', '/a')])), []);
  w.removeSession(S);
  assert.equal(w.size, 0);
  assert.deepEqual(fired(w.trigger([ev('NodeCreated', '/b/x')])), []);
});

test('resume fires what changed after lastZxid and re-registers the rest (SetWatches), persistent ones replay the log', () => {
  const h = new CoreHarness();
  h.create('/kept', { data: 'x' });
  h.create('/changed', { data: 'x' });
  h.create('/gone');
  h.create('/parent');
  h.create('/quiet-parent');
  const lastZxid = h.tree.lastProcessedZxid;
  const mark = h.events.length;
  h.set('/changed', 'y');
  h.delete('/gone');
  h.create('/parent/kid');
  h.create('/born');
  h.create('/sub/deep', { parents: true });
  const missed = h.events.slice(mark);
  const w = new WatchManager();
  const now = w.resume(S, lastZxid, [
    { path: '/kept', kind: 'data' }, { path: '/changed', kind: 'data' }, { path: '/gone', kind: 'data' },
    { path: '/parent', kind: 'children' }, { path: '/quiet-parent', kind: 'children' },
    { path: '/born', kind: 'exists' }, { path: '/unborn', kind: 'exists' },
    { path: '/sub', kind: 'persistent_recursive' },
  ], h.tree, missed);
  const kinds = w.watchesOf(S).map((r) => `${r.kind} ${r.path}`).sort();
  assert.deepEqual(kinds, ['children /quiet-parent', 'data /kept', 'exists /unborn', 'persistent_recursive /sub']);
  const fireSet = new Set(now.map((e) => `${e.type} ${e.path}`));
  assert.deepEqual([...fireSet].sort(), ['NodeChildrenChanged /parent', 'NodeCreated /born', 'NodeCreated /sub', 'NodeCreated /sub/deep', 'NodeDataChanged /changed', 'NodeDeleted /gone']);
  for (let i = 1; i < now.length; i++) assert.ok(now[i - 1]!.zxid <= now[i]!.zxid, 'in zxid order');
});
