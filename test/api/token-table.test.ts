// The table of in-flight request callbacks (api/token-table.ts): tokens come in increasing
// order and complete in any order; the array behind it is trimmed from the front.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenTable } from '../../api/token-table.ts';

test('values come back by token, once, in any completion order', () => {
  const t = new TokenTable<string>();
  for (let k = 10; k < 20; k++) t.add(k, `v${k}`);
  assert.equal(t.size, 10);
  assert.equal(t.take(15), 'v15');
  assert.equal(t.take(15), undefined, 'taken once');
  assert.equal(t.take(9), undefined, 'below the first token');
  assert.equal(t.take(20), undefined, 'above the last token');
  assert.equal(t.take(10), 'v10');
  assert.deepEqual(t.values(), ['v11', 'v12', 'v13', 'v14', 'v16', 'v17', 'v18', 'v19']);
  assert.equal(t.size, 8);
  for (const k of [19, 11, 18, 12, 17, 13, 16, 14]) assert.equal(t.take(k), `v${k}`);
  assert.equal(t.size, 0);
  assert.deepEqual(t.values(), []);
});

test('tokens may skip numbers, and a token must be above the last one added', () => {
  const t = new TokenTable<number>();
  t.add(1, 1);
  t.add(5, 5);
  assert.equal(t.take(3), undefined);
  assert.throws(() => t.add(5, 0), /not above/);
  assert.throws(() => t.add(2, 0), /not above/);
  assert.equal(t.take(5), 5);
  assert.equal(t.take(1), 1);
  t.add(2, 2); // empty again: any token starts it over
  assert.equal(t.take(2), 2);
});

test('a long run with a window of requests in flight keeps every value and stays small', () => {
  const t = new TokenTable<number>();
  const inFlight: number[] = [];
  let next = 1;
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let step = 0; step < 200_000; step++) {
    if (inFlight.length < 64 && rnd(2) === 0) {
      t.add(next, next * 3);
      inFlight.push(next++);
    } else if (inFlight.length > 0) {
      // complete one, mostly the oldest, sometimes any
      const i = rnd(4) === 0 ? rnd(inFlight.length) : 0;
      const [k] = inFlight.splice(i, 1);
      assert.equal(t.take(k!), k! * 3);
    }
    assert.equal(t.size, inFlight.length);
  }
  assert.deepEqual(t.values(), inFlight.map((k) => k * 3));
  // the backing array spans from the oldest in flight to the newest, plus an untrimmed front of under 64
  const span = (t as unknown as { slots: unknown[] }).slots.length;
  assert.ok(span <= 1024 + 64, `backing array of ${span} slots for ${inFlight.length} in flight`);
});

test('one token waiting while 200,000 later ones complete: found, and the array stays bounded', () => {
  const t = new TokenTable<string>();
  t.add(1, 'stuck');
  t.add(2, 'also stuck');
  for (let k = 3; k < 200_003; k++) {
    t.add(k, `v${k}`);
    if (k % 7 !== 0) assert.equal(t.take(k), `v${k}`);
  }
  const span = (t as unknown as { slots: unknown[] }).slots.length;
  assert.ok(span <= 65_537, `backing array of ${span} slots`);
  assert.equal(t.size, 2 + Math.floor(200_002 / 7));
  assert.deepEqual(t.values().slice(0, 3), ['stuck', 'also stuck', 'v7'], 'oldest first');
  assert.equal(t.take(2), 'also stuck');
  assert.equal(t.take(2), undefined);
  assert.equal(t.take(1), 'stuck');
  for (let k = 7; k < 200_003; k += 7) assert.equal(t.take(k), `v${k}`);
  assert.equal(t.size, 0);
  assert.deepEqual(t.values(), []);
});
