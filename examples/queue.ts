/**
 * DistributedQueue (ZooKeeper's queue recipe): a producer puts 12 jobs;
 * one consumer takes the first three (in FIFO order), then three consumers
 * on three servers drain the rest concurrently. Each job is taken exactly
 * once (a take is a multi: delete the item + create a receipt).
 *
 *   node --import tsx examples/queue.ts [--server URL,...]
 */
import { DistributedQueue } from '../client/recipes/index.ts';
import { check, connect, main, say } from './support.ts';

const JOBS = 12;

main('queue', async (base) => {
  const path = `${base}/jobs`;
  const sessions = await Promise.all([0, 1, 2].map((i) => connect(i)));
  const producer = new DistributedQueue(sessions[0]!, path);
  for (let i = 0; i < JOBS; i++) await producer.put(`job ${i}`);
  say(`put ${JOBS} jobs; ${await producer.size()} in the queue, head: ${(await producer.peek())?.text}`);

  const first = new DistributedQueue(sessions[1]!, path);
  const firstThree: string[] = [];
  for (let i = 0; i < 3; i++) firstThree.push((await first.take({ timeoutMs: 5000 }))!.text);
  say(`one consumer took ${firstThree.join(', ')}`);
  check(firstThree.join() === 'job 0,job 1,job 2', 'first in, first out');

  const taken: string[] = [...firstThree];
  await Promise.all(sessions.map(async (s, c) => {
    const q = new DistributedQueue(s, path);
    for (;;) {
      const item = await q.poll(); // null once empty
      if (item === null) return;
      taken.push(item.text);
      say(`consumer ${c} (server ${s.serverId}) took ${item.text}`);
    }
  }));
  // a consumer waiting on an empty queue wakes when an item arrives
  const waiting = first.take({ timeoutMs: 10_000 });
  await producer.put('late job');
  const late = await waiting;
  say(`a waiting consumer got "${late?.text}" as soon as it was put`);
  check(late?.text === 'late job', 'the waiting consumer got the late job');
  check(taken.length === JOBS && new Set(taken).size === JOBS, `each of ${JOBS} jobs taken exactly once (${taken.length} takes)`);
  say(`OK DistributedQueue: ${JOBS} jobs put, each taken exactly once, FIFO order`);
});
