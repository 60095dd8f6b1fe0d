import { FastLeaderElection, type Vote } from './election/fast-leader-election.ts';
import { invariant, ZkError } from './errors.ts';
import type { Epoch, ServerId, SessionId, Zxid } from './ids.ts';
import type { PeerMessage, PeerState } from './messages.ts';
import type { LogStore } from './ports.ts';
import type { RequestContext, WriteRequest } from './request/requests.ts';
import type { DataTree } from './tree/data-tree.ts';
import type { LoggedTxn } from './txn.ts';
import type { Reply, Token, ZabConfig, ZabContext, ZabObserver } from './zab/context.ts';
import { Follower } from './zab/follower.ts';
import { Leader } from './zab/leader.ts';

export type { Reply, Token, ZabConfig } from './zab/context.ts';

export interface Commit {
  readonly logged: LoggedTxn;
  /** The request that proposed it here, if it is waiting on this server. */
  readonly token: Token | null;
}

export interface EpochState {
  readonly acceptedEpoch: Epoch;
  readonly currentEpoch: Epoch;
}

export interface Send {
  readonly to: ServerId;
  readonly msg: PeerMessage;
}

/**
 * What the driver must do, in this order (DESIGN.md "the order of effects"):
 * 1. persist: `epochs`, then `truncateAfter` (and reload the tree) or
 *    `snapshot` (install it as the whole history), then append `txns`, all
 *    durable when done; then call logged();
 * 2. send `sends` to peers;
 * 3. apply `commits` one by one, calling applied() after each;
 * 4. after each commit, its watch events, then its answer; then `replies`.
 */
export interface Output {
  epochs: EpochState | null;
  truncateAfter: Zxid | null;
  snapshot: { readonly zxid: Zxid; readonly chunks: readonly Uint8Array[] } | null;
  readonly txns: LoggedTxn[];
  readonly sends: Send[];
  readonly commits: Commit[];
  readonly replies: Reply[];
  /** Set when the role or serving state changed (the driver tells clients, /cluster shows it). */
  roleChanged: boolean;
}

function emptyOutput(): Output {
  return { epochs: null, truncateAfter: null, snapshot: null, txns: [], sends: [], commits: [], replies: [], roleChanged: false };
}

export interface StoredState {
  readonly epochs: EpochState;
  readonly lastLoggedZxid: Zxid;
  readonly log: ZabContext['log'];
}

/**
 * One server's protocol state machine: election, then leading or following
 * (core/zab). No I/O, no clock: inputs are start(), tick(), step() (a peer
 * message), peer connectivity, client submits, and the driver's logged() /
 * applied() acknowledgements; effects come out of takeOutput(). Standalone is
 * an ensemble of one: it elects itself, leads, and commits with a quorum of one.
 */
export class Replica implements ZabContext {
  state: PeerState = 'LOOKING';
  acceptedEpoch: Epoch;
  currentEpoch: Epoch;
  lastLogged: Zxid;
  now = 0;
  serving = false;
  leaderId: ServerId | null = null;
  readonly log: ZabContext['log'];
  private election: FastLeaderElection | null = null;
  private lastElectionEpoch = 0;
  private decidedVote: Vote | null = null;
  leader: Leader | null = null;
  follower: Follower | null = null;
  /** Output segments: a TRUNC or SNAP must not be performed before commits that preceded it. */
  private outs: Output[] = [emptyOutput()];
  private readonly connected = new Set<ServerId>();
  readonly events: Array<{ at: number; event: string; detail?: Record<string, unknown> }> = [];
  observer: ZabObserver | null = null;

  constructor(readonly cfg: ZabConfig, readonly tree: DataTree, stored: StoredState) {
    invariant(stored.lastLoggedZxid === tree.lastProcessedZxid, `log ends at ${stored.lastLoggedZxid} but the tree is at ${tree.lastProcessedZxid}`);
    invariant(cfg.voters.has(cfg.serverId), 'this server is not among the voters');
    this.acceptedEpoch = stored.epochs.acceptedEpoch;
    this.currentEpoch = stored.epochs.currentEpoch;
    this.lastLogged = stored.lastLoggedZxid;
    this.log = stored.log;
  }

  get lastZxid(): Zxid {
    return this.tree.lastProcessedZxid;
  }

  /** The leader's epoch this server is in (for /cluster). */
  get epoch(): Epoch {
    return this.currentEpoch;
  }

  get pendingCount(): number {
    return this.leader?.outstanding ?? 0;
  }

  private get out(): Output {
    return this.outs[this.outs.length - 1]!;
  }

