// Sequential creates, grow-only set, lock and session checkers: passing and failing inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLock, checkSequentialCreates, checkSessions, checkSet, type CheckResult, type LockHold, type SessionRecords } from './other-checkers.ts';
import type { Op, Outcome } from './history.ts';

function errorsOf(r: CheckResult): string[] {
  assert.equal(r.ok, false, 'expected the checker to fail');
  return r.ok === false ? r.errors : [];
}

// ---------------------------------------------------------------------------
// Sequential creates
// ---------------------------------------------------------------------------

const name = (prefix: string, n: number) => `${prefix}${String(n).padStart(10, '0')}`;
function seq(invokeMs: number, completeMs: number | null, outcome: Outcome, n?: number, prefix = 'job-', parent = '/seq'): Op {
  return { process: invokeMs, f: 'create-seq', key: parent, input: { prefix }, invokeMs, completeMs, outcome, output: n === undefined ? undefined : { path: `${parent}/${name(prefix, n)}` } };
}

test('sequential creates: acknowledged, unknown and failed creates consistent with the final children pass', () => {
  const h = [
    seq(0, 10, 'ok', 0),
    seq(5, 15, 'ok', 2), // concurrent with the first, then 1 went to the unknown one
    seq(6, null, 'unknown'),
    seq(20, 30, 'ok', 3),
    seq(31, 40, 'fail'),
    seq(41, 45, 'unknown'), // never applied
    seq(50, 60, 'ok', 4, ''), // `POST /znodes/seq/`: no prefix, shares the parent's counter
    { process: 99, f: 'read', key: '/seq', input: null, invokeMs: 0, completeMs: 1, outcome: 'ok', output: [] } as Op, // other ops are ignored
  ];
  const r = checkSequentialCreates(h, new Map([['/seq', [name('job-', 0), name('job-', 1), name('job-', 2), name('job-', 3), name('', 4)]]]));
  assert.deepEqual(r, { ok: true, stats: { acknowledged: 4, unknown: 2, failed: 1, finalChildren: 5, unknownPresent: 1 } });
  // finalChildren as a plain object, for several parents
  assert.equal(checkSequentialCreates([seq(0, 1, 'ok', 0, 'a-', '/p'), seq(0, 1, 'ok', 0, 'b-', '/q')], { '/p': [name('a-', 0)], '/q': [name('b-', 0)] }).ok, true);
});

test('sequential creates: a name acknowledged twice is found', () => {
  const errors = errorsOf(checkSequentialCreates([seq(0, 10, 'ok', 0), seq(5, 15, 'ok', 0)], { '/seq': [name('job-', 0)] }));
  assert.match(errors.join('\n'), /counter 0 acknowledged twice/);
  // the same counter under two prefixes is a duplicate too: the counter is the parent's
  assert.match(errorsOf(checkSequentialCreates([seq(0, 10, 'ok', 7, 'a-'), seq(20, 30, 'ok', 7, 'b-')], { '/seq': [name('a-', 7), name('b-', 7)] })).join('\n'), /counter 7 acknowledged twice/);
});

test('sequential creates: counters that go against real time are found', () => {
  const errors = errorsOf(checkSequentialCreates([seq(0, 10, 'ok', 5), seq(20, 30, 'ok', 3)], { '/seq': [name('job-', 3), name('job-', 5)] }));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /job-0000000005 completed before job-0000000003 was asked for/);
  // overlapping creates may get their counters in either order
  assert.equal(checkSequentialCreates([seq(0, 10, 'ok', 1), seq(5, 30, 'ok', 0)], { '/seq': [name('job-', 0), name('job-', 1)] }).ok, true);
});

test('sequential creates: an acknowledged name missing at the end is found', () => {
  const errors = errorsOf(checkSequentialCreates([seq(0, 10, 'ok', 0), seq(20, 30, 'ok', 1)], { '/seq': [name('job-', 1)] }));
  assert.deepEqual(errors.length, 1);
  assert.match(errors[0]!, /acknowledged job-0000000000 is missing at the end/);
});

test('sequential creates: phantoms are found, and unknown creates explain only what they can', () => {
  // nothing was attempted with that prefix
  assert.match(errorsOf(checkSequentialCreates([seq(0, 10, 'ok', 0)], { '/seq': [name('job-', 0), name('other-', 1)] })).join('\n'), /other-0000000001 exists but was never acknowledged/);
  // a failed create explains nothing
  assert.match(errorsOf(checkSequentialCreates([seq(0, 10, 'fail')], { '/seq': [name('job-', 0)] })).join('\n'), /a phantom/);
  // one unknown create explains one name, not two
  const two = errorsOf(checkSequentialCreates([seq(0, null, 'unknown')], { '/seq': [name('job-', 0), name('job-', 1)] }));
  assert.equal(two.length, 1);
  assert.match(two[0]!, /job-0000000001 .* a phantom/);
  // an unknown create invoked after counter 5 was acknowledged cannot have produced counter 2
  assert.match(errorsOf(checkSequentialCreates([seq(0, 10, 'ok', 5), seq(20, null, 'unknown')], { '/seq': [name('job-', 2), name('job-', 5)] })).join('\n'), /job-0000000002 .* a phantom/);
  // ...but counter 6 it can
  assert.equal(checkSequentialCreates([seq(0, 10, 'ok', 5), seq(20, null, 'unknown')], { '/seq': [name('job-', 5), name('job-', 6)] }).ok, true);
  // a child that is not prefix + 10 digits at all
  assert.match(errorsOf(checkSequentialCreates([], { '/seq': ['stray'] })).join('\n'), /stray exists but no sequential create could have made it/);
});

