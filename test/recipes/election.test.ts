/**
 * LeaderLatch against a real 3-process ensemble: one leader at a time, handed
 * over to the next candidate only (one watch event per handover), a new
 * leader once the leader's session expires (and, with loseOnDisconnect, the
 * old one stepping down before the new one starts), and leadership that
 * survives the kill -9 of the leader's node and of the ensemble's leader.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooGateError, type ZooGateSession } from '../../client/index.ts';
import { getLeader, getParticipants, LeaderLatch } from '../../client/recipes/election.ts';
import { EventCounter, RecipeCluster, waitFor } from './coordination-support.ts';

/** Every isLeader / notLeader of a set of latches, in order, with the overlaps it saw. */
class Timeline {
  readonly log: Array<{ id: string; lead: boolean; at: number }> = [];
  readonly overlaps: string[] = [];
  private leaders = new Set<string>();

  watch(latch: LeaderLatch): LeaderLatch {
    latch.addListener({
      isLeader: () => {
        if (this.leaders.size > 0) this.overlaps.push(`${latch.id} leads while ${[...this.leaders].join(',')} does`);
        this.leaders.add(latch.id);
        this.log.push({ id: latch.id, lead: true, at: performance.now() });
      },
      notLeader: () => {
        this.leaders.delete(latch.id);
        this.log.push({ id: latch.id, lead: false, at: performance.now() });
      },
    });
    return latch;
  }

  of(id: string): boolean[] {
    return this.log.filter((e) => e.id === id).map((e) => e.lead);
  }
}

