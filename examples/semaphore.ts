/**
 * Semaphore (Curator's InterProcessSemaphoreV2): at most 2 leases out at
 * once among 6 workers on 3 servers. A lease is an ephemeral node: a holder
 * whose session ends gives it back (its `signal` aborts), shown at the end
 * by closing a holder's session instead of closing its lease.
 *
 *   node --import tsx examples/semaphore.ts [--server URL,...]
 */
import { Semaphore } from '../client/recipes/index.ts';
import { check, connect, main, say, sleep } from './support.ts';

const LEASES = 2;

main('semaphore', async (base) => {
  const path = `${base}/db-connections`;
  const sessions = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => connect(i)));
  let out = 0;
  let most = 0;
  let taken = 0;
  await Promise.all(sessions.map(async (session, w) => {
    const sem = new Semaphore(session, path, LEASES);
    for (let round = 0; round < 2; round++) {
      const lease = await sem.acquire({ timeoutMs: 15_000 });
      check(lease !== null, `worker ${w} got a lease`);
      most = Math.max(most, ++out);
      taken++;
      say(`worker ${w} has a lease (${out} of ${LEASES} out)`);
      await sleep(40);
      out--;
      await lease.close();
    }
  }));
  check(most <= LEASES, `never more than ${LEASES} leases (saw ${most})`);

  // a holder that dies: its lease goes with its session, and a waiter gets it
  const slot = `${base}/export-slot`; // a semaphore of one lease
  const dying = await connect(0);
  const mine = await new Semaphore(dying, slot, 1).acquire();
  check(mine !== null, 'a lease');
  const waiter = new Semaphore(sessions[1]!, slot, 1).acquire({ timeoutMs: 10_000 });
  await sleep(100);
  mine.onLost((reason) => say(`the dying holder learns: ${reason.code}`));
  say('the holder\'s session ends without giving its lease back');
  await dying.close();
  const next = await waiter;
  check(next !== null && mine.signal.aborted, 'the lease passed on when its holder\'s session ended');
  say('the waiter got the lease that went with the dead session');
  await next.close();
  say(`OK Semaphore: ${taken} leases taken by 6 workers, at most ${most} of ${LEASES} out at once; a dead holder's lease was freed`);
});
