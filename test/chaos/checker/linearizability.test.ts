// The linearizability checker with the versioned-register model: hand-written
// histories, a differential test against a brute-force search, randomized
// histories from real executions (with corruptions), and a 2,000-op performance run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizable, type Model } from './linearizability.ts';
import { ABSENT, registerModel, stepRegister, type RegisterOp, type RegisterOutput, type RegisterState } from './register-model.ts';
import { generateRegisterHistory, PRECREATED, prng } from './gen-register.ts';
import type { Outcome } from './history.ts';

const pre = registerModel({ initial: PRECREATED }); // /r exists with '' at version 0
const absent = registerModel();

let nextProcess = 0;
function op(f: string, input: unknown, invokeMs: number, completeMs: number | null, outcome: Outcome, output?: RegisterOutput, key = '/r'): RegisterOp {
  return { process: nextProcess++, f, key, input: input as RegisterOp['input'], invokeMs, completeMs, outcome, output };
}
const read = (t0: number, t1: number, value: string | null, version: number, key?: string) => op('read', null, t0, t1, 'ok', { value, version }, key);
const write = (t0: number, t1: number | null, value: string, out: RegisterOutput | 'unknown' | 'fail', key?: string) =>
  typeof out === 'string' ? op('write', { value }, t0, t1, out, undefined, key) : op('write', { value }, t0, t1, 'ok', out, key);
const cas = (t0: number, t1: number | null, expected: number, value: string, out: RegisterOutput | 'unknown' | 'fail') =>
  typeof out === 'string' ? op('cas', { expected, value }, t0, t1, out) : op('cas', { expected, value }, t0, t1, 'ok', out);

function linearizable(history: RegisterOp[], model = pre): boolean {
  const r = checkLinearizable(history, model);
  assert.notEqual(r.ok, 'unknown', 'search budget exceeded on a tiny history');
  return r.ok === true;
}

// ---------------------------------------------------------------------------
// Hand-written histories
// ---------------------------------------------------------------------------

test('sequential writes and reads are linearizable', () => {
  assert.ok(linearizable([read(0, 1, '', 0), write(2, 3, 'a', { version: 1 }), read(4, 5, 'a', 1), cas(6, 7, 1, 'b', { version: 2 }), read(8, 9, 'b', 2)]));
  assert.ok(linearizable([]));
});

