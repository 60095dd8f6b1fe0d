/**
 * DoubleBarrier (ZooKeeper's double barrier, Curator's
 * DistributedDoubleBarrier): four members arrive at different times; none
 * starts before all have entered, none finishes before all have left.
 *
 *   node --import tsx examples/double-barrier.ts [--server URL,...]
 */
import { DoubleBarrier } from '../client/recipes/index.ts';
import { check, connect, main, say, sleep } from './support.ts';

const MEMBERS = 4;

main('double-barrier', async (base) => {
  const path = `${base}/round-1`;
  const sessions = await Promise.all(Array.from({ length: MEMBERS }, (_, i) => connect(i)));
  const t = { enter: [] as number[], entered: [] as number[], leave: [] as number[], left: [] as number[] };
  await Promise.all(sessions.map(async (s, i) => {
    const member = new DoubleBarrier(s, path, MEMBERS, { id: `member-${i}` });
    await sleep(i * 150); // they arrive one by one
    say(`member-${i} arrives`);
    t.enter.push(performance.now());
    check(await member.enter({ timeoutMs: 15_000 }), `member-${i} entered`);
    t.entered.push(performance.now());
    say(`member-${i} is in: all ${MEMBERS} are here, computing`);
    await sleep(50 + i * 100); // they finish at different times
    say(`member-${i} is done, leaving`);
    t.leave.push(performance.now());
    check(await member.leave({ timeoutMs: 15_000 }), `member-${i} left`);
    t.left.push(performance.now());
    say(`member-${i} is out: all have left`);
  }));
  check(Math.min(...t.entered) >= Math.max(...t.enter), 'nobody entered before the last arrived');
  check(Math.min(...t.left) >= Math.max(...t.leave), 'nobody was out before the last began to leave');
  say(`OK DoubleBarrier: ${MEMBERS} members entered together and left together`);
});
