import { ZkError } from '../errors.ts';
import type { Epoch, ServerId, SessionId, Zxid } from '../ids.ts';
import type { MemberView, Origin, PeerMessage, RemoteError } from '../messages.ts';
import { MultiError } from '../request/prep.ts';
import { type RequestContext, SYSTEM_CONTEXT, type WriteRequest } from '../request/requests.ts';
import { SessionTracker } from '../session/session-tracker.ts';
import type { ZNode } from '../tree/znode.ts';
import { NodeKind, type LoggedTxn } from '../txn.ts';
import { type Reply, type Token, type ZabContext, unsettled } from './context.ts';
import { Pipeline, type Requester } from './pipeline.ts';
import { isQuorum } from './quorum.ts';
import { RequestWindows } from './request-window.ts';
import { planSync } from './sync-plan.ts';

type LearnerPhase = 'cepoch' | 'ackepoch' | 'synced' | 'acked' | 'uptodate';
/** Learners past their sync point get every proposal and commit (ZooKeeper's startForwarding). */
const FORWARDED: ReadonlySet<LearnerPhase> = new Set(['synced', 'acked', 'uptodate']);

interface Learner {
  readonly id: ServerId;
  phase: LearnerPhase;
  acceptedEpoch: Epoch;
  currentEpoch: Epoch;
  lastZxid: Zxid;
  lastHeard: number;
  roundAcked: number;
  /** Up to where a COMMIT or LOGGED sent in this leadership lets this learner commit. */
  toldUpTo: Zxid;
}

interface Proposal {
  readonly logged: LoggedTxn;
  readonly acks: Set<ServerId>;
  readonly token: Token | null;
  readonly origin: Origin | null;
}

interface PendingSync {
  readonly round: number;
  readonly zxid: Zxid;
  readonly who: Requester;
}

type Phase = 'discovery' | 'epoch-ack' | 'sync' | 'broadcast';

/**
 * The leader of one epoch (ZooKeeper's Leader and LearnerHandlers):
 * discovery picks an epoch above every acceptedEpoch of a quorum; each
 * follower is synchronised with its own plan and NEWLEADER; once a quorum has
 * acknowledged NEWLEADER the whole history is committed and the leader serves,
 * proposing transactions in zxid order, committing each once a quorum has it
 * durable, and pinging followers so that both sides notice silence.
 */
export class Leader {
  phase: Phase = 'discovery';
  newEpoch: Epoch | null = null;
  readonly learners = new Map<ServerId, Learner>();
  private readonly startedAt: number;
  private readonly proposals: Proposal[] = [];
  /** Proposed here but not yet durable here, in order (their zxids are in our history all the same). */
  private notDurable: LoggedTxn[] = [];
  lastCommitted: Zxid;
  pipeline: Pipeline | null = null;
  sessions: SessionTracker | null = null;
  private readonly deferred: Array<{ after: Zxid; reply: Reply }> = [];
  /** Forwarded requests received in this leadership. */
  private readonly seenRequests = new RequestWindows();
  private round = 0;
  private roundStartedAt = -1;
  private nextPingAt: number;
  private nextQuorumCheckAt: number;
  private nextSessionTickAt: number;
  private readonly pendingSyncs: PendingSync[] = [];
  private readonly removalsQueued = new Set<string>();

  /** The followers this leader and they alone are a quorum with (three voters), if --direct-commit: they get LOGGED. */
  private readonly loggedTo: ReadonlySet<ServerId>;

  constructor(private readonly ctx: ZabContext) {
    const { serverId, voters, directCommit } = ctx.cfg;
    this.loggedTo = new Set(directCommit ? [...voters].filter((id) => id !== serverId && isQuorum([serverId, id], voters)) : []);
    this.startedAt = ctx.now;
    this.lastCommitted = ctx.tree.lastProcessedZxid;
    this.nextPingAt = ctx.now + ctx.cfg.tickMs / 2;
    this.nextQuorumCheckAt = ctx.now + ctx.cfg.tickMs;
    this.nextSessionTickAt = ctx.now + ctx.cfg.tickMs;
    this.checkEpochQuorum();
  }

  get established(): boolean {
    return this.phase === 'broadcast';
  }

  get outstanding(): number {
    return this.proposals.length + (this.pipeline?.queued ?? 0);
  }

