/**
 * LeaderLatch (Curator's LeaderLatch) with a listener: three candidates on
 * three servers; the lowest node leads, each other watches only the
 * candidate just ahead of it. The leader steps down (close), then the next
 * one's process dies (its session ends, as at expiry, but at once): each
 * time exactly one new leader follows, and never two at once.
 *
 *   node --import tsx examples/leader-election.ts [--server URL,...]
 */
import { getLeader, LeaderLatch } from '../client/recipes/index.ts';
import { check, connect, main, rest, say } from './support.ts';

main('leader-election', async (base) => {
  const path = `${base}/scheduler`;
  const sessions = await Promise.all([0, 1, 2].map((i) => connect(i)));
  const leaders = new Set<string>();
  const overlaps: string[] = [];
  const history: string[] = [];
  // a candidate whose process has died leads nothing, whatever its latch (in this same process) says later
  const dead = new Set<string>();
  const latches = sessions.map((s, i) => {
    const latch = new LeaderLatch(s, path, { id: `candidate-${i}` });
    latch.addListener({
      isLeader: () => {
        if (leaders.size > 0) overlaps.push(`${latch.id} leads beside ${[...leaders].join()}`);
        leaders.add(latch.id);
        history.push(latch.id);
        say(`${latch.id}: isLeader (start the scheduler)`);
      },
      notLeader: () => {
        leaders.delete(latch.id);
        say(`${latch.id}: notLeader (${dead.has(latch.id) ? `its latch hears that its session is over (${latch.state})` : 'stop the scheduler'})`);
      },
    });
    return latch;
  });
  for (const l of latches) await l.start();
  check(await latches[0]!.await({ timeoutMs: 5000 }), 'candidate-0 leads');
  const zk = rest();
  await zk.sync(path);
  say(`the ensemble says the leader is ${(await getLeader(zk, path))?.id}; candidates: ${(await latches[0]!.getParticipants()).map((p) => p.id).join(', ')}`);

  // the leader gives up: only the next candidate was watching it
  const second = latches[1]!.await({ timeoutMs: 10_000 });
  await latches[0]!.close();
  check(await second, 'candidate-1 took over');

  // the new leader's session ends (as when its process goes away): its node goes with it
  const third = latches[2]!.await({ timeoutMs: 15_000 });
  say('candidate-1\'s process dies: its session ends, and its node with it');
  dead.add('candidate-1');
  leaders.delete('candidate-1');
  await sessions[1]!.close();
  check(await third, 'candidate-2 took over');
  check(latches[1]!.state === 'lost' && !latches[1]!.hasLeadership(), 'candidate-1 knows it lost');
  await zk.sync(path);
  check((await getLeader(zk, path))?.id === 'candidate-2', 'the ensemble names candidate-2');
  await latches[2]!.close();
  check(overlaps.length === 0, overlaps.join('; '));
  say(`OK LeaderLatch: leaders ${history.join(' -> ')}, exactly one leader at a time`);
});
