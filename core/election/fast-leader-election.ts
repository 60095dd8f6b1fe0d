import type { Epoch, ServerId, Zxid } from '../ids.ts';
import type { PeerMessage, PeerState } from '../messages.ts';
import { isQuorum } from '../zab/quorum.ts';

export interface Vote {
  readonly leader: ServerId;
  /** The proposed leader's last logged zxid. */
  readonly zxid: Zxid;
  /** The proposed leader's currentEpoch. */
  readonly peerEpoch: Epoch;
}

export interface ElectionConfig {
  readonly self: ServerId;
  readonly voters: ReadonlySet<ServerId>;
  /** How long a quorum for our vote must stand unchallenged before we decide (ZooKeeper's finalizeWait, 200 ms). */
  readonly finalizeWaitMs: number;
  /** Notifications are re-sent when nothing is decided, with back-off up to this (ZooKeeper's maxNotificationInterval). */
  readonly maxNotifyIntervalMs: number;
}

export type VoteMessage = Extract<PeerMessage, { type: 'VOTE' }>;

export interface Decision {
  readonly vote: Vote;
  readonly electionEpoch: number;
  readonly state: 'LEADING' | 'FOLLOWING';
}

/**
 * ZooKeeper's total order on votes (FastLeaderElection.totalOrderPredicate):
 * higher epoch wins, then higher zxid, then higher server id.
 */
export function betterVote(a: Vote, b: Vote): boolean {
  return a.peerEpoch > b.peerEpoch || (a.peerEpoch === b.peerEpoch && (a.zxid > b.zxid || (a.zxid === b.zxid && a.leader > b.leader)));
}

function sameVote(a: Vote, b: Vote): boolean {
  return a.leader === b.leader && a.zxid === b.zxid && a.peerEpoch === b.peerEpoch;
}

/**
 * One round of fast leader election (FastLeaderElection.lookForLeader), as a
 * state machine: feed it notifications and ticks; it says what to send and,
 * once a quorum has agreed on its vote for finalizeWaitMs with nothing better
 * arriving, or a quorum is seen following an established leader, what it
 * decided.
 */
export class FastLeaderElection {
  logicalclock = 0;
  private proposal: Vote;
  private readonly initial: Vote;
  private readonly recvset = new Map<ServerId, Vote>();
  private readonly outofelection = new Map<ServerId, { vote: Vote; electionEpoch: number; state: PeerState }>();
  private finalizeAt: number | null = null;
  private nextNotifyAt: number;
  private notifyIntervalMs: number;
  decision: Decision | null = null;

  constructor(private readonly cfg: ElectionConfig, self: Vote, logicalclock: number, private readonly send: (to: ServerId, m: VoteMessage) => void, nowMs: number) {
    this.initial = self;
    this.proposal = self;
    this.logicalclock = logicalclock + 1;
    this.notifyIntervalMs = cfg.finalizeWaitMs;
    this.nextNotifyAt = nowMs + this.notifyIntervalMs;
    this.recvset.set(cfg.self, self);
    this.broadcast();
    this.checkQuorum(nowMs);
  }

  get vote(): Vote {
    return this.proposal;
  }

  private notification(): VoteMessage {
    return { type: 'VOTE', ...this.proposal, electionEpoch: this.logicalclock, state: 'LOOKING' };
  }

  private broadcast(): void {
    for (const v of this.cfg.voters) if (v !== this.cfg.self) this.send(v, this.notification());
  }

