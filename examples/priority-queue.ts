/**
 * PriorityQueue: the lowest priority number is taken first, FIFO among
 * equals. Items are put from two servers in a mixed order and taken by a
 * consumer on the third.
 *
 *   node --import tsx examples/priority-queue.ts [--server URL,...]
 */
import { PriorityQueue } from '../client/recipes/index.ts';
import { check, connect, main, say } from './support.ts';

main('priority-queue', async (base) => {
  const path = `${base}/alerts`;
  const [a, b, c] = await Promise.all([0, 1, 2].map((i) => connect(i)));
  const qa = new PriorityQueue(a!, path);
  const qb = new PriorityQueue(b!, path);
  const puts: Array<[PriorityQueue, string, number]> = [
    [qa, 'disk 80% full', 5], [qb, 'backup finished', 9], [qa, 'primary down', 0],
    [qb, 'disk 90% full', 5], [qa, 'certificate expires in 7 days', 7], [qb, 'replica lagging', 1],
  ];
  for (const [q, text, priority] of puts) {
    await q.put(text, priority);
    say(`put "${text}" with priority ${priority}`);
  }
  const consumer = new PriorityQueue(c!, path);
  const order: string[] = [];
  for (let item = await consumer.poll(); item !== null; item = await consumer.poll()) {
    order.push(item.text);
    say(`took priority ${item.priority}: ${item.text}`);
  }
  const expected = ['primary down', 'replica lagging', 'disk 80% full', 'disk 90% full', 'certificate expires in 7 days', 'backup finished'];
  check(order.join('|') === expected.join('|'), `by priority, FIFO among equals: ${order.join(', ')}`);
  say('OK PriorityQueue: 6 items taken lowest priority first, FIFO among equal priorities');
});
