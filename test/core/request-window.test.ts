// The leader's duplicate-request filter (core/zab/request-window.ts): a forwarded request is taken
// once per (server, incarnation, id), within a window of the last WINDOW ids of each run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestWindows, WINDOW } from '../../core/zab/request-window.ts';

test('a copy is refused; other servers and runs, and ids delivered out of order, are not', () => {
  const w = new RequestWindows();
  assert.equal(w.seenBefore(1, 77, 5), false, 'first copy taken');
  assert.equal(w.seenBefore(1, 77, 5), true, 'second copy refused');
  assert.equal(w.seenBefore(2, 77, 5), false, 'same id from another server');
  assert.equal(w.seenBefore(1, 78, 5), false, 'same id from another run of the server');
  assert.equal(w.seenBefore(1, 77, 9), false);
  assert.equal(w.seenBefore(1, 77, 7), false, 'an id below the highest, first seen now (reordered), is taken');
  assert.equal(w.seenBefore(1, 77, 7), true);
  assert.equal(w.seenBefore(1, 78, 5), true, 'the other run kept its own record');
});

test('against an unbounded set: the same answers for ids within the window, across many slides', () => {
  // A follower's ids climb with gaps (its tokens also number reads and syncs); copies come up
  // to a few hundred ids late, first copies may be reordered as well. Seeded, so a failure replays.
  let seed = 12345;
  const rnd = (n: number) => { // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const w = new RequestWindows();
  const model = new Set<number>();
  const sent: number[] = [];
  let next = 1;
  let checked = 0;
  let copies = 0;
  for (let i = 0; i < 400_000; i++) {
    let id: number;
    if (sent.length > 0 && rnd(4) === 0) {
      id = sent[sent.length - 1 - rnd(Math.min(sent.length, 300))]!; // a copy
    } else {
      next += 1 + rnd(rnd(50) === 0 ? 3 * WINDOW : 5); // now and then a jump past the whole window
      id = next - rnd(3); // may reorder with the last two
      sent.push(id);
      if (sent.length > 1000) sent.splice(0, 500);
    }
    const expected = model.has(id);
    model.add(id);
    if (expected) copies++;
    assert.equal(w.seenBefore(3, 1, id), expected, `id ${id} at step ${i}`);
    checked++;
  }
  assert.ok(copies > 50_000 && checked - copies > 200_000, `both kinds exercised (${copies} copies of ${checked})`);
});

test('ids older than the window count as seen; a third run of a server forgets the first', () => {
  const w = new RequestWindows();
  assert.equal(w.seenBefore(1, 10, 1), false);
  assert.equal(w.seenBefore(1, 10, 1 + 2 * WINDOW), false);
  assert.equal(w.seenBefore(1, 10, 2), true, 'fell out of the window: a late copy is dropped, not run twice');
  assert.equal(w.seenBefore(1, 10, 1 + WINDOW + 5), false, 'inside the window, never seen');
  // runs 10, 11, then 12: run 10 is forgotten, so its ids are taken again (its process is gone;
  // its requests can only be stragglers)
  assert.equal(w.seenBefore(1, 11, 4), false);
  assert.equal(w.seenBefore(1, 12, 4), false);
  assert.equal(w.seenBefore(1, 11, 4), true, 'the previous run is still remembered');
  assert.equal(w.seenBefore(1, 10, 1 + 2 * WINDOW), false, 'the oldest run was forgotten');
});
