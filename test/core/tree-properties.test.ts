// Property tests: random operation sequences keep the tree's invariants, and
// snapshot + log replay rebuilds exactly the same tree (fast-check; a failure
// prints its seed and replays with { seed, path }).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ZkError } from '../../core/errors.ts';
import type { CreateMode, MultiOp, WriteRequest } from '../../core/request/requests.ts';
import { applyTxn } from '../../core/tree/apply-txn.ts';
import { DataTree } from '../../core/tree/data-tree.ts';
import { decodeSnapshot, SnapshotEncoder } from '../../core/tree/snapshot-codec.ts';
import { NodeKind } from '../../core/txn.ts';
import type { ZNode } from '../../core/tree/znode.ts';
import { statOf } from '../../core/tree/znode.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { restore } from '../../storage/restore.ts';
import { CoreHarness } from '../support/core-harness.ts';
import { dumpTree } from '../support/tree-dump.ts';

const PATHS = ['/a', '/b', '/a/x', '/a/y', '/b/x', '/a/x/z', '/a/', '/b/'];
const MODES: CreateMode[] = ['persistent', 'ephemeral', 'persistent_sequential', 'ephemeral_sequential', 'container', 'persistent_with_ttl'];
const SESSIONS = ['00000000000000a1', '00000000000000a2'];

type Step =
  | { k: 'create'; path: string; mode: CreateMode; session: number; data: number[] }
  | { k: 'set'; path: string; version: number }
  | { k: 'delete'; path: string; version: number; recursive: boolean }
  | { k: 'multi'; ops: Step[] }
  | { k: 'open'; session: number }
  | { k: 'close'; session: number }
  | { k: 'tick'; ms: number }
  | { k: 'snapshot' };

const pathArb = fc.constantFrom(...PATHS);
const createArb = fc.record({
  k: fc.constant('create' as const), path: pathArb, mode: fc.constantFrom(...MODES),
  session: fc.integer({ min: 0, max: 1 }), data: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
});
const setArb = fc.record({ k: fc.constant('set' as const), path: pathArb, version: fc.integer({ min: -1, max: 2 }) });
const deleteArb = fc.record({ k: fc.constant('delete' as const), path: pathArb, version: fc.integer({ min: -1, max: 1 }), recursive: fc.boolean() });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: createArb },
  { weight: 3, arbitrary: setArb },
  { weight: 3, arbitrary: deleteArb },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('multi' as const), ops: fc.array(fc.oneof(createArb, setArb, deleteArb.map((d) => ({ ...d, recursive: false }))), { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('open' as const), session: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), session: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'snapshot' as const }) },
);

function toRequest(s: Step): { req: WriteRequest; session: string | null } | null {
  switch (s.k) {
    case 'create': {
      const eph = s.mode === 'ephemeral' || s.mode === 'ephemeral_sequential';
      return { req: { op: 'create', path: s.path, data: Uint8Array.from(s.data), acl: null, mode: s.mode, ttlMs: s.mode === 'persistent_with_ttl' ? 150 : null }, session: eph ? SESSIONS[s.session]! : null };
    }
    case 'set': return { req: { op: 'set', path: s.path, data: Uint8Array.from([s.version + 1]), version: s.version }, session: null };
    case 'delete': return { req: { op: 'delete', path: s.path, version: s.version, recursive: s.recursive }, session: null };
    case 'multi': {
      let session: string | null = null;
      const ops = s.ops.map((o) => {
        const r = toRequest(o)!;
        session ??= r.session;
        return r.req as MultiOp;
      });
      return { req: { op: 'multi', ops }, session };
    }
    case 'open': return { req: { op: 'createSession', sessionId: SESSIONS[s.session]!, timeoutMs: 300 }, session: null };
    case 'close': return { req: { op: 'closeSession', sessionId: SESSIONS[s.session]! }, session: null };
    default: return null;
  }
}

/** Every invariant a tree must keep, whatever happened to it. */
function checkInvariants(t: DataTree): void {
  let count = 0;
  const ephemerals = new Map<string, Set<string>>();
  const visit = (path: string, n: ZNode) => {
    count++;
    const st = statOf(n);
    assert.ok(n.mzxid >= n.czxid && n.pzxid >= n.czxid, `${path}: zxids ${n.czxid}/${n.mzxid}/${n.pzxid}`);
    assert.ok(n.czxid <= t.lastProcessedZxid, `${path}: czxid beyond the tree`);
    assert.ok(n.cversion >= st.numChildren || path === '/' || path === '/zookeeper', `${path}: fewer creates than children`);
    assert.equal(st.dataLength, n.data.length);
    if (n.children !== null) assert.ok(n.children.size > 0, `${path}: empty children map kept`);
    if (n.ephemeralOwner !== null) {
      assert.equal(n.numChildren, 0, `${path}: an ephemeral with children`);
      assert.equal(n.kind, NodeKind.EPHEMERAL);
      const set = ephemerals.get(n.ephemeralOwner) ?? new Set();
      set.add(path);
      ephemerals.set(n.ephemeralOwner, set);
      assert.ok(t.sessions.has(n.ephemeralOwner), `${path}: owner session missing`);
    }
    assert.equal(t.containers.has(path), n.kind === NodeKind.CONTAINER, `${path}: containers set`);
    assert.equal(t.ttls.has(path), n.kind === NodeKind.TTL, `${path}: ttls set`);
    if (n.children !== null) for (const [name, c] of n.children) {
      assert.equal(c.parent, n);
      assert.equal(c.name, name);
      visit(path === '/' ? `/${name}` : `${path}/${name}`, c);
    }
  };
  visit('/', t.root);
  assert.equal(count, t.nodeCount, 'nodeCount');
  for (const s of t.sessions.values()) assert.deepEqual([...s.ephemerals].sort(), [...(ephemerals.get(s.sessionId) ?? [])].sort(), `ephemerals of ${s.sessionId}`);
  for (const p of t.containers) assert.ok(t.get(p));
  for (const p of t.ttls) assert.ok(t.get(p));
}

