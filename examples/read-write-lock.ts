/**
 * ReadWriteLock (Curator's InterProcessReadWriteLock): readers share the
 * lock, a writer holds it alone, in the order they queued. Four readers and
 * two writers on three servers take it a few times each.
 *
 *   node --import tsx examples/read-write-lock.ts [--server URL,...]
 */
import { ReadWriteLock } from '../client/recipes/index.ts';
import { check, connect, main, say, sleep } from './support.ts';

main('read-write-lock', async (base) => {
  const path = `${base}/catalog`;
  const sessions = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => connect(i)));
  let readers = 0;
  let writers = 0;
  let mostReaders = 0;
  const violations: string[] = [];
  await Promise.all(sessions.map(async (session, w) => {
    const rw = new ReadWriteLock(session, path);
    const writer = w < 2;
    const lock = writer ? rw.writeLock : rw.readLock;
    for (let round = 0; round < 3; round++) {
      check(await lock.acquire({ timeoutMs: 15_000 }), `${writer ? 'writer' : 'reader'} ${w} got the lock`);
      if (writer) {
        if (readers > 0 || writers > 0) violations.push(`writer ${w} entered beside ${readers} readers and ${writers} writers`);
        writers++;
        say(`writer ${w} holds the write lock alone`);
      } else {
        if (writers > 0) violations.push(`reader ${w} entered beside a writer`);
        readers++;
        mostReaders = Math.max(mostReaders, readers);
        say(`reader ${w} reads (${readers} reading now)`);
      }
      await sleep(40);
      if (writer) writers--;
      else readers--;
      await lock.release();
    }
  }));
  check(violations.length === 0, violations.join('; '));
  check(mostReaders > 1, 'readers shared the lock at some point');
  say(`OK ReadWriteLock: up to ${mostReaders} readers together, writers always alone`);
});