  private quorumWith(pred: (l: Learner) => boolean): boolean {
    const ids = [this.ctx.cfg.serverId];
    for (const l of this.learners.values()) if (pred(l)) ids.push(l.id);
    return isQuorum(ids, this.ctx.cfg.voters);
  }

  onMessage(from: ServerId, m: PeerMessage): void {
    if (!this.ctx.cfg.voters.has(from)) return;
    const l = this.learners.get(from);
    if (l !== undefined) l.lastHeard = this.ctx.now;
    if ('epoch' in m && m.epoch !== this.newEpoch) return;
    switch (m.type) {
      case 'CEPOCH':
        return this.leaderProcessCepoch(from, m.acceptedEpoch, m.lastZxid);
      case 'ACKEPOCH':
        return this.leaderProcessAckEpoch(from, m.currentEpoch, m.lastZxid);
      case 'ACKLD':
        return this.leaderProcessAckLd(from, m.zxid);
      case 'ACK':
        if (l !== undefined && (l.phase === 'acked' || l.phase === 'uptodate')) this.leaderProcessAck(from, m.zxid);
        return;
      case 'PING':
        if (l === undefined) return;
        l.roundAcked = Math.max(l.roundAcked, m.round);
        l.lastZxid = m.lastZxid;
        if (this.sessions !== null) for (const s of m.touched) this.sessions.touch(s);
        this.answerSyncs();
        return;
      case 'REQUEST':
        if (l === undefined || l.phase !== 'uptodate' || this.pipeline === null) return;
        if (this.seenRequests.seenBefore(from, m.incarnation, m.reqId)) return;
        this.pipeline.submit(m.req, { sessionId: m.sessionId, auth: m.auth }, { token: null, origin: { server: from, incarnation: m.incarnation, reqId: m.reqId } }, this.ctx.now);
        return;
      case 'SYNC':
        if (l === undefined || l.phase !== 'uptodate' || this.pipeline === null) return;
        this.pipeline.submit(null, SYSTEM_CONTEXT, { token: null, origin: { server: from, incarnation: 0, reqId: m.reqId } }, this.ctx.now);
        return;
      case 'VOTE':
      case 'NEWEPOCH':
      case 'DIFF':
      case 'TRUNC':
      case 'SNAP':
      case 'NEWLEADER':
      case 'UPTODATE':
      case 'PROPOSAL':
      case 'COMMIT':
      case 'LOGGED':
      case 'REPLY':
      case 'SYNCED':
        return;
    }
  }

  // ---- phase 1: discovery ----

  private leaderProcessCepoch(from: ServerId, acceptedEpoch: Epoch, lastZxid: Zxid): void {
    // a learner (re)joining starts over: it must be synchronised again
    this.learners.set(from, { id: from, phase: 'cepoch', acceptedEpoch, currentEpoch: 0, lastZxid, lastHeard: this.ctx.now, roundAcked: 0, toldUpTo: 0 });
    if (this.newEpoch === null) this.checkEpochQuorum();
    else this.ctx.send(from, { type: 'NEWEPOCH', epoch: this.newEpoch });
  }

  /** A quorum has told its acceptedEpoch: the new epoch is above all of them, durable before anyone hears it. */
  private checkEpochQuorum(): void {
    if (this.newEpoch !== null || !this.quorumWith(() => true)) return;
    let max = this.ctx.acceptedEpoch;
    for (const l of this.learners.values()) max = Math.max(max, l.acceptedEpoch);
    this.newEpoch = max + 1;
    this.ctx.acceptedEpoch = this.newEpoch;
    this.ctx.persistEpochs();
    this.phase = 'epoch-ack';
    this.ctx.note('new epoch', { epoch: this.newEpoch });
    for (const l of this.learners.values()) this.ctx.send(l.id, { type: 'NEWEPOCH', epoch: this.newEpoch });
    this.checkEpochAckQuorum();
  }

  private leaderProcessAckEpoch(from: ServerId, currentEpoch: Epoch, lastZxid: Zxid): void {
    const l = this.learners.get(from);
    if (l === undefined || l.phase !== 'cepoch') return;
    // Zab: the leader's history must be the most recent of the quorum (election ensures it; check anyway)
    if (this.phase !== 'broadcast' && (currentEpoch > this.ctx.currentEpoch || (currentEpoch === this.ctx.currentEpoch && lastZxid > this.ctx.lastLogged))) {
      return this.ctx.lookForLeader(`follower ${from} is ahead of the leader (${currentEpoch}/${lastZxid})`);
    }
    l.phase = 'ackepoch';
    l.currentEpoch = currentEpoch;
    l.lastZxid = lastZxid;
    if (this.phase === 'epoch-ack') this.checkEpochAckQuorum();
    else if (this.phase === 'sync' || this.phase === 'broadcast') this.syncLearner(l);
  }

