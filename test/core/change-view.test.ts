// The leader's view of the tree with its proposals not yet applied (core/request/change-view.ts):
// a change answers for its path until the tree has applied its zxid, then the tree answers; the
// maps holding changes are rebuilt (pending changes kept) when they grow, and dropped when nothing
// is pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeView, type NodeRecord } from '../../core/request/change-view.ts';
import { DataTree } from '../../core/tree/data-tree.ts';
import { NodeKind } from '../../core/txn.ts';

const rec = (version: number): NodeRecord => ({
  version, aversion: 0, cversion: 0, childCount: 0, ephemeralOwner: null, kind: NodeKind.PERSISTENT, ttlMs: 0, acl: [], mtime: 0,
});

test('pending changes answer until applied, across rebuilds of the maps', () => {
  const tree = new DataTree();
  const v = new ChangeView(tree);
  const root = v.node('/zookeeper');
  assert.ok(root !== null, 'an existing node comes from the tree');
  // 5,000 changes to 2,500 paths (two each), zxids 1..5000, none applied yet
  for (let z = 1; z <= 5000; z++) v.setNode(`/p${z % 2500}`, rec(z), z);
  v.setSession('s1', true, 5000);
  for (let applied = 0; applied <= 5000; applied += 250) {
    tree.lastProcessedZxid = applied;
    v.appliedUpTo(applied);
    for (const i of [0, 1, 1249, 1250, 2499]) {
      const latest = i === 0 ? 5000 : 2500 + i; // the path's second change
      const got = v.node(`/p${i}`);
      // pending: the change's record; applied: the tree's (this tree never had the node)
      assert.deepEqual(got, latest > applied ? rec(latest) : null, `/p${i} with ${applied} applied`);
    }
    assert.equal(v.sessionOpen('s1'), applied < 5000, `session with ${applied} applied`);
  }
  assert.deepEqual(v.node('/zookeeper'), root);
});

test('a multi being prepared keeps its undo log valid while commits are applied', () => {
  const tree = new DataTree();
  const v = new ChangeView(tree);
  for (let z = 1; z <= 2000; z++) v.setNode(`/a${z}`, rec(z), z);
  v.begin();
  v.setNode('/a1', rec(9001), 2001);
  v.setNode('/new', rec(9002), 2002);
  tree.lastProcessedZxid = 1999;
  v.appliedUpTo(1999); // would rebuild (2,002 entries) but a multi is open
  v.rollback();
  assert.equal(v.node('/new'), null, 'the rolled-back create is gone');
  assert.equal(v.node('/a1'), null, '/a1 is back to its applied change, which the tree answers for');
  assert.deepEqual(v.node('/a2000'), rec(2000), 'a pending change survives');
  v.appliedUpTo(1999); // now the maps rebuild
  assert.deepEqual(v.node('/a2000'), rec(2000));
});