/** Runs steps on a harness; `snapshot` steps write a snapshot interleaved with later writes. */
function runSteps(steps: Step[], batch: boolean): CoreHarness {
  const h = new CoreHarness();
  let pending: SnapshotEncoder | null = null;
  let writer: ReturnType<MemoryStore['beginSnapshot']> | null = null;
  const advanceSnapshot = () => {
    if (!pending || !writer) return;
    const c = pending.nextChunk();
    if (c === null) { writer.finish(pending.nodeCount); pending = null; writer = null; } else writer.writeChunk(c);
  };
  for (const s of steps) {
    if (s.k === 'tick') { h.tick(s.ms); advanceSnapshot(); continue; }
    if (s.k === 'snapshot') {
      if (!pending) {
        pending = new SnapshotEncoder(h.tree, 3);
        writer = h.store.beginSnapshot(pending.zxid, h.now);
      }
      advanceSnapshot();
      continue;
    }
    const r = toRequest(s)!;
    h.submit(r.req, { sessionId: r.session });
    if (!batch) h.pump();
    h.now += 7;
    advanceSnapshot();
    checkInvariants(h.tree);
  }
  h.pump();
  while (pending) advanceSnapshot();
  checkInvariants(h.tree);
  return h;
}

test('random operation sequences keep the tree\'s invariants (one at a time and pipelined)', () => {
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), fc.boolean(), (steps, batch) => {
    runSteps(steps, batch);
  }), { numRuns: 300 });
});

test('restart from snapshot + log replay rebuilds exactly the same tree', () => {
  fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), fc.boolean(), (steps, batch) => {
    const h = runSteps(steps, batch);
    const before = dumpTree(h.tree);
    const restored = restore(h.store, h.store);
    assert.deepEqual(dumpTree(restored.tree), before);
    checkInvariants(restored.tree);
    // and from every snapshot there is, replaying the log from it
    for (const meta of h.store.listSnapshots()) {
      const t = decodeSnapshot(h.store.readSnapshot(meta.id));
      for (const txn of h.store.readAfter(t.lastProcessedZxid, 1e9)) applyTxn(t, txn);
      assert.deepEqual(dumpTree(t), before, `from snapshot at ${meta.zxid}`);
    }
  }), { numRuns: 200 });
});

test('a snapshot written while transactions keep applying is exactly the state at its zxid', () => {
  fc.assert(fc.property(fc.array(stepArb.filter((s) => s.k !== 'snapshot'), { minLength: 5, maxLength: 50 }), fc.integer({ min: 0, max: 49 }), (steps, at) => {
    const h = new CoreHarness();
    let gen: SnapshotEncoder | null = null;
    const chunks: Uint8Array[] = [];
    let expected: unknown = null;
    steps.forEach((s, i) => {
      if (i === Math.min(at, steps.length - 1)) {
        expected = dumpTree(h.tree);
        gen = new SnapshotEncoder(h.tree, 2);
      }
      if (s.k === 'tick') h.tick(s.ms);
      else { const r = toRequest(s)!; h.submit(r.req, { sessionId: r.session }); h.pump(); }
      const c = gen?.nextChunk();
      if (c) chunks.push(c);
    });
    for (let c = (gen as SnapshotEncoder | null)?.nextChunk(); c; c = (gen as SnapshotEncoder | null)?.nextChunk()) chunks.push(c);
    assert.deepEqual(dumpTree(decodeSnapshot(chunks)), expected);
  }), { numRuns: 200 });
});

test('a damaged snapshot is skipped for an older one and the log covers the difference', () => {
  const h = new CoreHarness();
  const snap = () => {
    const enc = new SnapshotEncoder(h.tree, 2);
    const w = h.store.beginSnapshot(enc.zxid, 0);
    for (let c = enc.nextChunk(); c !== null; c = enc.nextChunk()) w.writeChunk(c);
    w.finish(enc.nodeCount);
  };
  h.create('/a', { data: 'one' });
  snap();
  h.create('/b', { data: 'two' });
  snap();
  h.create('/c');
  const want = dumpTree(h.tree);
  const [newest] = h.store.listSnapshots();
  h.store.corruptSnapshot(newest!.id, 1);
  const r = restore(h.store, h.store);
  assert.deepEqual(r.damaged, [newest!.id]);
  assert.deepEqual(dumpTree(r.tree), want);
  assert.ok(!(r.tree.get('/a') instanceof ZkError));
});