  private checkEpochAckQuorum(): void {
    if (this.phase !== 'epoch-ack' || !this.quorumWith((l) => l.phase === 'ackepoch')) return;
    this.ctx.currentEpoch = this.newEpoch!;
    this.ctx.persistEpochs();
    this.phase = 'sync';
    for (const l of this.learners.values()) if (l.phase === 'ackepoch') this.syncLearner(l);
    this.checkNewLeaderQuorum();
  }

  // ---- phase 2: synchronisation ----

  private lastProposed(): Zxid {
    return this.pipeline?.lastProposed ?? this.ctx.lastLogged;
  }

  /** Our history after `after`, durable part from the log, the rest from memory. */
  private historyAfter(after: Zxid): LoggedTxn[] {
    const out: LoggedTxn[] = [];
    const durableEnd = this.notDurable.length > 0 ? this.notDurable[0]!.zxid : Infinity;
    for (let from = after; ;) {
      const batch = this.ctx.log.readAfter(from, 10_000).filter((t) => t.zxid < durableEnd);
      if (batch.length === 0) break;
      out.push(...batch);
      from = batch[batch.length - 1]!.zxid;
    }
    for (const t of this.notDurable) if (t.zxid > after) out.push(t);
    return out;
  }

  /**
   * LearnerHandler.syncFollower: DIFF, TRUNC or SNAP, the history after the
   * sync point (committed entries followed by COMMIT), NEWLEADER; from here on
   * the learner gets every proposal and commit (startForwarding).
   */
  private syncLearner(l: Learner): void {
    const epoch = this.newEpoch!;
    const lastProposed = this.lastProposed();
    const pending = new Set(this.notDurable.map((t) => t.zxid));
    const plan = planSync({
      peerLastZxid: l.lastZxid, lastProposed, log: this.ctx.log, pending, maxDiffTxns: this.ctx.cfg.maxDiffTxns,
      countAfter: (z) => this.historyAfter(z).length,
    });
    let from: Zxid;
    if (plan.mode === 'SNAP') {
      // The driver encodes the tree as it is when it sends this, which is after every commit
      // emitted before it (the barrier) and before any after it: lastCommitted, which the tree
      // reaches only then when effects are held for a deferred fsync (core/effects.ts).
      this.ctx.barrier();
      from = this.lastCommitted;
      this.ctx.send(l.id, { type: 'SNAP', epoch, zxid: from, chunks: [] });
    } else if (plan.mode === 'DIFF') {
      from = plan.from;
      this.ctx.send(l.id, { type: 'DIFF', epoch, zxid: from });
    } else {
      from = plan.to;
      this.ctx.send(l.id, { type: 'TRUNC', epoch, zxid: from });
    }
    this.ctx.note('sync learner', { learner: l.id, mode: plan.mode, from, lastProposed });
    for (const t of this.historyAfter(from)) {
      const p = this.proposals.find((x) => x.logged.zxid === t.zxid);
      this.ctx.send(l.id, { type: 'PROPOSAL', epoch, txn: t, origin: p?.origin ?? null });
      if (t.zxid <= this.lastCommitted) this.ctx.send(l.id, { type: 'COMMIT', epoch, zxid: t.zxid });
    }
    this.ctx.send(l.id, { type: 'NEWLEADER', epoch });
    l.phase = 'synced';
  }

  private leaderProcessAckLd(from: ServerId, zxid: Zxid): void {
    const l = this.learners.get(from);
    if (l === undefined || l.phase !== 'synced') return;
    l.phase = 'acked';
    this.leaderProcessAck(from, zxid);
    if (this.phase === 'sync') this.checkNewLeaderQuorum();
    else if (this.phase === 'broadcast') this.sendUpToDate(l);
  }

