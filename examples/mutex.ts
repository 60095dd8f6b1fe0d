/**
 * Mutex (Curator's InterProcessMutex): a fair, herd-free lock. Five
 * contenders queue (an ephemeral_sequential node each); each waits only for
 * the node just ahead of it, so they get the lock in the order they queued,
 * and every holder's fencing token (its node's czxid) is larger than the
 * last one's. A holder that times out or is aborted leaves the queue.
 *
 *   node --import tsx examples/mutex.ts [--server URL,...]
 */
import { Mutex } from '../client/recipes/index.ts';
import { check, connect, main, say, sleep } from './support.ts';

main('mutex', async (base) => {
  const path = `${base}/orders`;
  const sessions = await Promise.all([0, 1, 2, 3, 4].map((i) => connect(i)));
  const locks = sessions.map((s) => new Mutex(s, path, { data: `pid ${process.pid}` }));

  // worker 0 holds the lock; the others queue behind it one after another
  check(await locks[0]!.acquire(), 'the first acquire');
  say(`worker 0 holds ${path} (node ${locks[0]!.node}, fencing token ${locks[0]!.fencingToken})`);
  const order: number[] = [0];
  const tokens: number[] = [locks[0]!.fencingToken!];
  let inside = 1;
  let most = 1;
  const done: Array<Promise<void>> = [];
  for (let w = 1; w < locks.length; w++) {
    const lock = locks[w]!;
    done.push((async () => {
      check(await lock.acquire({ timeoutMs: 15_000 }), `worker ${w} got the lock`);
      most = Math.max(most, ++inside);
      order.push(w);
      tokens.push(lock.fencingToken!);
      say(`worker ${w} holds it (fencing token ${lock.fencingToken})`);
      await sleep(30);
      inside--;
      await lock.release();
    })());
    // wait until this contender is queued before the next one comes
    for (;;) {
      if ((await locks[0]!.participantNodes()).length === w + 1) break;
      await sleep(10);
    }
  }
  say(`queue: ${(await locks[0]!.participantNodes()).map((n) => n.slice(n.lastIndexOf('-') + 1)).join(' < ')} (each waits for the one before it)`);

  // someone who will not wait: timeoutMs 0 tries once and leaves no node behind
  const impatient = new Mutex(sessions[0]!, path);
  check((await impatient.acquire({ timeoutMs: 0 })) === false, 'a busy lock is not acquired with timeoutMs 0');
  say('an impatient contender (timeoutMs: 0) gave up at once and left the queue');

  inside--;
  await locks[0]!.release();
  await Promise.all(done);
  check(most === 1, `one holder at a time (saw ${most})`);
  check(order.join() === '0,1,2,3,4', `first come, first served (order ${order.join()})`);
  check(tokens.every((t, i) => i === 0 || t > tokens[i - 1]!), 'fencing tokens grow');
  say(`OK Mutex: 5 holders in queue order ${order.join(',')}, never overlapping, fencing tokens increasing`);
});