test('a stale read after an acknowledged write is not linearizable, and the witness says why', () => {
  const h = [write(0, 10, 'a', { version: 1 }), read(20, 30, '', 0)];
  const r = checkLinearizable(h, pre);
  assert.equal(r.ok, false);
  if (r.ok !== false) return;
  assert.equal(r.key, '/r');
  assert.deepEqual(r.witness.linearized, [0]); // the write, and then nothing fits
  assert.equal(r.witness.linearizedCount, 1);
  assert.deepEqual(r.witness.state, { value: 'a', version: 1 });
  assert.deepEqual(r.witness.unplaceable.map((p) => p.index), [1]);
  assert.equal(r.witness.deadline?.index, 1);
  assert.match(r.witness.explanation, /longest linearizable prefix: 1 of 2 ops/);
  assert.match(r.witness.explanation, /#1 p\d+ read \/r null → ok \{"value":"","version":0\} \[20, 30\]/);
  assert.match(r.witness.explanation, /state after it: \{ value: "a", version: 1 \}/);
});

test('two concurrent cas both succeeding on the same version are not linearizable', () => {
  assert.equal(linearizable([cas(0, 10, 0, 'a', { version: 1 }), cas(1, 11, 0, 'b', { version: 1 })]), false);
  // ...nor is the second one claiming the version after: its expected version was gone.
  assert.equal(linearizable([cas(0, 10, 0, 'a', { version: 1 }), cas(1, 11, 0, 'b', { version: 2 })]), false);
  // One succeeding and the other refused with BadVersion is fine, in either order.
  assert.ok(linearizable([cas(0, 10, 0, 'a', { version: 1 }), cas(1, 11, 0, 'b', { error: 'BadVersion' })]));
  assert.ok(linearizable([cas(0, 10, 0, 'a', { error: 'BadVersion' }), cas(1, 11, 0, 'b', { version: 1 })]));
});

test('a BadVersion answer is an observation: refused while the version did match is not linearizable', () => {
  assert.equal(linearizable([read(0, 1, '', 0), cas(2, 3, 0, 'a', { error: 'BadVersion' }), read(4, 5, '', 0)]), false);
  assert.ok(linearizable([write(0, 1, 'x', { version: 1 }), cas(2, 3, 0, 'a', { error: 'BadVersion' }), read(4, 5, 'x', 1)]));
  // A cas that failed for another reason ('fail': NoQuorum) is dropped: it observed nothing.
  assert.ok(linearizable([read(0, 1, '', 0), cas(2, 3, 0, 'a', 'fail'), read(4, 5, '', 0)]));
});

test('a lost write is found: an acknowledged version handed out twice, or rolled back', () => {
  // w1 is acknowledged at version 1, then w2 also gets version 1 as if w1 never happened.
  assert.equal(linearizable([write(0, 10, 'a', { version: 1 }), write(20, 30, 'b', { version: 1 }), read(40, 50, 'b', 1)]), false);
  // ...or a later read sees the state from before w1.
  assert.equal(linearizable([write(0, 10, 'a', { version: 1 }), read(20, 30, 'a', 1), read(40, 50, '', 0)]), false);
  // A write that definitely failed is not there; seeing it is a violation.
  assert.equal(linearizable([write(0, 10, 'a', 'fail'), read(20, 30, 'a', 1)]), false);
  assert.ok(linearizable([write(0, 10, 'a', 'fail'), read(20, 30, '', 0)]));
});

test('an unknown write must be taken as applied to explain a later read or a version gap', () => {
  assert.ok(linearizable([write(0, 5, 'a', 'unknown'), read(10, 20, 'a', 1)]));
  // never answered at all (completeMs null), and applied long after the client gave up
  assert.ok(linearizable([write(0, null, 'a', 'unknown'), read(10, 20, '', 0), read(30, 40, 'a', 1)]));
  // a version nobody read: the gap between 1 and 3 is the unknown write
  assert.ok(linearizable([write(0, 1, 'a', { version: 1 }), write(2, 3, 'u', 'unknown'), write(10, 11, 'b', { version: 3 }), read(12, 13, 'b', 3)]));
  // without it, the gap cannot be explained
  assert.equal(linearizable([write(0, 1, 'a', { version: 1 }), write(2, 3, 'u', 'fail'), write(10, 11, 'b', { version: 3 })]), false);
  // it cannot have been applied before it was invoked
  assert.equal(linearizable([read(0, 5, 'a', 1), write(10, null, 'a', 'unknown')]), false);
});

test('an unknown write must be taken as not applied when later reads show it never was', () => {
  assert.ok(linearizable([write(0, 5, 'a', 'unknown'), read(10, 20, '', 0), read(30, 40, '', 0)]));
  // applied, then b on top: consistent; b at version 1 and then a read of b: a was not applied (yet)
  assert.ok(linearizable([write(0, 5, 'a', 'unknown'), write(10, 20, 'b', { version: 1 }), read(30, 40, 'b', 1)]));
  // an unknown cas against version 0 and a known one: only one of them can have won
  assert.ok(linearizable([cas(0, 5, 0, 'a', 'unknown'), cas(10, 20, 0, 'b', { version: 1 }), read(30, 40, 'b', 1)]));
  // but an unknown op cannot be applied twice, nor explain two versions
  assert.equal(linearizable([write(0, 5, 'a', 'unknown'), read(10, 20, 'a', 1), read(30, 40, 'a', 2)]), false);
});

test('overlapping ops may take effect in either order', () => {
  // a read overlapping a write may see before or after it
  assert.ok(linearizable([write(0, 10, 'a', { version: 1 }), read(5, 15, '', 0)]));
  assert.ok(linearizable([write(0, 10, 'a', { version: 1 }), read(5, 15, 'a', 1)]));
  // two overlapping writes in either order, and a read after both sees the later one
  assert.ok(linearizable([write(0, 10, 'a', { version: 1 }), write(5, 15, 'b', { version: 2 }), read(20, 30, 'b', 2)]));
  assert.ok(linearizable([write(0, 10, 'a', { version: 2 }), write(5, 15, 'b', { version: 1 }), read(20, 30, 'a', 2)]));
  assert.equal(linearizable([write(0, 10, 'a', { version: 2 }), write(5, 15, 'b', { version: 1 }), read(20, 30, 'b', 1)]), false);
  // ops touching at one instant are concurrent (the clock cannot order them)
  assert.ok(linearizable([write(0, 10, 'a', { version: 1 }), read(10, 20, '', 0)]));
  assert.equal(linearizable([write(0, 10, 'a', { version: 1 }), read(11, 20, '', 0)]), false);
  // two reads overlapping one write cannot see it in opposite orders once one saw it first
  assert.equal(linearizable([write(0, 100, 'a', { version: 1 }), read(10, 20, 'a', 1), read(30, 40, '', 0)]), false);
});

test('a node that does not exist yet: NoNode reads and sets, create', () => {
  const h = [
    read(0, 1, null, -1),
    write(2, 3, 'x', { error: 'NoNode' }),
    op('create', { value: 'c' }, 4, 5, 'ok', { version: 0 }),
    op('create', { value: 'd' }, 6, 7, 'ok', { error: 'NodeExists' }),
    read(8, 9, 'c', 0),
    write(10, 11, 'x', { version: 1 }),
  ];
  assert.ok(linearizable(h, absent));
  assert.equal(linearizable([op('create', { value: 'c' }, 0, 1, 'ok', { version: 0 }), read(2, 3, null, -1)], absent), false);
  assert.equal(linearizable([read(0, 1, '', 0)], absent), false);
});

test('keys are checked independently, and the failing key is named', () => {
  const h = [write(0, 10, 'a', { version: 1 }, '/a'), write(0, 10, 'b', { version: 1 }, '/b'), read(20, 30, 'a', 1, '/a'), read(20, 30, '', 0, '/b')];
  const r = checkLinearizable(h, pre);
  assert.equal(r.ok, false);
  assert.equal(r.ok === false && r.key, '/b');
  assert.equal(r.stats.keys, 2);
});

test('the search budget gives ok: unknown instead of hanging', () => {
  const g = generateRegisterHistory({ seed: 5, ops: 200, processes: 10 });
  const r = checkLinearizable(g.history, pre, { maxStates: 20 });
  assert.equal(r.ok, 'unknown');
  assert.ok(r.ok === 'unknown' && /search budget exceeded/.test(r.reason));
});

test('a malformed history is refused loudly', () => {
  assert.throws(() => checkLinearizable([read(10, 5, '', 0)], pre), /completeMs before invokeMs/);
  assert.throws(() => checkLinearizable([op('read', null, 0, null, 'ok', { value: '', version: 0 })], pre), /needs a finite completeMs/);
  assert.throws(() => checkLinearizable([op('write', { value: 'a' }, 0, 1, 'ok', { error: 'NoQuorum' } as never)], pre), /not an observation/);
});

// ---------------------------------------------------------------------------
// Differential: the checker against a brute-force search over every order
// ---------------------------------------------------------------------------

/** Every sequence of all known ops plus any unknown ones that respects real time. */
function bruteForce(history: RegisterOp[], initial: RegisterState): boolean {
  const ops = history.filter((o) => o.outcome !== 'fail');
  const rec = (state: RegisterState, left: RegisterOp[]): boolean => {
    if (!left.some((o) => o.outcome === 'ok')) return true;
    for (const x of left) {
      if (left.some((y) => y.outcome === 'ok' && y.completeMs! < x.invokeMs)) continue; // y must come first
      const r = stepRegister(state, x);
      if (r.ok && rec(r.next, left.filter((o) => o !== x))) return true;
    }
    return false;
  };
  return rec(initial, ops);
}

/** A small random history: a real execution, then (often) one or two outputs tampered with. */
function smallHistory(seed: number): { history: RegisterOp[]; initial: RegisterState } {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const initial = rnd() < 0.5 ? ABSENT : PRECREATED;
  const values = ['a', 'b', 'c'];
  const n = 3 + Math.floor(rnd() * 6);
  const drafts: { op: RegisterOp; lin: number; applied: boolean }[] = [];
  const clock = [0, 0, 0];
  for (let k = 0; k < n; k++) {
    const p = Math.floor(rnd() * 3);
    const invokeMs = clock[p]! + Math.floor(rnd() * 3);
    const completeMs = invokeMs + Math.floor(rnd() * 6);
    const f = pick(['read', 'read', 'write', 'cas', 'cas', 'create']);
    const input = f === 'read' ? null : f === 'cas' ? { expected: Math.floor(rnd() * 3), value: pick(values) } : { value: pick(values) };
    const outcome: Outcome = rnd() < 0.7 ? 'ok' : rnd() < 0.5 ? 'unknown' : 'fail';
    drafts.push({ op: { process: p, f, key: '/r', input, invokeMs, completeMs: outcome === 'unknown' && rnd() < 0.5 ? null : completeMs, outcome }, lin: invokeMs + rnd() * (completeMs - invokeMs), applied: outcome === 'ok' || (outcome === 'unknown' && rnd() < 0.5) });
    clock[p] = completeMs + 1;
  }
  let state = initial;
  for (const d of [...drafts].sort((a, b) => a.lin - b.lin)) {
    if (!d.applied) continue;
    const out = outputOf(state, d.op);
    state = stepRegister(state, { ...d.op, outcome: 'ok', output: out }).next;
    if (d.op.outcome === 'ok') d.op.output = out;
  }
  const history = drafts.map((d) => d.op);
  const tamper = rnd() < 0.6 ? 1 + Math.floor(rnd() * 2) : 0;
  for (let t = 0; t < tamper; t++) {
    const o = pick(history);
    if (o.outcome !== 'ok') continue;
    const r = rnd();
    if (o.f === 'read') o.output = r < 0.2 ? { value: null, version: -1 } : { value: pick(values), version: Math.floor(rnd() * 4) };
    else if (o.f === 'cas') o.output = r < 0.5 ? { error: 'BadVersion' } : { version: Math.floor(rnd() * 4) };
    else if (o.f === 'create') o.output = r < 0.5 ? { error: 'NodeExists' } : { version: 0 };
    else o.output = r < 0.2 ? { error: 'NoNode' } : { version: Math.floor(rnd() * 4) };
  }
  return { history, initial };
}

/** The output an op gets when it takes effect in `s`. */
function outputOf(s: RegisterState, o: RegisterOp): RegisterOutput {
  const exists = s.version >= 0;
  switch (o.f) {
    case 'read':
      return { value: exists ? s.value : null, version: s.version };
    case 'write':
      return exists ? { version: s.version + 1 } : { error: 'NoNode' };
    case 'cas':
      return !exists ? { error: 'NoNode' } : s.version === (o.input as { expected: number }).expected ? { version: s.version + 1 } : { error: 'BadVersion' };
    default:
      return exists ? { error: 'NodeExists' } : { version: 0 };
  }
}

test('differential: the checker agrees with a brute-force search on 4,000 small random histories', () => {
  let yes = 0;
  let no = 0;
  for (let seed = 1; seed <= 4000; seed++) {
    const { history, initial } = smallHistory(seed);
    const expected = bruteForce(history, initial);
    const full = registerModel({ initial });
    // the same model without its optional reductions (readOnly, impossible, prepare)
    const plain: Model<RegisterState, RegisterOp['input'], RegisterOp['output']> = { init: full.init, step: full.step, key: full.key };
    for (const model of [full, plain]) {
      const r = checkLinearizable(history, model);
      assert.equal(r.ok, expected, `seed ${seed} (${model === full ? 'full' : 'plain'} model): checker says ${r.ok}, brute force ${expected}\n${JSON.stringify(history)}`);
    }
    if (expected) yes++;
    else no++;
  }
  assert.ok(yes > 1000 && no > 1000, `both verdicts well represented: ${yes} linearizable, ${no} not`);
});

// ---------------------------------------------------------------------------
// Randomized histories from real executions
// ---------------------------------------------------------------------------

test('randomized: histories from a real execution are always linearizable (with unknown and failed ops, several keys)', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const g = generateRegisterHistory({ seed, ops: 400, processes: 2 + (seed % 12), keys: seed % 3 === 0 ? ['/a', '/b', '/c'] : ['/r'], pUnknown: 0.05, pFail: 0.03 });
    const r = checkLinearizable(g.history, pre);
    assert.equal(r.ok, true, `seed ${seed}: ${r.ok === false ? r.witness.explanation : r.ok === 'unknown' ? r.reason : ''}`);
  }
});

