/**
 * DistributedCounter and atomicUpdate against a real 3-process ensemble:
 * concurrent increments from sessions on every node each see a value of
 * their own and add up exactly; compare-and-set, set and initialize do what
 * they say; a write whose answer was lost is resolved by its receipt (counted
 * once, not twice or never); several keys change all together or not at all,
 * also under concurrent transfers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateSession } from '../../client/index.ts';
import { atomicUpdate, DistributedCounter, type AtomicResult } from '../../client/recipes/counter.ts';
import { AnswerLosingProxy, RecipeCluster } from './coordination-support.ts';

describe('counters and multi-key updates against a 3-process ensemble', { timeout: 90_000 }, () => {
  let rc: RecipeCluster;
  before(async () => {
    rc = await RecipeCluster.start();
  });
  after(async () => {
    await rc?.destroy();
  });

  test('six sessions on three nodes increment one counter concurrently: every increment counted once, each seeing its own value', async () => {
    const sessions = await rc.spread(6);
    const PER = 15;
    const results: AtomicResult[] = [];
    await Promise.all(sessions.map(async (s) => {
      const c = new DistributedCounter(s, '/k1/counters/hits');
      for (let i = 0; i < PER; i++) results.push(await c.increment());
      await c.close();
    }));
    const n = sessions.length * PER;
    assert.ok(results.every((r) => r.succeeded && r.postValue === r.preValue + 1));
    // the values the increments produced are exactly 1..n: none lost, none counted twice
    assert.deepEqual(results.map((r) => r.postValue).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1));
    const reader = new DistributedCounter(sessions[0]!, '/k1/counters/hits');
    await sessions[0]!.sync('/k1');
    assert.equal(await reader.get(), n);
    const rest = rc.rest();
    await rest.sync('/');
    assert.equal((await rest.get('/k1/counters/hits', { as: 'utf8' })).data, String(n), 'decimal text, readable by anyone');
    assert.deepEqual((await rest.children('/k1/counters/hits')).children, [], 'closed counters leave no receipt');
    assert.ok(results.some((r) => r.attempts > 1), 'there was contention (lost races were retried)');

    // the other operations
    await sessions[1]!.sync('/k1'); // the last increments may have been answered on other nodes
    const c = new DistributedCounter(sessions[1]!, '/k1/counters/hits');
    assert.deepEqual(await c.compareAndSet(n - 1, 0), { succeeded: false, preValue: n, postValue: n, attempts: 0 }, 'a stale expectation is refused');
    assert.deepEqual(await c.compareAndSet(n, 1000), { succeeded: true, preValue: n, postValue: 1000, attempts: 1 });
    assert.equal((await c.add(-250)).postValue, 750);
    assert.equal((await c.subtract(50)).postValue, 700);
    assert.equal((await c.decrement()).postValue, 699);
    assert.equal((await c.trySet(-5)).postValue, -5);
    assert.equal(await c.initialize(42), false, 'exists already');
    const fresh = new DistributedCounter(sessions[2]!, '/k1/other/counter');
    assert.equal(await fresh.get(), 0, 'absent: 0');
    assert.equal(await fresh.initialize(42), true);
    assert.equal(await fresh.get(), 42);
    await assert.rejects(fresh.add(0.5), { code: 'BadArguments' });
    await rest.set('/k1/other/counter', 'not a number');
    await sessions[2]!.sync('/k1');
    await assert.rejects(fresh.increment(), { code: 'BadArguments' });
    await Promise.all([c.close(), fresh.close(), reader.close()]);
  });

  test('an increment whose answer was lost after it was applied is counted once, as its receipt says', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const proxy = new AnswerLosingProxy(rc.url(follower));
    rc.proxies.push(proxy);
    await proxy.ready;
    const s = await ZooGateSession.connect([proxy.url], { timeoutMs: 2000, reconnectDelayMs: 0 });
    rc.sessions.push(s);
    const c = new DistributedCounter(s, '/k2/counter');
    assert.equal((await c.increment()).postValue, 1);
    assert.equal((await c.increment()).postValue, 2);
    proxy.loseAnswerTo((r) => r.op === 'multi');
    const r = await c.increment();
    assert.equal(proxy.lost.length, 1, 'the answer was lost');
    assert.deepEqual(r, { succeeded: true, preValue: 2, postValue: 3, attempts: 1 });
    assert.equal(c.resolved, 1, 'resolved by the receipt');
    assert.equal((await c.increment()).postValue, 4, 'not counted twice');
    const [other] = await rc.spread(1);
    await other!.sync('/k2');
    assert.equal(await new DistributedCounter(other!, '/k2/counter').get(), 4);

    // atomicUpdate with a receipts node: the same, for several keys
    await other!.create('/k2/receipts', undefined);
    await other!.create('/k2/x', '0');
    await s.sync('/k2'); // s reads /k2/x on the follower, which may not have applied other's creates yet
    proxy.loseAnswerTo((q) => q.op === 'multi');
    const u = await atomicUpdate(s, [{ path: '/k2/x', update: (v) => String(Number(v) + 1) }, { path: '/k2/y', update: () => 'created' }], { receipts: '/k2/receipts' });
    assert.equal(proxy.lost.length, 2);
    assert.equal(u.attempts, 1);
    await other!.sync('/k2');
    assert.equal((await other!.get('/k2/x', { as: 'utf8' })).data, '1', 'applied once');
    assert.equal((await other!.get('/k2/y', { as: 'utf8' })).data, 'created');
    await c.close();
  });

  test('atomicUpdate: concurrent transfers between three accounts from four sessions keep the total; a failing key fails them all', async () => {
    const sessions = await rc.spread(4);
    const accounts = ['alice', 'bob', 'carol'].map((n) => `/k3/accounts/${n}`);
    for (const a of accounts) await sessions[0]!.create(a, '1000', { parents: true });
    const moved = new Map<string, number>(accounts.map((a) => [a, 0]));
    await Promise.all(Array.from({ length: 24 }, async (_, i) => {
      const from = accounts[i % 3]!;
      const to = accounts[(i + 1) % 3]!;
      const amount = 10 + i;
      const r = await atomicUpdate(sessions[i % 4]!, [
        { path: from, update: (v) => String(Number(v) - amount) },
        { path: to, update: (v) => String(Number(v) + amount) },
      ]);
      assert.equal(Number(r.values[0]!.value), Number(r.values[0]!.old) - amount);
      moved.set(from, moved.get(from)! - amount);
      moved.set(to, moved.get(to)! + amount);
    }));
    await sessions[0]!.sync('/k3');
    const balances = await Promise.all(accounts.map(async (a) => Number((await sessions[0]!.get(a, { as: 'utf8' })).data)));
    assert.equal(balances.reduce((x, y) => x + y, 0), 3000, 'the total is unchanged');
    assert.deepEqual(balances, accounts.map((a) => 1000 + moved.get(a)!), 'each account moved by exactly its transfers');
    // each transfer is one transaction: 24 transfers, each a version step on both its accounts
    const versions = await Promise.all(accounts.map(async (a) => (await sessions[0]!.get(a)).stat.version));
    assert.deepEqual(versions, [16, 16, 16]);

    // all or nothing: the third op fails (deleting a node that has a child), so neither the first nor the second applies
    await sessions[0]!.create('/k3/busy/child', 'x', { parents: true });
    // sessions[1] may be on another server, which need not have applied that create yet (ZooKeeper
    // promises no more across servers; a follower's direct commit can answer before the leader applies)
    await sessions[1]!.sync('/k3');
    const before = await sessions[0]!.get(accounts[0]!, { as: 'utf8' });
    await assert.rejects(atomicUpdate(sessions[1]!, [
      { path: accounts[0]!, update: () => '0' },
      { path: '/k3/brand-new', update: () => 'new' },
      { path: '/k3/busy', update: () => null },
    ]), { code: 'NotEmpty' });
    await sessions[0]!.sync('/k3');
    const after = await sessions[0]!.get(accounts[0]!, { as: 'utf8' });
    assert.equal(after.data, before.data);
    assert.equal(after.stat.version, before.stat.version, 'the first key was not touched');
    assert.equal(await sessions[0]!.exists('/k3/brand-new'), null, 'the second was not created');
    // a key left as it is is checked (its version), not written
    await sessions[2]!.sync('/k3'); // the transfers were answered on every node
    const bobBefore = await sessions[2]!.get(accounts[1]!);
    const r = await atomicUpdate(sessions[2]!, [{ path: accounts[1]!, update: () => undefined }, { path: accounts[2]!, update: (v) => `${v}!` }]);
    assert.equal(r.values[0]!.value, r.values[0]!.old);
    assert.ok(r.zxid !== null);
    assert.equal((await sessions[2]!.get(accounts[1]!)).stat.version, bobBefore.stat.version);
    assert.match((await sessions[2]!.get(accounts[2]!, { as: 'utf8' })).data, /!$/);
    await assert.rejects(atomicUpdate(sessions[2]!, [{ path: '/k3/no/parent', update: () => 'x' }]), { code: 'NoNode' });
  });
});
