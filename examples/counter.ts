/**
 * Atomic values by optimistic concurrency (a version compare-and-set,
 * retried): a DistributedCounter incremented 100 times from four sessions on
 * three servers ends at exactly 100; and `atomicUpdate` moves money between
 * accounts (several keys in one multi), 20 transfers at once, without the
 * total ever changing.
 *
 *   node --import tsx examples/counter.ts [--server URL,...]
 */
import { atomicUpdate, DistributedCounter } from '../client/recipes/index.ts';
import { check, connect, main, say } from './support.ts';

main('counter', async (base) => {
  const path = `${base}/page-views`;
  const sessions = await Promise.all([0, 1, 2, 3].map((i) => connect(i)));
  let retries = 0;
  await Promise.all(sessions.map(async (s) => {
    const views = new DistributedCounter(s, path);
    for (let i = 0; i < 25; i++) retries += (await views.increment()).attempts - 1;
    await views.close();
  }));
  const total = await new DistributedCounter(sessions[0]!, path).get();
  say(`4 sessions x 25 increments: the counter is ${total} (${retries} lost races retried)`);
  check(total === 100, 'no increment lost or counted twice');
  const cas = await new DistributedCounter(sessions[1]!, path).compareAndSet(99, 0);
  say(`compareAndSet(99, 0): ${cas.succeeded ? 'set' : `refused (the value is ${cas.preValue})`}`);
  check(!cas.succeeded && cas.preValue === 100, 'compare-and-set refuses a stale expectation');

  // several keys at once: transfers between three accounts
  const accounts = ['alice', 'bob', 'carol'].map((n) => `${base}/accounts/${n}`);
  for (const a of accounts) await sessions[0]!.create(a, '1000', { parents: true });
  await Promise.all(Array.from({ length: 20 }, (_, i) => {
    const from = accounts[i % 3]!;
    const to = accounts[(i + 1) % 3]!;
    return atomicUpdate(sessions[i % 4]!, [
      { path: from, update: (v) => String(Number(v) - 10 - i) },
      { path: to, update: (v) => String(Number(v) + 10 + i) },
    ]);
  }));
  const balances = await Promise.all(accounts.map(async (a) => Number((await sessions[2]!.get(a, { as: 'utf8' })).data)));
  const sum = balances.reduce((x, y) => x + y, 0);
  say(`after 20 concurrent transfers: ${accounts.map((a, i) => `${a.slice(a.lastIndexOf('/') + 1)} ${balances[i]}`).join(', ')} (total ${sum})`);
  check(sum === 3000, 'the total is unchanged');
  check(balances.join() !== '1000,1000,1000', 'money moved');
  say('OK counter: 100 concurrent increments counted exactly; 20 concurrent multi-key transfers kept the total at 3000');
});