test('sequential creates: a malformed acknowledged answer is reported', () => {
  const bad: Op = { process: 1, f: 'create-seq', key: '/seq', input: { prefix: 'job-' }, invokeMs: 0, completeMs: 1, outcome: 'ok', output: { path: '/elsewhere/job-0000000000' } };
  assert.match(errorsOf(checkSequentialCreates([bad], { '/seq': [] })).join('\n'), /no path under the parent/);
  assert.throws(() => checkSequentialCreates([{ ...bad, input: {} }], {}), /needs input.prefix/);
});

// ---------------------------------------------------------------------------
// Set
// ---------------------------------------------------------------------------

const add = (element: string, outcome: Outcome, t = 0): Op => ({ process: t, f: 'add', input: { element }, invokeMs: t, completeMs: outcome === 'unknown' ? null : t + 1, outcome });
const nodes = (...sets: string[][]) => new Map(sets.map((s, i) => [`zg${i + 1}`, new Set(s)]));

test('set: acknowledged adds everywhere, unknown ones either way, failed ones nowhere passes', () => {
  const h = [add('a', 'ok'), add('b', 'ok'), add('c', 'unknown'), add('d', 'unknown'), add('e', 'fail'), add('b', 'fail', 5), { process: 9, f: 'read', input: null, invokeMs: 0, completeMs: 1, outcome: 'ok' } as Op];
  const r = checkSet(h, nodes(['a', 'b', 'c'], ['a', 'b', 'c'], ['c', 'b', 'a']));
  assert.deepEqual(r, { ok: true, stats: { adds: 6, elements: 5, acknowledged: 2, unknown: 2, failed: 1, unknownPresent: 1, nodes: 3 } });
});

test('set: a lost acknowledged add, a phantom and a failed add that landed are each found', () => {
  const errors = errorsOf(checkSet([add('a', 'ok'), add('b', 'ok'), add('f', 'fail')], nodes(['a', 'b', 'f', 'x'], ['a', 'f', 'x'])));
  const text = errors.join('\n');
  assert.match(text, /acknowledged "b" is missing on zg2/);
  assert.match(text, /"x" is on zg1 but was never added: a phantom/);
  assert.match(text, /"f" is on zg1 though its add failed definitely/);
  assert.match(text, /servers diverge: "b" is on zg1 but not on zg2/);
});

test('set: servers that disagree on an unknown add are found, unless convergence is not required', () => {
  const h = [add('a', 'ok'), add('u', 'unknown')];
  assert.match(errorsOf(checkSet(h, nodes(['a', 'u'], ['a']))).join('\n'), /servers diverge: "u" is on zg1 but not on zg2/);
  assert.equal(checkSet(h, nodes(['a', 'u'], ['a']), { requireConvergence: false }).ok, true);
});

test('set: the error list is bounded', () => {
  const h = Array.from({ length: 200 }, (_, i) => add(`e${i}`, 'ok'));
  const errors = errorsOf(checkSet(h, nodes([])));
  assert.equal(errors.length, 51);
  assert.match(errors[50]!, /and 150 more errors/);
});

// ---------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------

test('lock: disjoint holds in zxid order pass, touching ends included, one unreleased last', () => {
  const holds: LockHold[] = [
    { holder: 'p2', acquiredZxid: 4294967310, releasedZxid: 4294967320 },
    { holder: 'p1', acquiredZxid: 4294967300, releasedZxid: 4294967310 }, // released at the zxid p2 got it: [a, r) touch
    { holder: 'p3', acquiredZxid: 8589934593n, releasedZxid: null }, // a new epoch; bigints are fine
    { holder: 'q1', acquiredZxid: 4294967305, releasedZxid: null, lock: '/other' },
  ];
  assert.deepEqual(checkLock(holds), { ok: true, stats: { holds: 4, locks: 2, unreleased: 2 } });
  assert.equal(checkLock([]).ok, true);
});

