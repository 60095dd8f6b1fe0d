/**
 * Barrier and DoubleBarrier against a real 3-process ensemble: waiters held
 * until the barrier is removed; members that enter only once all have
 * entered and leave only once all have left, across nodes; a member that dies
 * counts as having left; and the barrier's nodes gone afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Barrier, DoubleBarrier } from '../../client/recipes/barrier.ts';
import { EventCounter, RecipeCluster, waitFor } from './coordination-support.ts';

describe('barriers against a 3-process ensemble', { timeout: 90_000 }, () => {
  let rc: RecipeCluster;
  before(async () => {
    rc = await RecipeCluster.start();
  });
  after(async () => {
    await rc?.destroy();
  });

  test('Barrier: 6 waiters on 3 nodes go on only once the barrier is removed', async () => {
    const [setter, ...waiters] = await rc.spread(7);
    const rest = rc.rest();
    const barrier = new Barrier(setter!, '/b1/deploy');
    assert.equal(await barrier.waitOnBarrier({ timeoutMs: 0 }), true, 'no barrier: nothing to wait for');
    await barrier.setBarrier();
    await barrier.setBarrier(); // already up: fine
    assert.equal(await new Barrier(waiters[0]!, '/b1/deploy').waitOnBarrier({ timeoutMs: 100 }), false, 'up: the wait times out');

    const through: number[] = [];
    const waits = waiters.map((s) => new Barrier(s, '/b1/deploy').waitOnBarrier({ timeoutMs: 15_000 }).then((ok) => {
      through.push(performance.now());
      return ok;
    }));
    const watching = () => waiters.every((s) => s.heldWatches().some((w) => w.path === '/b1/deploy'));
    await waitFor('every waiter to watch the barrier', watching);
    // a change that is not a removal wakes them, and they wait again
    const counter = new EventCounter(waiters);
    await rest.set('/b1/deploy', 'still up');
    await waitFor('every waiter to hear the change and watch again', () => counter.snapshot().every((n) => n === 1) && watching());
    assert.equal(through.length, 0);
    const removedAt = performance.now();
    await barrier.removeBarrier();
    assert.deepEqual(await Promise.all(waits), waiters.map(() => true));
    assert.ok(through.every((t) => t >= removedAt));
    await barrier.removeBarrier(); // already down: fine
    await waitFor('/b1 (a container) to go', async () => (await rest.exists('/b1')) === null);
    for (const s of [setter!, ...waiters]) await s.close();
  });

  test('DoubleBarrier: 5 members on 3 nodes enter only once all have entered and leave only once all have left', async () => {
    const sessions = await rc.spread(5);
    const rest = rc.rest();
    const members = sessions.map((s, i) => new DoubleBarrier(s, '/b2/round', 5, { id: `m${i}` }));
    const calls = { enter: [] as number[], entered: [] as number[], leave: [] as number[], left: [] as number[] };
    const stamp = (list: number[]) => list.push(performance.now());

    // they arrive one by one; nobody gets through before the fifth
    const entering: Array<Promise<boolean>> = [];
    for (const [i, m] of members.entries()) {
      stamp(calls.enter);
      entering.push(m.enter({ timeoutMs: 15_000 }).then((ok) => (stamp(calls.entered), ok)));
      await waitFor(`member ${i} to be in`, async () => (await m.members()).length === i + 1);
      if (i < 4) assert.equal(calls.entered.length, 0, `nobody entered with ${i + 1} of 5 in`);
    }
    assert.deepEqual(await Promise.all(entering), [true, true, true, true, true]);
    assert.ok(Math.min(...calls.entered) >= Math.max(...calls.enter), 'every enter returned after the last one began');
    await rest.sync('/');
    assert.ok(await rest.exists('/b2/round/ready'));

    // they leave one by one, in a shuffled order; nobody is out before the last has begun to leave
    const leaving: Array<Promise<boolean>> = [];
    for (const i of [3, 0, 4, 1, 2]) {
      stamp(calls.leave);
      leaving.push(members[i]!.leave({ timeoutMs: 15_000 }).then((ok) => (stamp(calls.left), ok)));
      // m0 (the lowest) waits for the highest and goes last; the others delete their node and wait for m0
      if (i === 0) await waitFor('m0 to wait for the highest', () => sessions[0]!.heldWatches().some((w) => w.path.startsWith('/b2/round/m')));
      else await waitFor(`m${i} to be out of the list`, async () => !(await members[i]!.members()).includes(`m${i}`));
      if (i !== 2) assert.equal(calls.left.length, 0, 'nobody left while one is still in');
    }
    assert.deepEqual(await Promise.all(leaving), [true, true, true, true, true]);
    assert.ok(Math.min(...calls.left) >= Math.max(...calls.leave), 'every leave returned after the last one began');
    await waitFor('/b2 to go: members, ready and the container', async () => (await rest.exists('/b2')) === null);
    for (const s of sessions) await s.close();
  });

  test('DoubleBarrier: a member whose session expires counts as having left; one that times out entering withdraws', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const rest = rc.rest();
    const { session: doomed, proxy } = await rc.frozenLater(follower, 600);
    const live = await rc.spread(2);
    const members = [doomed, ...live].map((s, i) => new DoubleBarrier(s, '/b3/round', 3, { id: `m${i}` }));
    assert.deepEqual(await Promise.all(members.map((m) => m.enter({ timeoutMs: 10_000 }))), [true, true, true]);

    // the two live ones leave; m0 (the lowest: the others wait for it) is frozen and never does
    const leaving = members.slice(1).map((m) => m.leave({ timeoutMs: 15_000 }));
    await waitFor('both to have deleted their nodes', async () => (await members[1]!.members()).join() === 'm0');
    const frozenAt = performance.now();
    proxy.freeze();
    assert.deepEqual(await Promise.all(leaving), [true, true]);
    assert.ok(performance.now() - frozenAt >= 350, 'not before the dead member\'s session could expire');
    await waitFor('/b3 to go', async () => (await rest.exists('/b3')) === null);

    // too few ever arrive: enter times out and takes its node back
    const lonely = new DoubleBarrier(live[0]!, '/b4/round', 2, { id: 'alone' });
    assert.equal(await lonely.enter({ timeoutMs: 300 }), false);
    await live[0]!.sync('/');
    assert.deepEqual(await lonely.members(), []);
    for (const s of live) await s.close();
  });
});
