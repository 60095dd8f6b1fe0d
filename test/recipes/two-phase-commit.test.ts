/**
 * Two-phase commit against a real 3-process ensemble: commit when every
 * participant votes commit; abort on one abort vote, on a participant whose
 * session dies before it votes, on a coordinator whose session dies before it
 * decides, and on the coordinator's timeout; every participant learns the
 * same outcome, and a forgotten transaction leaves nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ZooGateSession } from '../../client/index.ts';
import { readOutcome, TwoPhaseCommitCoordinator, TwoPhaseCommitParticipant, type Transaction } from '../../client/recipes/two-phase-commit.ts';
import { RecipeCluster, waitFor } from './coordination-support.ts';

const NAMES = ['billing', 'stock', 'shipping'];

describe('two-phase commit against a 3-process ensemble', { timeout: 90_000 }, () => {
  let rc: RecipeCluster;
  let coordinatorSession: ZooGateSession;
  let participantSessions: ZooGateSession[];
  before(async () => {
    rc = await RecipeCluster.start();
    coordinatorSession = await rc.connect(1);
    participantSessions = await rc.spread(3); // one participant per node
  });
  after(async () => {
    await rc?.destroy();
  });

  const participants = () => participantSessions.map((s, i) => new TwoPhaseCommitParticipant(s, NAMES[i]!));

  test('commits when every participant votes commit; all learn it, acknowledge it, and forget leaves nothing', async () => {
    const coordinator = new TwoPhaseCommitCoordinator(coordinatorSession);
    const seen: Transaction[] = [];
    // participants may be waiting before the transaction exists
    const votes = participants().map((p) => p.vote('tx-1', (tx) => (seen.push(tx), true), { timeoutMs: 15_000 }));
    const result = await coordinator.run('tx-1', NAMES, { payload: '{"order":1}', timeoutMs: 10_000 });
    assert.equal(result.outcome, 'commit');
    assert.equal(result.reason, 'all voted commit');
    assert.deepEqual(result.votes, { billing: 'commit', stock: 'commit', shipping: 'commit' });
    assert.deepEqual(await Promise.all(votes), ['commit', 'commit', 'commit']);
    assert.deepEqual(seen.map((t) => [t.id, t.payload, t.participants.join()]), NAMES.map(() => ['tx-1', '{"order":1}', NAMES.join()]));
    assert.equal(await readOutcome(coordinatorSession, 'tx-1'), 'commit');
    assert.equal(await coordinator.awaitAcks('tx-1', NAMES, { timeoutMs: 5000 }), true);
    await coordinator.forget('tx-1');
    await waitFor('/2pc (a container) to go', async () => (await rc.rest().exists('/2pc')) === null);
  });

  test('aborts when one participant votes abort; everyone learns abort', async () => {
    const coordinator = new TwoPhaseCommitCoordinator(coordinatorSession);
    const run = coordinator.run('tx-2', NAMES, { timeoutMs: 10_000 });
    const outcomes = await Promise.all(participants().map((p) => p.vote('tx-2', () => (p.name === 'stock' ? 'abort' : 'commit'))));
    const result = await run;
    assert.equal(result.outcome, 'abort');
    assert.equal(result.reason, 'stock voted abort');
    assert.deepEqual(outcomes, ['abort', 'abort', 'abort']);
    assert.equal(await coordinator.awaitAcks('tx-2', NAMES, { timeoutMs: 5000 }), true);
    await coordinator.forget('tx-2');
  });

  test('aborts when a participant\'s session dies after joining, before it votes', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const coordinator = new TwoPhaseCommitCoordinator(coordinatorSession);
    const { session: doomed, proxy } = await rc.frozenLater(follower, 600);
    const run = coordinator.run('tx-3', NAMES, { timeoutMs: 20_000 });
    let stockJoined!: () => void;
    const joined = new Promise<void>((r) => (stockJoined = r));
    // stock joins, then dies while making up its mind
    const dying = new TwoPhaseCommitParticipant(doomed, 'stock').vote('tx-3', () => {
      stockJoined();
      return new Promise<boolean>(() => {});
    });
    dying.catch(() => {});
    const [billing, , shipping] = participants();
    const outcomes = Promise.all([billing!.vote('tx-3', () => true), shipping!.vote('tx-3', () => true)]);
    await joined;
    const frozenAt = performance.now();
    proxy.freeze();
    const result = await run;
    assert.equal(result.outcome, 'abort');
    assert.equal(result.reason, 'stock\'s session ended before it voted');
    assert.ok(performance.now() - frozenAt >= 350, 'not before its session could have expired');
    assert.deepEqual(result.votes, { billing: 'commit', shipping: 'commit' });
    assert.deepEqual(await outcomes, ['abort', 'abort']);
    await coordinator.forget('tx-3');
  });

  test('aborts when the coordinator\'s session dies before it decides; the participants write abort themselves', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const { session: doomed, proxy } = await rc.frozenLater(follower, 600);
    const run = new TwoPhaseCommitCoordinator(doomed).run('tx-4', NAMES, { timeoutMs: 20_000 });
    run.catch(() => {});
    let release!: () => void;
    const slow = new Promise<boolean>((r) => (release = () => r(true)));
    const [billing, stock, shipping] = participants();
    const outcomes = Promise.all([billing!.vote('tx-4', () => true), stock!.vote('tx-4', () => slow), shipping!.vote('tx-4', () => true)]);
    await waitFor('two commit votes', async () => (await rc.rest().children('/2pc/tx-4/votes')).children.length === 2);
    proxy.freeze(); // the coordinator dies with one vote missing
    await waitFor('the coordinator\'s marker to go', async () => (await rc.rest().exists('/2pc/tx-4/coordinator')) === null, 10_000);
    release(); // stock votes commit now: too late, nobody may commit any more
    assert.deepEqual(await outcomes, ['abort', 'abort', 'abort']);
    assert.equal(await readOutcome(participantSessions[0]!, 'tx-4'), 'abort');
    await new TwoPhaseCommitCoordinator(participantSessions[0]!).forget('tx-4');
  });

  test('aborts on the coordinator\'s timeout when a participant never shows up', async () => {
    const coordinator = new TwoPhaseCommitCoordinator(coordinatorSession);
    const [billing] = participants();
    const run = coordinator.run('tx-5', NAMES, { timeoutMs: 500 });
    const outcome = await billing!.vote('tx-5', () => true);
    const result = await run;
    assert.equal(result.outcome, 'abort');
    assert.equal(result.reason, 'timeout: no vote from stock, shipping');
    assert.equal(outcome, 'abort');
    await assert.rejects(coordinator.run('tx-5', NAMES), /exists already/, 'a transaction id is used once');
    await coordinator.forget('tx-5');
    await waitFor('/2pc to go', async () => (await rc.rest().exists('/2pc')) === null);
  });
});