  /** A quorum has the history durable under the new epoch: it is committed, and the leader serves. */
  private checkNewLeaderQuorum(): void {
    if (this.phase !== 'sync' || !this.quorumWith((l) => l.phase === 'acked')) return;
    this.phase = 'broadcast';
    this.lastCommitted = this.ctx.lastLogged;
    this.pipeline = new Pipeline(this.ctx.tree, this.newEpoch!, {
      propose: (logged, who, req) => this.propose(logged, who, req),
      fail: (who, error, afterZxid, req) => this.failed(who, error, afterZxid, req),
      syncReady: (who, zxid) => this.syncReady(who, zxid),
      sessionActive: (id) => this.sessions?.isActive(id) ?? false,
    });
    // a new leader gives every session a fresh timeout
    this.sessions = new SessionTracker(this.ctx.cfg.tickMs);
    for (const s of this.ctx.tree.sessions.values()) this.sessions.add(s.sessionId, s.timeoutMs);
    this.ctx.note('established', { epoch: this.newEpoch, zxid: this.lastCommitted });
    this.ctx.observer?.established(this.ctx.cfg.serverId, this.newEpoch!, this.lastCommitted);
    for (const l of this.learners.values()) if (l.phase === 'acked') this.sendUpToDate(l);
    this.ctx.setServing(true);
  }

  private sendUpToDate(l: Learner): void {
    l.phase = 'uptodate';
    this.ctx.send(l.id, { type: 'UPTODATE', epoch: this.newEpoch! });
  }

  // ---- phase 3: broadcast ----

  private forwardTo(msg: PeerMessage): void {
    for (const l of this.learners.values()) if (FORWARDED.has(l.phase)) this.ctx.send(l.id, msg);
  }

  private propose(logged: LoggedTxn, who: Requester, req: WriteRequest): void {
    if (req.op === 'deleteExpired') this.removalsQueued.delete(req.path);
    if (req.op === 'closeSession' || req.op === 'expireSession') this.sessions?.setClosing(req.sessionId);
    this.ctx.append(logged);
    this.notDurable.push(logged);
    this.proposals.push({ logged, acks: new Set(), token: who.token, origin: who.origin });
    this.forwardTo({ type: 'PROPOSAL', epoch: this.newEpoch!, txn: logged, origin: who.origin });
  }

  private failed(who: Requester, error: ZkError, afterZxid: Zxid, req: WriteRequest): void {
    if (req.op === 'deleteExpired') this.removalsQueued.delete(req.path);
    if (who.token !== null) return this.defer(afterZxid, { token: who.token, error });
    if (who.origin !== null) {
      const e: RemoteError = {
        code: error.code, message: error.message, path: error.path ?? null,
        failedOp: error instanceof MultiError ? error.failedOp : null, opCount: error instanceof MultiError ? error.opCount : null,
      };
      this.ctx.send(who.origin.server, { type: 'REPLY', epoch: this.newEpoch!, reqId: who.origin.reqId, error: e, afterZxid });
    }
  }

  private defer(after: Zxid, reply: Reply): void {
    if (this.ctx.tree.lastProcessedZxid >= after && this.deferred.length === 0) this.ctx.reply(reply);
    else this.deferred.push({ after, reply });
  }

  /**
   * Our own log has everything up to zxid: our acknowledgement. Where this
   * leader and one follower are a quorum (three voters), that follower is
   * told so with LOGGED: once its own log holds a proposal, a quorum has it
   * durable, which is what committing means (the condition tryCommit counts),
   * so it commits and answers its clients without the round trip of its ACK
   * here and the COMMIT back (two of the four peer messages a write forwarded
   * by that follower used to wait for: REQUEST, PROPOSAL, ACK, COMMIT). Only
   * proposals of this established epoch are in flight, so this is the
   * current-epoch case where counting durable copies is enough; the follower
   * still ACKs, and we still commit on a quorum of ACKs ourselves.
   */
  selfLogged(zxid: Zxid): void {
    let i = 0;
    while (i < this.notDurable.length && this.notDurable[i]!.zxid <= zxid) i++;
    if (i > 0) this.notDurable = this.notDurable.slice(i);
    if (this.phase === 'broadcast' && this.loggedTo.size > 0) {
      for (const l of this.learners.values()) {
        if (l.phase === 'uptodate' && zxid > l.toldUpTo && this.loggedTo.has(l.id)) {
          l.toldUpTo = zxid;
          this.ctx.send(l.id, { type: 'LOGGED', epoch: this.newEpoch!, zxid });
        }
      }
    }
    this.leaderProcessAck(this.ctx.cfg.serverId, zxid);
  }

