/**
 * Barrier (Curator's DistributedBarrier): up while its node exists. Four
 * workers on three servers wait at it; once a "migration" is done the
 * barrier is removed and they all go on together.
 *
 *   node --import tsx examples/barrier.ts [--server URL,...]
 */
import { Barrier } from '../client/recipes/index.ts';
import { check, connect, main, say, sleep } from './support.ts';

main('barrier', async (base) => {
  const path = `${base}/migration`;
  const [admin, ...workers] = await Promise.all([0, 1, 2, 3, 4].map((i) => connect(i)));
  const gate = new Barrier(admin!, path);
  await gate.setBarrier();
  say(`barrier ${path} raised: the schema migration is running`);
  let removedAt = Infinity;
  const through: number[] = [];
  const waiting = workers.map(async (s, w) => {
    say(`worker ${w} waits at the barrier`);
    check(await new Barrier(s, path).waitOnBarrier({ timeoutMs: 15_000 }), `worker ${w} passed`);
    through.push(performance.now());
    say(`worker ${w} goes on`);
  });
  await sleep(300); // the migration
  check(through.length === 0, 'nobody passed a raised barrier');
  removedAt = performance.now();
  say('migration done: barrier removed');
  await gate.removeBarrier();
  await Promise.all(waiting);
  check(through.every((t) => t >= removedAt), 'everyone passed after the removal');
  say(`OK Barrier: ${workers.length} workers held at the barrier until it was removed`);
});
