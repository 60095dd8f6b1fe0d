/**
 * SimpleLock: one ephemeral node; whoever creates it holds the lock.
 * Three sessions (one per server) take it in turn four times each; the
 * example checks that no two ever held it at once.
 *
 *   node --import tsx examples/simple-lock.ts [--server URL,...]
 */
import { SimpleLock } from '../client/recipes/index.ts';
import { check, connect, main, say, sleep } from './support.ts';

main('simple-lock', async (base) => {
  const path = `${base}/lock`;
  const sessions = await Promise.all([0, 1, 2].map((i) => connect(i)));
  let inside = 0;
  let most = 0;
  let acquisitions = 0;
  await Promise.all(sessions.map(async (session, w) => {
    const lock = new SimpleLock(session, path);
    for (let round = 0; round < 4; round++) {
      if (!(await lock.acquire({ timeoutMs: 10_000 }))) throw new Error(`worker ${w} waited 10 s for ${path}`);
      try {
        most = Math.max(most, ++inside);
        acquisitions++;
        say(`worker ${w} (session ${session.sessionId} on server ${session.serverId}) holds ${path}, fencing token ${lock.fencingToken}`);
        await sleep(20); // the critical section
        inside--;
      } finally {
        await lock.release();
      }
    }
  }));
  check(most === 1, `at most one holder at a time (saw ${most})`);
  say(`OK SimpleLock: ${acquisitions} acquisitions by 3 sessions on 3 servers; holders never overlapped`);
});