  barrier(): void {
    this.outs.push(emptyOutput());
  }

  // ---- ZabContext ----

  send(to: ServerId, msg: PeerMessage): void {
    if (to === this.cfg.serverId) return;
    this.out.sends.push({ to, msg });
  }

  persistEpochs(): void {
    invariant(this.currentEpoch <= this.acceptedEpoch, `currentEpoch ${this.currentEpoch} above acceptedEpoch ${this.acceptedEpoch}`);
    this.out.epochs = { acceptedEpoch: this.acceptedEpoch, currentEpoch: this.currentEpoch };
  }

  append(txn: LoggedTxn): void {
    invariant(txn.zxid > this.lastLogged, `append ${txn.zxid} after ${this.lastLogged}`);
    this.lastLogged = txn.zxid;
    this.out.txns.push(txn);
  }

  commit(logged: LoggedTxn, token: Token | null): void {
    this.out.commits.push({ logged, token });
  }

  reply(r: Reply): void {
    this.out.replies.push(r);
  }

  truncate(zxid: Zxid): void {
    this.barrier();
    this.out.truncateAfter = zxid;
    this.lastLogged = zxid;
    this.barrier();
  }

  installSnapshot(zxid: Zxid, chunks: readonly Uint8Array[]): void {
    this.barrier();
    this.out.snapshot = { zxid, chunks };
    this.lastLogged = zxid;
    this.barrier();
  }

  setServing(serving: boolean): void {
    if (this.serving === serving) return;
    this.serving = serving;
    this.out.roleChanged = true;
    this.note(serving ? 'serving' : 'not serving');
  }

  sessionTouched(): void {}

  note(event: string, detail?: Record<string, unknown>): void {
    this.events.push({ at: this.now, event, detail });
    if (this.events.length > 200) this.events.shift();
    this.onNote?.(event, detail);
  }

  /** The driver's log of protocol events (elections, epochs, sync modes). */
  onNote: ((event: string, detail?: Record<string, unknown>) => void) | null = null;

  // ---- election ----

  /** Starts the server: the first election. */
  start(nowMs: number): void {
    this.now = nowMs;
    this.lookForLeader('start');
  }

  lookForLeader(reason: string): void {
    const wasActive = this.leader !== null || this.follower !== null;
    this.leader?.stop();
    this.follower?.stop();
    this.leader = null;
    this.follower = null;
    this.leaderId = null;
    this.setServing(false);
    if (wasActive || this.state !== 'LOOKING') this.out.roleChanged = true;
    this.state = 'LOOKING';
    this.nextElectionReportAt = 0;
    this.note('LOOKING', { reason, lastZxid: this.lastLogged, epoch: this.currentEpoch });
    const self: Vote = { leader: this.cfg.serverId, zxid: this.lastLogged, peerEpoch: this.currentEpoch };
    this.election = new FastLeaderElection(
      { self: this.cfg.serverId, voters: this.cfg.voters, finalizeWaitMs: this.cfg.finalizeWaitMs, maxNotifyIntervalMs: this.cfg.maxNotifyIntervalMs },
      self, this.lastElectionEpoch, (to, m) => this.send(to, m), this.now,
    );
    this.checkDecision();
  }

  private checkDecision(): void {
    const d = this.election?.decision;
    if (!d) return;
    this.lastElectionEpoch = d.electionEpoch;
    this.decidedVote = d.vote;
    this.election = null;
    this.leaderId = d.vote.leader;
    this.state = d.state;
    this.out.roleChanged = true;
    this.note(d.state, { leader: d.vote.leader, electionEpoch: d.electionEpoch, voteZxid: d.vote.zxid, votePeerEpoch: d.vote.peerEpoch, lastZxid: this.lastLogged });
    if (d.state === 'LEADING') this.leader = new Leader(this);
    else this.follower = new Follower(this, d.vote.leader);
  }

  // ---- inputs ----

  step(from: ServerId, msg: PeerMessage, nowMs: number): void {
    this.now = nowMs;
    if (!this.cfg.voters.has(from) || from === this.cfg.serverId) return;
    if (msg.type === 'VOTE') {
      if (this.election !== null) {
        this.election.receive(from, msg, nowMs);
        this.checkDecision();
      } else if (msg.state === 'LOOKING' && this.decidedVote !== null) {
        // tell a looking server who leads (FastLeaderElection's WorkerReceiver)
        this.send(from, { type: 'VOTE', ...this.decidedVote, electionEpoch: this.lastElectionEpoch, state: this.state });
      }
      return;
    }
    if (this.leader !== null) this.leader.onMessage(from, msg);
    else if (this.follower !== null) this.follower.onMessage(from, msg);
  }