test('lock: overlapping holds are found', () => {
  const errors = errorsOf(checkLock([
    { holder: 'p1', acquiredZxid: 100, releasedZxid: 120 },
    { holder: 'p2', acquiredZxid: 110, releasedZxid: 130 },
  ]));
  assert.deepEqual(errors, ['lock: holds overlap: p1 [100, 120) and p2 [110, 130)']);
  // two holds acquired at the same zxid
  assert.equal(checkLock([{ holder: 'a', acquiredZxid: 5, releasedZxid: 6 }, { holder: 'b', acquiredZxid: 5, releasedZxid: 7 }]).ok, false);
  // holds nested inside a long one: each is named
  assert.deepEqual(
    errorsOf(checkLock([{ holder: 'a', acquiredZxid: 1, releasedZxid: 10 }, { holder: 'b', acquiredZxid: 3, releasedZxid: 4 }, { holder: 'c', acquiredZxid: 5, releasedZxid: 6 }])),
    ['lock: holds overlap: a [1, 10) and b [3, 4)', 'lock: holds overlap: a [1, 10) and c [5, 6)'],
  );
});

test('lock: an unreleased hold that is not the last, and a malformed hold, are found', () => {
  assert.match(errorsOf(checkLock([{ holder: 'p1', acquiredZxid: 1, releasedZxid: null }, { holder: 'p2', acquiredZxid: 5, releasedZxid: 9 }])).join('\n'), /p1 \[1, ∞\) is never released, yet p2 \[5, 9\) acquired it later/);
  assert.equal(checkLock([{ holder: 'p1', acquiredZxid: 1, releasedZxid: null }, { holder: 'p2', acquiredZxid: 5, releasedZxid: null }]).ok, false);
  assert.match(errorsOf(checkLock([{ holder: 'p1', acquiredZxid: 7, releasedZxid: 7 }])).join('\n'), /released no later than acquired/);
  // holds of different locks do not conflict
  assert.equal(checkLock([{ holder: 'a', acquiredZxid: 1, releasedZxid: 10, lock: '/l1' }, { holder: 'b', acquiredZxid: 3, releasedZxid: 4, lock: '/l2' }]).ok, true);
});

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

const Z = 4294967296;
function sessionRecords(over: Partial<SessionRecords> = {}): SessionRecords {
  return {
    ephemerals: [
      { session: 's1', path: '/members/a' },
      { session: 's1', path: '/locks/lock-0000000003' },
      { session: 's2', path: '/members/b' },
    ],
    deletions: new Map([
      ['zg1', new Map<string, number | bigint>([['/members/a', Z + 40], ['/locks/lock-0000000003', Z + 40], ['/members/b', Z + 52]])],
      ['zg2', new Map<string, number | bigint>([['/members/a', BigInt(Z + 40)], ['/locks/lock-0000000003', Z + 40], ['/members/b', Z + 52]])],
      ['zg3', new Map<string, number | bigint>([['/members/b', Z + 52]])], // caught up by snapshot: saw only one
    ]),
    finalPaths: new Map([
      ['zg1', new Set(['/members/c'])],
      ['zg2', new Set(['/members/c'])],
      ['zg3', new Set(['/members/c'])],
    ]),
    ...over,
  };
}

test('sessions: ephemerals of expired sessions gone at one zxid everywhere passes', () => {
  assert.deepEqual(checkSessions(sessionRecords()), { ok: true, stats: { sessions: 2, ephemerals: 3, servers: 3, reports: 7, unreported: 2 } });
});

test('sessions: servers reporting different deletion zxids for a node are found', () => {
  const r = sessionRecords();
  (r.deletions.get('zg2') as Map<string, number | bigint>).set('/members/b', Z + 53);
  const errors = errorsOf(checkSessions(r));
  assert.ok(errors.some((e) => /\/members\/b \(session s2\) was deleted at zxid 4294967348 on zg1 but at 4294967349 on zg2/.test(e)), errors.join('\n'));
});

test('sessions: ephemerals of one session going at different zxids are found', () => {
  const r = sessionRecords();
  for (const server of ['zg1', 'zg2']) (r.deletions.get(server) as Map<string, number | bigint>).set('/locks/lock-0000000003', Z + 41);
  assert.match(errorsOf(checkSessions(r)).join('\n'), /session s1's ephemerals went at different zxids: \/members\/a at 4294967336, \/locks\/lock-0000000003 at 4294967337/);
});

test('sessions: an ephemeral of an expired session still present somewhere is found', () => {
  const r = sessionRecords({ finalPaths: new Map([['zg1', new Set(['/members/c'])], ['zg3', new Set(['/members/c', '/members/a'])]]) });
  assert.deepEqual(errorsOf(checkSessions(r)), ['/members/a of expired session s1 is still on zg3 at the end']);
});

test('sessions: with requireReports, a server that never reported a deletion is found', () => {
  const errors = errorsOf(checkSessions(sessionRecords(), { requireReports: true }));
  assert.deepEqual(errors, ['zg3 never reported the deletion of /members/a (session s1)', 'zg3 never reported the deletion of /locks/lock-0000000003 (session s1)']);
});