  /** A notification from a voter. */
  receive(from: ServerId, n: VoteMessage, nowMs: number): void {
    if (this.decision !== null || !this.cfg.voters.has(from)) return;
    const nv: Vote = { leader: n.leader, zxid: n.zxid, peerEpoch: n.peerEpoch };
    if (n.state !== 'LOOKING') this.outofelection.set(from, { vote: nv, electionEpoch: n.electionEpoch, state: n.state });
    else this.outofelection.delete(from); // it no longer follows or leads what it said before
    if (n.state === 'LOOKING') {
      if (n.electionEpoch > this.logicalclock) {
        this.logicalclock = n.electionEpoch;
        this.recvset.clear();
        this.recvset.set(this.cfg.self, this.initial);
        this.proposal = betterVote(nv, this.initial) ? nv : this.initial;
        this.finalizeAt = null;
        this.broadcast();
      } else if (n.electionEpoch < this.logicalclock) {
        // an older round: tell the sender where we are
        this.send(from, this.notification());
        return;
      } else if (betterVote(nv, this.proposal)) {
        this.proposal = nv;
        this.finalizeAt = null;
        this.broadcast();
      }
      this.recvset.set(from, nv);
      this.recvset.set(this.cfg.self, this.proposal);
      this.checkQuorum(nowMs);
      return;
    }
    // The sender follows or leads an established ensemble.
    if (n.electionEpoch === this.logicalclock) {
      this.recvset.set(from, nv);
      if (this.agreeing(this.recvset, nv) && this.leaderConfirmed(nv, n.electionEpoch)) return this.decide(nv, n.electionEpoch);
    }
    // Before joining an established ensemble, a quorum must be following the same leader, and the
    // leader must say so. The votes are compared by leader only (ZooKeeper's Vote.equals for
    // servers out of election skips the round and the zxid): servers that joined that leader in
    // different rounds (a late joiner takes the round it was told), saw different zxids, or kept
    // following it through a re-election of the same leader (so their vote names its older epoch)
    // all follow one ensemble. Comparing rounds left a server LOOKING for good beside an ensemble
    // whose followers had joined in two rounds (simulator, 5 servers, seed 251), comparing epochs
    // one beside a follower that stayed through its leader's re-election (seed 288). Joining is
    // safe whatever the votes say: the leader takes a follower only through discovery.
    const following = [...this.outofelection].filter(([, o]) => o.vote.leader === nv.leader).map(([id]) => id);
    if (isQuorum(following, this.cfg.voters) && this.establishedLeaderConfirmed(nv, n.electionEpoch)) {
      // the leader's own vote and round: the current ones (a follower's may name an older epoch)
      const l = nv.leader === this.cfg.self ? { vote: nv, electionEpoch: n.electionEpoch } : this.outofelection.get(nv.leader)!;
      this.logicalclock = l.electionEpoch;
      this.decide(l.vote, l.electionEpoch);
    }
  }

  private agreeing(set: ReadonlyMap<ServerId, Vote>, v: Vote): boolean {
    const ids = [...set].filter(([, x]) => sameVote(x, v)).map(([id]) => id);
    return isQuorum(ids, this.cfg.voters);
  }

  /** checkLeader: a leader other than us must itself have said it leads, in that round; we lead only in our own round. */
  private leaderConfirmed(v: Vote, electionEpoch: number): boolean {
    if (v.leader === this.cfg.self) return electionEpoch === this.logicalclock;
    const l = this.outofelection.get(v.leader);
    return l !== undefined && l.state === 'LEADING' && l.electionEpoch === electionEpoch;
  }

  /** ZooKeeper's checkLeader for the out-of-election path: the leader itself says it leads (in whatever round); we lead only in our own round. */
  private establishedLeaderConfirmed(v: Vote, electionEpoch: number): boolean {
    if (v.leader === this.cfg.self) return electionEpoch === this.logicalclock;
    const l = this.outofelection.get(v.leader);
    return l !== undefined && l.state === 'LEADING';
  }

  private checkQuorum(nowMs: number): void {
    if (!this.agreeing(this.recvset, this.proposal)) {
      this.finalizeAt = null;
      return;
    }
    // An ensemble of one has no one to wait for.
    if (this.cfg.voters.size === 1) return this.decide(this.proposal, this.logicalclock);
    this.finalizeAt ??= nowMs + this.cfg.finalizeWaitMs;
  }

  /** What the election knows, for the server's log while it drags on. */
  describe(): Record<string, unknown> {
    return {
      round: this.logicalclock, proposal: this.proposal,
      votes: Object.fromEntries(this.recvset),
      established: Object.fromEntries([...this.outofelection].map(([id, o]) => [id, { ...o.vote, electionEpoch: o.electionEpoch, state: o.state }])),
    };
  }

  tick(nowMs: number): void {
    if (this.decision !== null) return;
    if (this.finalizeAt !== null && nowMs >= this.finalizeAt) return this.decide(this.proposal, this.logicalclock);
    if (nowMs >= this.nextNotifyAt) {
      this.broadcast();
      this.notifyIntervalMs = Math.min(this.notifyIntervalMs * 2, this.cfg.maxNotifyIntervalMs);
      this.nextNotifyAt = nowMs + this.notifyIntervalMs;
    }
  }

  /** A peer (re)connected: it may have missed our notification. */
  peerConnected(id: ServerId): void {
    if (this.decision === null && this.cfg.voters.has(id) && id !== this.cfg.self) this.send(id, this.notification());
  }

  private decide(v: Vote, electionEpoch: number): void {
    this.decision = { vote: v, electionEpoch, state: v.leader === this.cfg.self ? 'LEADING' : 'FOLLOWING' };
  }
}