  /** Acknowledgements are cumulative: a server has everything up to zxid durable. */
  private leaderProcessAck(from: ServerId, zxid: Zxid): void {
    for (const p of this.proposals) {
      if (p.logged.zxid > zxid) break;
      p.acks.add(from);
    }
    this.tryCommit();
  }

  /** Commit in zxid order whatever a quorum has acknowledged; one cumulative COMMIT tells the followers. */
  private tryCommit(): void {
    if (this.phase !== 'broadcast') return;
    const before = this.lastCommitted;
    while (this.proposals.length > 0 && isQuorum(this.proposals[0]!.acks, this.ctx.cfg.voters)) {
      const p = this.proposals.shift()!;
      this.lastCommitted = p.logged.zxid;
      const txn = p.logged.txn;
      if (txn.type === 'createSession') this.sessions?.add(txn.sessionId, txn.timeoutMs);
      else if (txn.type === 'closeSession') this.sessions?.remove(txn.sessionId);
      this.ctx.observer?.committed(this.ctx.cfg.serverId, p.logged);
      this.ctx.commit(p.logged, p.token);
    }
    if (this.lastCommitted === before) return;
    const commit: PeerMessage = { type: 'COMMIT', epoch: this.newEpoch!, zxid: this.lastCommitted };
    for (const l of this.learners.values()) {
      if (!FORWARDED.has(l.phase) || this.lastCommitted <= l.toldUpTo) continue; // a LOGGED said as much
      l.toldUpTo = this.lastCommitted;
      this.ctx.send(l.id, commit);
    }
  }

  /** The tree includes zxid. */
  applied(zxid: Zxid): Reply[] {
    const out: Reply[] = [];
    while (this.deferred.length > 0 && this.deferred[0]!.after <= zxid) out.push(this.deferred.shift()!.reply);
    this.pipeline?.applied(zxid);
    return out;
  }

  // ---- clients ----

  submit(req: WriteRequest, rctx: RequestContext, token: Token): void {
    if (this.pipeline === null) return this.ctx.reply({ token, error: new ZkError('NoQuorum', 'the leader is not established yet; retry') });
    if (rctx.sessionId !== null) this.sessions?.touch(rctx.sessionId);
    this.pipeline.submit(req, rctx, { token, origin: null }, this.ctx.now);
  }

  sync(token: Token): void {
    if (this.pipeline === null) return this.ctx.reply({ token, error: new ZkError('NoQuorum', 'the leader is not established yet; retry') });
    this.pipeline.submit(null, SYSTEM_CONTEXT, { token, origin: null }, this.ctx.now);
  }

  touch(id: SessionId): boolean {
    return this.sessions?.touch(id) ?? false;
  }

  /**
   * A sync is answered once a quorum has answered a ping sent after it
   * arrived (the leader was still the leader then) and everything proposed
   * before it is applied: a read after it is linearizable.
   */
  private syncReady(who: Requester, zxid: Zxid): void {
    if (this.roundStartedAt !== this.ctx.now) this.startRound();
    this.pendingSyncs.push({ round: this.round, zxid, who });
    this.answerSyncs();
  }

  private startRound(): void {
    this.round++;
    this.roundStartedAt = this.ctx.now;
    const view = this.view();
    for (const l of this.learners.values()) {
      if (l.phase === 'synced' || l.phase === 'acked' || l.phase === 'uptodate') {
        this.ctx.send(l.id, { type: 'PING', epoch: this.newEpoch!, round: this.round, touched: [], lastZxid: this.lastCommitted, view });
      }
    }
  }

  /** The ensemble as this leader sees it: itself, and each voter it has synchronised (or not). */
  view(): MemberView[] {
    const out: MemberView[] = [];
    for (const id of [...this.ctx.cfg.voters].sort((a, b) => a - b)) {
      if (id === this.ctx.cfg.serverId) out.push({ id, state: 'LEADING', lastZxid: this.ctx.tree.lastProcessedZxid });
      else {
        const l = this.learners.get(id);
        out.push({ id, state: l !== undefined && l.phase === 'uptodate' ? 'FOLLOWING' : 'LOOKING', lastZxid: l?.lastZxid ?? 0 });
      }
    }
    return out;
  }