  private nextElectionReportAt = 0;

  tick(nowMs: number): void {
    this.now = nowMs;
    if (this.election !== null) {
      this.election.tick(nowMs);
      if (nowMs >= this.nextElectionReportAt) {
        if (this.nextElectionReportAt !== 0) this.note('still looking', this.election.describe());
        this.nextElectionReportAt = nowMs + 20 * this.cfg.tickMs;
      }
      this.checkDecision();
    } else if (this.leader !== null) this.leader.tick();
    else if (this.follower !== null) this.follower.tick();
  }

  peerConnected(id: ServerId, nowMs: number): void {
    this.now = nowMs;
    this.connected.add(id);
    this.election?.peerConnected(id);
    this.follower?.peerConnected(id);
  }

  peerDisconnected(id: ServerId, nowMs: number): void {
    this.now = nowMs;
    this.connected.delete(id);
    this.leader?.peerDisconnected(id);
    this.follower?.peerDisconnected(id);
  }

  /** A client request to change state. Its answer is a Commit or a Reply carrying `token`. */
  submit(req: WriteRequest, ctx: RequestContext, token: Token, nowMs: number): void {
    this.now = nowMs;
    if (this.leader !== null) this.leader.submit(req, ctx, token);
    else if (this.follower !== null) this.follower.submit(req, ctx, token);
    else this.reply({ token, error: new ZkError('NoQuorum', 'no leader is elected yet; retry') });
  }

  /** ZooKeeper's sync, linearizable: answered once a quorum confirms the leader and this server caught up. */
  sync(token: Token, nowMs: number): void {
    this.now = nowMs;
    if (this.leader !== null) this.leader.sync(token);
    else if (this.follower !== null) this.follower.sync(token);
    else this.reply({ token, error: new ZkError('NoQuorum', 'no leader is elected yet; retry') });
  }

  /** Keeps a session alive; false when this server knows it is gone. */
  touchSession(id: SessionId): boolean {
    if (this.leader !== null) return this.leader.touch(id);
    if (this.follower !== null) return this.follower.touch(id);
    return this.tree.sessions.has(id);
  }

  /** Whether a session may act (known, and not being closed or expired at the leader). */
  sessionActive(id: SessionId): boolean {
    if (this.leader?.sessions) return this.leader.sessions.isActive(id);
    return this.tree.sessions.has(id);
  }

  /** Clamps a requested session timeout to the configured bounds. */
  sessionTimeout(requestedMs: number | null): number {
    const { minSessionTimeoutMs: min, maxSessionTimeoutMs: max } = this.cfg;
    if (requestedMs === null) return Math.min(max, Math.max(min, 10 * this.cfg.tickMs));
    return Math.min(max, Math.max(min, Math.round(requestedMs)));
  }

  // ---- the driver's acknowledgements ----

  /** The log is durable up to `zxid` here. */
  logged(zxid: Zxid): void {
    this.leader?.selfLogged(zxid);
    this.follower?.selfLogged(zxid);
  }

  /** The tree includes `zxid`; returns the failures and syncs that waited for it. */
  applied(zxid: Zxid): Reply[] {
    invariant(this.tree.lastProcessedZxid === zxid, `applied ${zxid} but the tree is at ${this.tree.lastProcessedZxid}`);
    if (this.leader !== null) return this.leader.applied(zxid);
    if (this.follower !== null) return this.follower.applied(zxid);
    return [];
  }

  takeOutput(): Output | null {
    while (this.outs.length > 1 && isEmpty(this.outs[0]!)) this.outs.shift();
    const o = this.outs[0]!;
    if (isEmpty(o)) return null;
    this.outs.shift();
    if (this.outs.length === 0) this.outs.push(emptyOutput());
    // A follower acknowledges what this output makes durable, once, cumulatively, after it is durable.
    const f = this.follower;
    if (f !== null && f.acking && o.txns.length > 0 && f.epoch !== null) {
      o.sends.push({ to: f.leader, msg: { type: 'ACK', epoch: f.epoch, zxid: o.txns[o.txns.length - 1]!.zxid } });
    }
    return o;
  }
}

function isEmpty(o: Output): boolean {
  return o.epochs === null && o.truncateAfter === null && o.snapshot === null && o.txns.length === 0 && o.sends.length === 0 &&
    o.commits.length === 0 && o.replies.length === 0 && !o.roleChanged;
}

export type { LogStore };
