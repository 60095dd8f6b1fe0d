// The order of effects with the log's fsync deferred (core/effects.ts EffectRunner):
// a standalone production Replica over a MemoryStore in deferred-sync mode, whose
// syncs complete when the test says so. Nothing is applied or answered before
// the append it depends on is durable; what arrives meanwhile shares the next sync.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EffectRunner, type EffectTarget, type LogSync } from '../../core/effects.ts';
import { Replica } from '../../core/replica.ts';
import type { WriteRequest } from '../../core/request/requests.ts';
import type { Applied } from '../../core/tree/apply-txn.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { restore } from '../../storage/restore.ts';
import { TEST_REPLICA_CONFIG, utf8 } from '../support/core-harness.ts';

/** A standalone server whose log syncs are deferred (completed by the test), or durable on append. */
function standalone(deferred = true) {
  const store = new MemoryStore();
  if (deferred) store.deferSync();
  const tree = restore(store, store).tree;
  const replica = new Replica(TEST_REPLICA_CONFIG, tree, { epochs: store.getEpochs(), lastLoggedZxid: store.lastZxid(), log: store });
  const answers: Array<{ token: number; zxid?: number; error?: string }> = [];
  const syncs: Array<{ seq: number; done: (err: Error | null) => void }> = [];
  const failures: Error[] = [];
  const logSync: LogSync = {
    sync: (done) => { syncs.push({ seq: store.writeSeq, done }); },
    syncNow: () => store.markDurable(),
  };
  const target: EffectTarget = {
    log: store, epochs: store, snapshots: store, tree, replica,
    reloadTree: () => tree.loadFrom(restore(store, store).tree),
    send: () => {},
    committed: (token, applied: Applied) => { if (token !== null) answers.push({ token, zxid: applied.zxid }); },
    replied: (r) => { answers.push({ token: r.token, error: 'error' in r ? r.error.code : undefined }); },
  };
  const runner = new EffectRunner(target, deferred ? logSync : null, { resume: () => runner.drain(), fail: (e) => failures.push(e) });
  let now = 1_000_000;
  replica.start(now);
  runner.drain();
  // the standalone election wrote its epochs (durable on return); nothing is held
  assert.equal(runner.held, 0);
  let token = 0;
  const submit = (req: WriteRequest) => {
    replica.submit(req, { sessionId: null, auth: [] }, ++token, ++now);
    runner.drain();
    return token;
  };
  /** The oldest sync in flight completes. */
  const completeSync = (err: Error | null = null) => {
    const s = syncs.shift()!;
    if (err === null) store.markDurable(s.seq);
    s.done(err);
  };
  return { store, tree, replica, runner, answers, syncs, failures, submit, completeSync };
}

const create = (path: string): WriteRequest => ({ op: 'create', path, data: utf8('x'), acl: null, mode: 'persistent', ttlMs: null });

test('a write is applied and answered only once a sync covering its append completes', () => {
  const w = standalone();
  const t = w.submit(create('/a'));
  assert.equal(w.store.unsynced, 1, 'appended, not yet durable');
  assert.equal(w.syncs.length, 1, 'one sync started');
  assert.equal(w.runner.held, 1);
  assert.equal(w.answers.length, 0, 'not answered before its fsync');
  assert.equal(w.tree.get('/a'), undefined, 'not applied before its fsync');
  w.completeSync();
  assert.equal(w.store.unsynced, 0);
  assert.equal(w.answers.length, 1);
  assert.equal(w.answers[0]!.token, t);
  assert.ok(w.tree.get('/a') !== undefined);
  assert.equal(w.runner.held, 0);
  assert.equal(w.syncs.length, 0, 'nothing left to sync');
});

test('writes arriving during a sync are appended at once and share the next sync, answered in order', () => {
  const w = standalone();
  const t1 = w.submit(create('/a'));
  const t2 = w.submit(create('/b'));
  const t3 = w.submit(create('/c'));
  assert.equal(w.syncs.length, 1, 'one sync in flight at a time');
  assert.equal(w.store.unsynced, 3, 'all three appended while the first sync runs');
  w.completeSync();
  // the first sync covered /a only; /b and /c wait for the next, which starts now
  assert.deepEqual(w.answers.map((a) => a.token), [t1]);
  assert.equal(w.tree.get('/b'), undefined);
  assert.equal(w.syncs.length, 1, 'the next sync covers both later appends');
  w.completeSync();
  assert.deepEqual(w.answers.map((a) => a.token), [t1, t2, t3]);
  assert.deepEqual(w.answers.map((a) => a.zxid), [...w.answers.map((a) => a.zxid!)].sort((x, y) => x - y), 'in zxid order');
  assert.equal(w.syncs.length, 0);
});

test('a failure judged against a write still waiting for its fsync is answered after that write', () => {
  const w = standalone();
  const t1 = w.submit(create('/a'));
  const t2 = w.submit(create('/a')); // NodeExists against the pending create: answered without an append
  assert.equal(w.store.unsynced, 1);
  assert.equal(w.answers.length, 0, 'the failure does not overtake the write it was judged against');
  w.completeSync();
  assert.deepEqual(w.answers.map((a) => [a.token, a.error ?? 'ok']), [[t1, 'ok'], [t2, 'NodeExists']]);
});

test('a crash before the sync completes loses the write, which was never answered', () => {
  const w = standalone();
  w.submit(create('/a'));
  assert.equal(w.answers.length, 0);
  w.runner.stop();
  w.store.loseUnsynced(0);
  const back = restore(w.store, w.store).tree;
  assert.equal(back.get('/a'), undefined);
  w.completeSync(); // arrives after the stop: ignored
  assert.equal(w.answers.length, 0);
});

test('a failed sync stops the runner: nothing held is applied or answered, and the driver is told', () => {
  const w = standalone();
  w.submit(create('/a'));
  w.completeSync(Object.assign(new Error('EIO: fdatasync'), { code: 'EIO' }));
  assert.equal(w.failures.length, 1);
  assert.match(w.failures[0]!.message, /EIO/);
  assert.equal(w.answers.length, 0);
  assert.equal(w.tree.get('/a'), undefined);
  w.submit(create('/b'));
  assert.equal(w.syncs.length, 0, 'a stopped runner performs nothing more');
});

test('without a LogSync the runner is performOutput in a loop: durable on return, answered at once', () => {
  const w = standalone(false);
  const t = w.submit(create('/a'));
  assert.deepEqual(w.answers.map((a) => [a.token, a.error ?? 'ok']), [[t, 'ok']]);
  assert.ok(w.tree.get('/a') !== undefined);
  assert.equal(w.runner.held, 0);
  assert.equal(w.syncs.length, 0, 'no sync is ever asked for');
  assert.equal(w.failures.length, 0);
});
