/**
 * A naming service: names bound to values (addresses, say), resolved
 * through a client-side cache that watches keep right (a name is read once,
 * then answered from the cache until a change invalidates it), plus unique
 * names from sequential nodes. Two clients on two servers: what one binds,
 * the other resolves, and hears of each change of the names it resolved;
 * concurrent uniqueName calls never collide.
 *
 *   node --import tsx examples/naming.ts [--server URL,...]
 */
import { NamingService } from '../client/recipes/index.ts';
import { check, connect, main, say } from './support.ts';

main('naming', async (base) => {
  const root = `${base}/naming`;
  const [a, b] = await Promise.all([0, 1].map((i) => connect(i)));
  const mine = new NamingService(a!, { root });
  const theirs = new NamingService(b!, { root });
  const heard: string[] = [];
  theirs.onChange((c) => {
    heard.push(`${c.name}=${c.value}`);
    say(`client B hears ${c.name}: ${c.old ?? '(unbound)'} -> ${c.value ?? '(unbound)'}`);
  });

  await mine.bind('db/primary', '10.0.0.7:5432');
  await mine.bind('db/replica', '10.0.0.8:5432');
  say('client A bound db/primary and db/replica');
  const first = await theirs.resolve('db/primary');
  const replica = await theirs.resolve('db/replica');
  say(`client B resolves db/primary = ${first}, db/replica = ${replica} (read once, then cached)`);
  check(first === '10.0.0.7:5432' && replica === '10.0.0.8:5432', 'B resolves what A bound');
  check((await theirs.resolve('db/primary')) === first, 'the cached answer');
  say(`client B's cache: ${JSON.stringify(theirs.stats)}`);

  let clash = '';
  await theirs.bind('db/primary', '10.9.9.9:5432').catch((e: Error) => (clash = e.message));
  say(`client B binding db/primary again is refused: ${clash}`);
  check(clash !== '', 'bind does not overwrite');

  say('failover: client A rebinds db/primary to the replica and unbinds db/replica');
  await mine.rebind('db/primary', '10.0.0.8:5432');
  await mine.unbind('db/replica');
  await theirs.catchUp();
  const now = { primary: await theirs.resolve('db/primary'), replica: await theirs.resolve('db/replica') };
  say(`client B now resolves db/primary = ${now.primary}, db/replica = ${now.replica}; names bound: ${(await theirs.list()).join(', ')}`);
  check(now.primary === '10.0.0.8:5432' && now.replica === null, 'B follows the rebind and the unbind');
  check(heard.includes('db/primary=10.0.0.8:5432') && heard.includes('db/replica=null'), 'B was told of both changes');

  const ids = await Promise.all([...Array(5)].flatMap(() => [mine.uniqueName('worker'), theirs.uniqueName('worker')]));
  say(`10 unique names drawn concurrently by both clients: ${ids.join(' ')}`);
  check(new Set(ids).size === ids.length, 'unique names never repeat');
  await mine.close();
  await theirs.close();
  say('OK naming: bindings resolved across clients through a watched cache; 10 concurrent unique names, no duplicate');
});
