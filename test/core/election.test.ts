// Fast leader election's out-of-election path: a LOOKING server joins an established
// ensemble once a quorum says it follows one leader and that leader says it leads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FastLeaderElection, type VoteMessage } from '../../core/election/fast-leader-election.ts';

const voters = new Set([1, 2, 3, 4, 5]);
const Z = 0x2_0000_01fe;

function looking(self: number, zxid: number) {
  const e = new FastLeaderElection({ self, voters, finalizeWaitMs: 30, maxNotifyIntervalMs: 400 }, { leader: self, zxid, peerEpoch: 2 }, 3, () => {}, 0);
  return { e };
}

const note = (leader: number, state: 'FOLLOWING' | 'LEADING' | 'LOOKING', electionEpoch: number, peerEpoch = 2, zxid = Z): VoteMessage =>
  ({ type: 'VOTE', leader, zxid, peerEpoch, electionEpoch, state });

test('joins a leader whose followers joined it in different rounds (simulator seed 251, 5 servers)', () => {
  const { e } = looking(4, Z + 1); // a higher zxid than the ensemble's: it votes for itself
  e.receive(1, note(3, 'FOLLOWING', 3), 10); // joined in round 3
  e.receive(5, note(3, 'FOLLOWING', 4), 11); // joined in round 4
  assert.equal(e.decision, null, 'two followers and no word from the leader: not yet');
  e.receive(3, note(3, 'LEADING', 4), 12);
  assert.deepEqual(e.decision, { vote: { leader: 3, zxid: Z, peerEpoch: 2 }, electionEpoch: 4, state: 'FOLLOWING' });
});

test('joins a leader that a follower kept following through its re-election (its vote names the older epoch; seed 288)', () => {
  const { e } = looking(1, Z);
  e.receive(2, note(4, 'FOLLOWING', 4, 3), 10); // decided in round 4, when leader 4's epoch was 3
  e.receive(5, note(4, 'FOLLOWING', 5, 4), 11);
  e.receive(4, note(4, 'LEADING', 5, 4), 12);
  assert.deepEqual(e.decision, { vote: { leader: 4, zxid: Z, peerEpoch: 4 }, electionEpoch: 5, state: 'FOLLOWING' }, "the leader's own vote and round");
});

test('does not join without a quorum following, nor without the leader saying it leads', () => {
  const a = looking(4, Z);
  a.e.receive(3, note(3, 'LEADING', 4), 10);
  a.e.receive(5, note(3, 'FOLLOWING', 4), 11);
  assert.equal(a.e.decision, null, 'leader and one follower are 2 of 5');

  const b = looking(4, Z);
  b.e.receive(1, note(3, 'FOLLOWING', 4), 10);
  b.e.receive(2, note(3, 'FOLLOWING', 4), 11);
  b.e.receive(5, note(3, 'FOLLOWING', 4), 12);
  assert.equal(b.e.decision, null, 'three say they follow 3, but 3 never said it leads');
  b.e.receive(3, note(3, 'LEADING', 4), 13);
  const decided = b.e.decision as { vote: { leader: number } } | null; // (the assertion above narrowed the field's type)
  assert.equal(decided?.vote.leader, 3);
});

test('a server that was following and is LOOKING again no longer counts for its old leader', () => {
  const { e } = looking(4, Z);
  e.receive(1, note(3, 'FOLLOWING', 4), 10);
  e.receive(1, note(1, 'LOOKING', 4), 11); // 1 lost its leader
  e.receive(5, note(3, 'FOLLOWING', 4), 12);
  e.receive(3, note(3, 'LEADING', 4), 13);
  assert.equal(e.decision, null, 'only 3 and 5 are in that ensemble now: 2 of 5');
});
