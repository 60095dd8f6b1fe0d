/**
 * Two-phase commit: a coordinator and three participants (billing, stock,
 * shipping) on three servers decide three transactions. The decision is a
 * node in the ensemble, so everyone learns the same outcome:
 *   tx-1  everyone votes commit              -> commit
 *   tx-2  stock votes abort (out of stock)   -> abort
 *   tx-3  shipping's session dies before it votes -> abort
 *
 *   node --import tsx examples/two-phase-commit.ts [--server URL,...]
 */
import { TwoPhaseCommitCoordinator, TwoPhaseCommitParticipant, type Outcome } from '../client/recipes/index.ts';
import { check, connect, main, say } from './support.ts';

const NAMES = ['billing', 'stock', 'shipping'];

main('two-phase-commit', async (base) => {
  const root = `${base}/2pc`;
  const coordinator = new TwoPhaseCommitCoordinator(await connect(0), root);
  const sessions = await Promise.all(NAMES.map((_, i) => connect(i)));
  const participants = sessions.map((s, i) => new TwoPhaseCommitParticipant(s, NAMES[i]!, root));

  // tx-1: all vote commit
  const votes1 = participants.map((p) => p.vote('tx-1', (tx) => {
    say(`${p.name} votes commit on ${tx.id} (${tx.payload})`);
    return true;
  }, { timeoutMs: 15_000 }));
  const r1 = await coordinator.run('tx-1', NAMES, { payload: '{"order":1}', timeoutMs: 10_000 });
  const o1 = await Promise.all(votes1);
  say(`tx-1: ${r1.outcome} (${r1.reason}); participants learned ${o1.join(', ')}`);
  check(r1.outcome === 'commit' && o1.every((o) => o === 'commit'), 'tx-1 committed everywhere');
  check(await coordinator.awaitAcks('tx-1', NAMES, { timeoutMs: 5000 }), 'everyone acknowledged tx-1');
  await coordinator.forget('tx-1');

  // tx-2: stock votes abort
  const votes2 = participants.map((p) => p.vote('tx-2', () => {
    const yes = p.name !== 'stock';
    say(`${p.name} votes ${yes ? 'commit' : 'abort (out of stock)'} on tx-2`);
    return yes;
  }, { timeoutMs: 15_000 }));
  const r2 = await coordinator.run('tx-2', NAMES, { payload: '{"order":2}', timeoutMs: 10_000 });
  const o2 = await Promise.all(votes2);
  say(`tx-2: ${r2.outcome} (${r2.reason}); participants learned ${o2.join(', ')}`);
  check(r2.outcome === 'abort' && o2.every((o) => o === 'abort'), 'tx-2 aborted everywhere');
  await coordinator.forget('tx-2');

  // tx-3: shipping joins, then its session ends before it can vote
  const dying = await connect(2);
  const shipping = new TwoPhaseCommitParticipant(dying, 'shipping', root);
  const lost = shipping.vote('tx-3', async () => {
    say('shipping joined tx-3 and its process dies before voting');
    await dying.close();
    return true;
  }).then((o) => `learned ${o}`, (e: Error) => `never learned (${e.message})`);
  const votes3: Array<Promise<Outcome>> = participants.slice(0, 2).map((p) => p.vote('tx-3', () => true, { timeoutMs: 15_000 }));
  const r3 = await coordinator.run('tx-3', NAMES, { payload: '{"order":3}', timeoutMs: 10_000 });
  const o3 = await Promise.all(votes3);
  say(`tx-3: ${r3.outcome} (${r3.reason}); billing and stock learned ${o3.join(', ')}; shipping ${await lost}`);
  check(r3.outcome === 'abort' && o3.every((o) => o === 'abort'), 'tx-3 aborted');
  await coordinator.forget('tx-3');
  say('OK two-phase commit: tx-1 committed (all voted commit), tx-2 aborted (a no vote), tx-3 aborted (a dead participant)');
});