describe('LeaderLatch against a 3-process ensemble', { timeout: 120_000 }, () => {
  let rc: RecipeCluster;
  before(async () => {
    rc = await RecipeCluster.start();
  });
  after(async () => {
    await rc?.destroy();
  });

  test('one leader at a time among 9 candidates on 3 nodes; each close hands over to the next only (one watch event)', async () => {
    const sessions = await rc.spread(9);
    const rest = rc.rest();
    const timeline = new Timeline();
    const latches: LeaderLatch[] = [];
    for (const [i, s] of sessions.entries()) {
      const l = timeline.watch(new LeaderLatch(s, '/e1/leader', { id: `c${i}` }));
      await l.start();
      latches.push(l);
    }
    assert.deepEqual(latches.map((l) => l.hasLeadership()), [true, false, false, false, false, false, false, false, false]);
    assert.equal(await latches[0]!.await({ timeoutMs: 0 }), true);
    assert.equal(await latches[1]!.await({ timeoutMs: 50 }), false);
    await rest.sync('/'); // REST reads from its node: catch it up with what the sessions wrote elsewhere
    assert.deepEqual((await getParticipants(rest, '/e1/leader')).map((p) => [p.id, p.isLeader]), latches.map((l, i) => [l.id, i === 0]));

    const counter = new EventCounter(sessions);
    const synced = () => Promise.all(sessions.map((s) => s.sync('/')));
    for (let k = 0; k < latches.length - 1; k++) {
      await synced();
      const before = counter.snapshot();
      const next = latches[k + 1]!.await({ timeoutMs: 10_000 });
      await latches[k]!.close();
      assert.equal(await next, true);
      assert.equal(latches[k]!.hasLeadership(), false);
      assert.equal(latches[k]!.state, 'closed');
      await synced();
      const woken = counter.since(before);
      woken[k] = 0; // the leader watched its own node, whose deletion it just made
      assert.equal(woken.reduce((a, b) => a + b, 0), 1, `handover ${k}: events ${JSON.stringify(woken)}`);
      assert.equal(woken[k + 1], 1, 'the one event went to the next candidate');
      await rest.sync('/');
      assert.equal((await getLeader(rest, '/e1/leader'))?.id, `c${k + 1}`, 'the ensemble names the same leader');
      assert.equal(latches.filter((l) => l.hasLeadership()).length, 1);
    }
    assert.deepEqual(timeline.overlaps, []);
    assert.deepEqual(timeline.log.map((e) => `${e.id}${e.lead ? '+' : '-'}`), ['c0+', ...latches.slice(1).flatMap((l, i) => [`c${i}-`, `${l.id}+`])]);
    await latches.at(-1)!.close();
    await rest.sync('/');
    assert.equal(await getLeader(rest, '/e1/leader'), null);
    await waitFor('the election node (a container) to go', async () => (await rest.exists('/e1')) === null);
    for (const s of sessions) await s.close();
  });

  test('a leader whose session expires is replaced; with loseOnDisconnect it steps down before the next one leads', async () => {
    const follower = [1, 2, 3].find((i) => i !== rc.leader)!;
    const rest = rc.rest();
    const timeline = { strict: new Timeline(), lenient: new Timeline() };
    const strictOld = await rc.frozenLater(follower, 600);
    const lenientOld = await rc.frozenLater(follower, 600);
    const other = await rc.connect(rc.leader);
    const latches = {
      strictOld: timeline.strict.watch(new LeaderLatch(strictOld.session, '/e2/strict', { id: 'old', loseOnDisconnect: true })),
      strictNew: timeline.strict.watch(new LeaderLatch(other, '/e2/strict', { id: 'new' })),
      lenientOld: timeline.lenient.watch(new LeaderLatch(lenientOld.session, '/e2/lenient', { id: 'old' })),
      lenientNew: timeline.lenient.watch(new LeaderLatch(other, '/e2/lenient', { id: 'new' })),
    };
    for (const l of Object.values(latches)) await l.start();
    assert.ok(latches.strictOld.hasLeadership() && latches.lenientOld.hasLeadership());
    const expiredStrict = latches.strictOld.await();
    const newStrict = latches.strictNew.await({ timeoutMs: 15_000 });
    const newLenient = latches.lenientNew.await({ timeoutMs: 15_000 });

    const frozenAt = performance.now();
    strictOld.proxy.freeze();
    lenientOld.proxy.freeze();
    assert.equal(await newStrict, true);
    assert.equal(await newLenient, true);
    // a new leader only once the old session could have expired on the server
    for (const t of [timeline.strict, timeline.lenient]) {
      const took = t.log.find((e) => e.id === 'new' && e.lead)!.at - frozenAt;
      assert.ok(took >= 350, `the new leader started ${Math.round(took)} ms after the old one stopped (session timeout 600 ms)`);
    }
    await waitFor('both old leaders to learn', () => latches.strictOld.state === 'lost' && latches.lenientOld.state === 'lost', 10_000);
    // loseOnDisconnect: the old leader stepped down before the new one took over; never two at once
    assert.deepEqual(timeline.strict.overlaps, []);
    assert.deepEqual(timeline.strict.log.map((e) => `${e.id}${e.lead ? '+' : '-'}`), ['old+', 'old-', 'new+']);
    // without it the old leader hears of it at its session's expiry (maybe just after the new one starts)
    assert.deepEqual(timeline.lenient.of('old'), [true, false]);
    assert.deepEqual(timeline.lenient.of('new'), [true]);
    await assert.rejects(expiredStrict.then(() => latches.strictOld.await()), (e: unknown) => e instanceof ZooGateError && e.code === 'SessionExpired');
    await rest.sync('/');
    assert.equal((await getLeader(rest, '/e2/strict'))?.id, 'new');
    assert.equal((await getLeader(rest, '/e2/lenient'))?.id, 'new');
    await latches.strictNew.close();
    await latches.lenientNew.close();
    await other.close();
  });

  test('leadership survives the kill -9 of the leader\'s node and of the ensemble\'s leader (the session moves with its node)', async () => {
    const victim = [1, 2, 3].find((i) => i !== rc.leader)!;
    const others = [1, 2, 3].filter((i) => i !== victim);
    const lead: ZooGateSession[] = [await rc.connect(victim), await rc.connect(victim)];
    const rest: ZooGateSession[] = [await rc.connect(others[0]!), await rc.connect(others[1]!)];
    const t = { plain: new Timeline(), careful: new Timeline() };
    const plain = [lead[0]!, ...rest].map((s, i) => t.plain.watch(new LeaderLatch(s, '/e3/plain', { id: `p${i}` })));
    const careful = [lead[1]!, ...rest].map((s, i) => t.careful.watch(new LeaderLatch(s, '/e3/careful', { id: `c${i}`, loseOnDisconnect: true })));
    for (const l of [...plain, ...careful]) await l.start();
    assert.ok(plain[0]!.hasLeadership() && careful[0]!.hasLeadership());

    const moved = (s: ZooGateSession, from: number) => s.state === 'Connected' && s.serverId !== from;
    await rc.kill(victim);
    await waitFor('the leaders\' sessions to move', () => moved(lead[0]!, victim) && moved(lead[1]!, victim), 10_000);
    await waitFor('the careful leader to lead again', () => careful[0]!.hasLeadership(), 10_000);
    assert.deepEqual(t.plain.log.map((e) => `${e.id}${e.lead ? '+' : '-'}`), ['p0+'], 'the plain leader never stopped leading');
    assert.deepEqual(t.careful.log.map((e) => `${e.id}${e.lead ? '+' : '-'}`), ['c0+', 'c0-', 'c0+'], 'the careful one paused while disconnected, and kept its place');
    await rc.restart(victim);

    const leader = rc.leader;
    await rc.kill(leader);
    await rc.currentLeader();
    await waitFor('every session to be connected again', () => [...lead, ...rest].every((s) => s.state === 'Connected'), 10_000);
    await waitFor('the careful leader to lead again', () => careful[0]!.hasLeadership(), 10_000);
    assert.deepEqual(t.plain.log.map((e) => `${e.id}${e.lead ? '+' : '-'}`), ['p0+'], 'still the same leader, without a pause');
    assert.deepEqual(t.plain.overlaps, []);
    assert.deepEqual(t.careful.overlaps, []);
    assert.ok(t.careful.log.every((e) => e.id === 'c0'), 'no other careful candidate ever led');
    const reader = rc.rest();
    await reader.sync('/');
    assert.equal((await getLeader(reader, '/e3/plain'))?.id, 'p0');
    await rc.restart(leader);
    for (const l of [...plain, ...careful]) await l.close();
    await waitFor('/e3 to go', async () => (await rc.rest().exists('/e3')) === null);
  });
});