type Read = { op: RegisterOp; index: number };
const okReads = (h: RegisterOp[]): Read[] => h.flatMap((op, index) => (op.f === 'read' && op.outcome === 'ok' ? [{ op, index }] : []));

test('randomized: a read made stale (a newer version was acknowledged before it began) is always found', () => {
  let tried = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const g = generateRegisterHistory({ seed, ops: 400, processes: 10, pUnknown: 0.03 });
    const values = g.values.get('/r')!;
    // A read R and an acknowledged write/cas W that returned version w and completed
    // before R was invoked: in every linearization W precedes R, and versions never go
    // back, so R cannot see any version below w.
    const acked = g.history.filter((o) => o.f !== 'read' && o.outcome === 'ok' && 'version' in (o.output as object));
    const candidates = okReads(g.history).flatMap((r) => {
      const before = acked.filter((w) => w.completeMs! < r.op.invokeMs);
      const w = Math.max(...before.map((o) => (o.output as { version: number }).version));
      return w > 0 ? [{ r, w }] : [];
    });
    const { r, w } = candidates[Math.floor(prng(seed)() * candidates.length)]!;
    const stale = Math.max(0, w - 1 - Math.floor(prng(seed + 1)() * 3));
    r.op.output = { value: values[stale]!, version: stale };
    const res = checkLinearizable(g.history, pre);
    assert.equal(res.ok, false, `seed ${seed}: stale read #${r.index} (version ${stale} after ${w} was acknowledged) not found`);
    if (res.ok === false) assert.ok(res.witness.unplaceable.length > 0);
    tried++;
  }
  assert.equal(tried, 60);
});

