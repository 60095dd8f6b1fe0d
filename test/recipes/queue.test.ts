/**
 * The queue recipes against a real 3-process ensemble: FIFO and priority
 * order; a blocking take woken by a put made on another node; each item taken
 * exactly once by consumers spread over the nodes; no herd (one put wakes one
 * waiting consumer); claims and puts whose answers were lost resolved
 * exactly; and the queue's nodes gone once it is empty.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateSession } from '../../client/index.ts';
import { DistributedQueue, PriorityQueue, type QueueItem } from '../../client/recipes/queue.ts';
import { AnswerLosingProxy, EventCounter, RecipeCluster, waitFor } from './coordination-support.ts';

describe('queues against a 3-process ensemble', { timeout: 90_000 }, () => {
  let rc: RecipeCluster;
  before(async () => {
    rc = await RecipeCluster.start();
  });
  after(async () => {
    await rc?.destroy();
  });

  test('FIFO: taken in the order put; peek, size, poll; a take waits for a put made on another node; timeout and abort; the queue removes itself once empty', async () => {
    const [a, b] = await rc.spread(2);
    const qa = new DistributedQueue(a!, '/q1/fifo');
    const qb = new DistributedQueue(b!, '/q1/fifo');
    const rest = rc.rest();

    assert.equal(await qa.poll(), null);
    assert.equal(await qa.peek(), null);
    const t0 = Date.now();
    assert.equal(await qa.take({ timeoutMs: 300 }), null, 'an empty queue times out');
    assert.ok(Date.now() - t0 >= 290);

    const put = ['one', 'two', 'three', 'four'];
    for (const x of put) await qb.put(x);
    await a!.sync('/q1/fifo'); // another client, another node: sync, then read (ZooKeeper's cross-client rule)
    assert.equal(await qa.size(), 4);
    assert.equal((await qa.peek())?.text, 'one');
    assert.equal(await qa.size(), 4, 'peek takes nothing');
    const taken = [await qa.take(), await qa.poll(), await qb.take(), await qa.take({ timeoutMs: 1000 })];
    assert.deepEqual(taken.map((i) => i?.text), put);
    assert.ok(taken.every((i) => /^qn-\d{10}$/.test(i!.name)), taken.map((i) => i?.name).join());
    assert.equal(await qa.size(), 0);

    // a waiting take is woken by a put from another session on another node
    const waiting = qa.take({ timeoutMs: 10_000 });
    await waitFor('the consumer to wait in line', async () => (await rest.children('/q1/fifo/.waiters').catch(() => ({ children: [] }))).children.length === 1);
    await qb.put(new Uint8Array([0, 1, 2, 255]));
    const got = await waiting;
    assert.deepEqual([...got!.data], [0, 1, 2, 255]);

    const ac = new AbortController();
    const aborted = qa.take({ signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop waiting')), 100);
    await assert.rejects(aborted, /stop waiting/);

    // nothing left behind: the queue, its line and its receipts are containers, removed once empty
    await waitFor('the queue to be removed', async () => (await rest.exists('/q1/fifo')) === null, 5000);
  });

  test('priority queue: lowest priority first, FIFO within a priority, negative priorities too', async () => {
    const [a, b] = await rc.spread(2);
    const qa = new PriorityQueue(a!, '/q2/prio');
    const qb = new PriorityQueue(b!, '/q2/prio');
    const puts: Array<[string, number]> = [['low-1', 5], ['high-1', 1], ['low-2', 5], ['urgent', -3], ['high-2', 1], ['mid', 3], ['high-3', 1]];
    for (const [d, p] of puts) await qa.put(d, p);
    await assert.rejects(qa.put('x', 1.5), /32-bit integer/);
    // the order expected: by priority, then in the order put (a stable sort of what was put)
    const expected = puts.map(([d, p], i) => ({ d, p, i })).sort((x, y) => x.p - y.p || x.i - y.i).map((x) => `${x.d}@${x.p}`);
    const order: string[] = [];
    await b!.sync('/q2/prio'); // put through a on another node
    for (let it = await qb.poll(); it !== null; it = await qb.poll()) order.push(`${it.text}@${it.priority}`);
    assert.deepEqual(order, expected);

    // three consumers at once on 60 items of 4 priorities: each item once, and each consumer in priority order
    const items = Array.from({ length: 60 }, (_, i) => ({ d: `item-${i}`, p: (i * 7) % 4 }));
    for (const { d, p } of items) await qa.put(d, p);
    const consumers = await rc.spread(3);
    const taken = await Promise.all(consumers.map(async (s) => {
      const q = new PriorityQueue(s, '/q2/prio');
      const mine: Array<{ d: string; p: number }> = [];
      for (let it = await q.poll(); it !== null; it = await q.poll()) mine.push({ d: it.text, p: it.priority! });
      return mine;
    }));
    const all = taken.flat().map((x) => x.d);
    assert.equal(all.length, items.length, 'nothing taken twice');
    assert.deepEqual([...all].sort(), items.map((x) => x.d).sort(), 'nothing lost');
    for (const mine of taken) {
      const ps = mine.map((x) => x.p);
      assert.deepEqual(ps, [...ps].sort((x, y) => x - y), `a consumer takes by priority: ${ps.join('')}`);
    }
  });

  test('no herd: with five consumers waiting, one put wakes one of them, and the others stay asleep', async () => {
    const sessions = await rc.spread(6);
    const producer = new DistributedQueue(sessions[0]!, '/q3/herd');
    const waiters = sessions.slice(1);
    const rest = rc.rest();
    const takes: Array<Promise<QueueItem | null>> = [];
    for (const s of waiters) {
      takes.push(new DistributedQueue(s, '/q3/herd').take({ timeoutMs: 20_000 }));
      const n = takes.length;
      await waitFor(`consumer ${n} in line`, async () => (await rest.children('/q3/herd/.waiters').catch(() => ({ children: [] }))).children.length === n);
    }
    // only the first in line watches the queue
    const watchingQueue = () => waiters.filter((s) => s.heldWatches().some((w) => w.path === '/q3/herd' && w.kind === 'children'));
    await waitFor('the first in line to watch the queue', () => watchingQueue().length === 1);
    assert.equal(watchingQueue()[0], waiters[0]);
    const events = new EventCounter(waiters);
    const before = events.snapshot();

    await producer.put('one');
    const first = await Promise.race(takes.map((t, i) => t.then((item) => ({ i, item }))));
    assert.equal(first.item?.text, 'one');
    assert.equal(first.i, 0, 'the first in line took it');
    // the next in line now watches the queue; nobody else heard anything
    await waitFor('the next in line to watch the queue', () => watchingQueue().length === 1 && watchingQueue()[0] === waiters[1]);
    const woken = events.since(before);
    assert.ok(woken.filter((n) => n > 0).length <= 2, `events went to ${woken.join(',')} (a herd would wake all five)`);
    assert.ok(woken.slice(2).every((n) => n === 0), `consumers further back heard nothing: ${woken.join(',')}`);

    // the four others each get one of four more items
    for (const x of ['two', 'three', 'four', 'five']) await producer.put(x);
    const rest4 = (await Promise.all(takes.slice(1))).map((i) => i?.text);
    assert.deepEqual([...rest4].sort(), ['five', 'four', 'three', 'two']);
    assert.deepEqual(rest4, ['two', 'three', 'four', 'five'], 'in the order they queued');
  });

  test('six consumers on three nodes take each item exactly once while two producers put', async () => {
    const N = 150;
    const producers = await rc.spread(2);
    const consumers = await rc.spread(6);
    const put: string[] = [];
    const taken: QueueItem[][] = consumers.map(() => []);
    let producing = true;
    const total = () => taken.reduce((n, t) => n + t.length, 0);
    const produce = Promise.all(producers.map(async (s, k) => {
      const q = new DistributedQueue(s, '/q4/many');
      const mine = Array.from({ length: N / producers.length }, (_, i) => `p${k}-${i}`);
      // four puts in flight per producer
      await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
        for (let i = lane; i < mine.length; i += 4) {
          await q.put(mine[i]!);
          put.push(mine[i]!);
        }
      }));
    })).finally(() => (producing = false));
    const consume = Promise.all(consumers.map(async (s, k) => {
      const q = new DistributedQueue(s, '/q4/many');
      for (;;) {
        const it = await q.take({ timeoutMs: 500 });
        if (it !== null) taken[k]!.push(it);
        else if (!producing && total() >= put.length) return;
      }
    }));
    await Promise.all([produce, consume]);

    assert.equal(put.length, N, 'every put succeeded');
    const all = taken.flat().map((i) => i.text);
    const counts = new Map<string, number>();
    for (const x of all) counts.set(x, (counts.get(x) ?? 0) + 1);
    assert.deepEqual([...counts].filter(([, k]) => k > 1).map(([x]) => x), [], 'no item taken twice');
    assert.deepEqual(put.filter((x) => !counts.has(x)), [], 'no item lost');
    assert.equal(all.length, N, 'nothing taken that was not put');
    assert.ok(taken.filter((t) => t.length > 0).length >= 3, `the work was shared: ${taken.map((t) => t.length)}`);
    // each consumer took its items in queue order
    for (const t of taken) {
      const seqs = t.map((i) => Number(i.name.slice(3)));
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    }
    await producers[0]!.sync('/q4/many'); // the last takes may have been answered on other nodes
    assert.equal(await new DistributedQueue(producers[0]!, '/q4/many').size(), 0);
  });

  test('answers lost after the write was applied: a claim and a put resolved exactly (nothing lost, taken twice or put twice)', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const proxy = new AnswerLosingProxy(rc.url(follower));
    rc.proxies.push(proxy);
    await proxy.ready;
    // the proxy is the session's only way in: after each lost answer it resumes through the proxy again
    const s = await ZooGateSession.connect([proxy.url], { timeoutMs: 2000, reconnectDelayMs: 0 });
    rc.sessions.push(s);
    const moves: string[] = [];
    s.onState((c) => moves.push(c.state));
    const [other] = await rc.spread(1);
    const q = new DistributedQueue(s, '/q5/lossy');
    const theirs = new DistributedQueue(other!, '/q5/lossy');

    // a put: the create is applied, its answer lost; found again by its GUID, not put twice
    proxy.loseAnswerTo((r) => r.op === 'create' && String(r.path).includes('qn-'));
    const path = await q.put('only once');
    assert.equal(proxy.lost.length, 1, 'the answer to the put was lost');
    assert.equal(path, (proxy.lost[0]!.response as { result: { path: string } }).result.path, 'the put found the node its lost create made');
    await other!.sync('/q5/lossy'); // the put was answered on the follower
    assert.equal(await theirs.size(), 1, 'one item, not two');

    // a claim: the multi is applied (the item deleted, our receipt created), its answer lost; the receipt says it is ours
    await theirs.put('second');
    proxy.loseAnswerTo((r) => r.op === 'multi');
    const item = await q.take({ timeoutMs: 5000 });
    assert.equal(proxy.lost.length, 2, 'the answer to the claim was lost');
    assert.equal(item?.text, 'only once');
    assert.equal(q.resolved, 1, 'the claim was resolved by its receipt');
    assert.ok(moves.filter((m) => m === 'Reconnected').length >= 2, `the session moved twice: ${moves.join(',')}`);
    // the other item is still there, and only that one: the lost claim took exactly one
    assert.equal((await theirs.take({ timeoutMs: 0 }))?.text, 'second');
    assert.equal(await theirs.poll(), null);
  });
});