  private answerSyncs(): void {
    while (this.pendingSyncs.length > 0) {
      const s = this.pendingSyncs[0]!;
      if (!this.quorumWith((l) => l.roundAcked >= s.round && (l.phase === 'acked' || l.phase === 'uptodate'))) return;
      this.pendingSyncs.shift();
      if (s.who.token !== null) this.defer(s.zxid, { token: s.who.token, zxid: s.zxid });
      else if (s.who.origin !== null) this.ctx.send(s.who.origin.server, { type: 'SYNCED', epoch: this.newEpoch!, reqId: s.who.origin.reqId, zxid: s.zxid });
    }
  }

  // ---- time ----

  tick(): void {
    const { now, cfg } = this.ctx;
    if (this.phase !== 'broadcast') {
      if (now - this.startedAt > cfg.initLimitTicks * cfg.tickMs) this.ctx.lookForLeader(`no quorum synced within ${cfg.initLimitTicks} ticks`);
      return;
    }
    if (now >= this.nextPingAt) {
      this.nextPingAt = now + cfg.tickMs / 2;
      this.startRound();
    }
    if (now >= this.nextQuorumCheckAt) {
      this.nextQuorumCheckAt = now + cfg.tickMs;
      const limit = cfg.syncLimitTicks * cfg.tickMs;
      if (!this.quorumWith((l) => (l.phase === 'acked' || l.phase === 'uptodate') && now - l.lastHeard <= limit)) {
        return this.ctx.lookForLeader('lost the quorum of synced followers');
      }
    }
    while (now >= this.nextSessionTickAt) {
      this.nextSessionTickAt += cfg.tickMs;
      this.sessionTick(now);
    }
  }

  /** Session expiry, and ContainerManager's removal of empty containers and expired TTL nodes. */
  private sessionTick(now: number): void {
    const pipeline = this.pipeline!;
    for (const id of this.sessions!.tick()) pipeline.submit({ op: 'expireSession', sessionId: id }, SYSTEM_CONTEXT, { token: null, origin: null }, now);
    let budget = this.ctx.cfg.maxExpiredDeletesPerTick;
    const candidates = (paths: Iterable<string>, expired: (n: ZNode) => boolean) => {
      for (const path of paths) {
        if (budget <= 0) return;
        if (this.removalsQueued.has(path)) continue;
        const node = this.ctx.tree.get(path);
        if (node === undefined || node.numChildren > 0 || !expired(node)) continue;
        budget--;
        this.removalsQueued.add(path);
        pipeline.submit({ op: 'deleteExpired', path }, SYSTEM_CONTEXT, { token: null, origin: null }, now);
      }
    };
    candidates(this.ctx.tree.containers, (n) => n.kind === NodeKind.CONTAINER && n.cversion > 0);
    candidates(this.ctx.tree.ttls, (n) => n.kind === NodeKind.TTL && now - n.mtime > n.ttlMs);
  }

  peerDisconnected(id: ServerId): void {
    // it will come back through CEPOCH and be synchronised again
    this.learners.delete(id);
  }

  /**
   * Stepping down: what was proposed is applied as it stands (fast-forward),
   * requests whose fate is unknown are told so, the rest fail.
   */
  stop(): void {
    for (const q of this.pipeline?.takeQueued() ?? []) {
      const error = new ZkError('NoQuorum', 'the leader stepped down before proposing the request; retry');
      if (q.who.token !== null) this.ctx.reply({ token: q.who.token, error });
    }
    // Answers still deferred wait for proposals that are not committed and may never be: a request
    // refused against them (BadVersion against a set that is lost) must not say so, as ZooKeeper's
    // error txns are only answered once committed. It was not applied: say that, and nothing more.
    for (const r of this.deferred.splice(0)) this.ctx.reply({ token: r.reply.token, error: unsettled(r.reply) });
    for (const p of this.proposals.splice(0)) {
      this.ctx.commit(p.logged, null);
      if (p.token !== null) this.ctx.reply({ token: p.token, error: new ZkError('OperationTimeout', 'the leader stepped down: the write may or may not have been applied; read before retrying') });
    }
    for (const s of this.pendingSyncs.splice(0)) {
      if (s.who.token !== null) this.ctx.reply({ token: s.who.token, error: new ZkError('NoQuorum', 'the leader stepped down before the sync completed; retry') });
    }
  }
}