test('randomized: a read returning a value that was never at that version is always found', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const g = generateRegisterHistory({ seed, ops: 400, processes: 10, pUnknown: 0.03 });
    const reads = okReads(g.history);
    const r = reads[Math.floor(prng(seed)() * reads.length)]!;
    const { version } = r.op.output as { version: number };
    r.op.output = { value: 'never-written', version };
    assert.equal(checkLinearizable(g.history, pre).ok, false, `seed ${seed}`);
  }
});

test('randomized: a read corrupted to any other version is found in most cases', (t) => {
  let found = 0;
  const runs = 100;
  for (let seed = 1; seed <= runs; seed++) {
    const g = generateRegisterHistory({ seed, ops: 400, processes: 10, pUnknown: 0.03 });
    const values = g.values.get('/r')!;
    const rnd = prng(seed * 31);
    const reads = okReads(g.history);
    const r = reads[Math.floor(rnd() * reads.length)]!;
    const { version } = r.op.output as { version: number };
    let v = version;
    while (v === version) v = Math.floor(rnd() * values.length);
    r.op.output = { value: values[v]!, version: v };
    const res = checkLinearizable(g.history, pre);
    assert.notEqual(res.ok, 'unknown');
    if (res.ok === false) found++;
  }
  t.diagnostic(`${found}/${runs} corruptions found (the rest fell inside the read's own window, which is legal)`);
  assert.ok(found >= 0.8 * runs, `${found}/${runs}`);
});

// ---------------------------------------------------------------------------
// Performance
// ---------------------------------------------------------------------------

test('performance: 2,000 ops by 10 concurrent processes on one key complete the search', (t) => {
  const g = generateRegisterHistory({ seed: 2024, ops: 2000, processes: 10, pUnknown: 0.05, pFail: 0.02 });
  let t0 = performance.now();
  const ok = checkLinearizable(g.history, pre);
  const okMs = performance.now() - t0;
  assert.equal(ok.ok, true);
  t.diagnostic(`linearizable: ${ok.stats.ops} ops, ${ok.stats.states} configurations, ${okMs.toFixed(0)} ms`);

  // the same history with one read made stale in the middle: found, not given up on
  const values = g.values.get('/r')!;
  const reads = okReads(g.history);
  const r = reads[Math.floor(reads.length / 2)]!;
  const w = Math.max(...g.history.filter((o) => o.f !== 'read' && o.outcome === 'ok' && 'version' in (o.output as object) && o.completeMs! < r.op.invokeMs).map((o) => (o.output as { version: number }).version));
  r.op.output = { value: values[w - 2]!, version: w - 2 };
  t0 = performance.now();
  const bad = checkLinearizable(g.history, pre);
  const badMs = performance.now() - t0;
  assert.equal(bad.ok, false);
  t.diagnostic(`with a stale read: found, ${bad.stats.states} configurations, ${badMs.toFixed(0)} ms`);
});
