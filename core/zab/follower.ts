import { ZkError } from '../errors.ts';
import type { Epoch, ServerId, SessionId, Zxid } from '../ids.ts';
import type { MemberView, PeerMessage } from '../messages.ts';
import { MultiError } from '../request/prep.ts';
import type { RequestContext, WriteRequest } from '../request/requests.ts';
import type { LoggedTxn } from '../txn.ts';
import { type Reply, type Token, type ZabContext, unsettled } from './context.ts';

type Phase = 'discovery' | 'sync' | 'acked' | 'broadcast';

/**
 * A follower of one leader in one epoch (ZooKeeper's Learner/Follower):
 * discovery (CEPOCH → NEWEPOCH → ACKEPOCH with acceptedEpoch durable first),
 * synchronisation (DIFF/TRUNC/SNAP and the leader's history, NEWLEADER with
 * currentEpoch durable before ACKLD), then broadcast (log and acknowledge
 * proposals, apply commits in order) once UPTODATE says the leader is
 * established. Clients' writes are forwarded; each is answered when this
 * server applies the transaction that carries it out.
 */
/** How often a follower in discovery repeats its CEPOCH (at most; half a tick if that is shorter). */
const CEPOCH_RETRY_MS = 50;

export class Follower {
  phase: Phase = 'discovery';
  epoch: Epoch | null = null;
  private lastHeard: number;
  private readonly startedAt: number;
  private nextCepochAt = 0;
  /** Logged, not yet committed, in zxid order. */
  private readonly pending: LoggedTxn[] = [];
  private readonly originTokens = new Map<Zxid, Token>();
  private readonly forwarded = new Set<Token>();
  private readonly syncs = new Set<Token>();
  /** Answers waiting for this server to apply a zxid (failures the leader reported, syncs). */
  private readonly deferred: Array<{ after: Zxid; reply: Reply }> = [];
  private readonly touched = new Set<SessionId>();
  /** Up to where the leader's log is durable (LOGGED), and ours (logged()). */
  private leaderLogged: Zxid = 0;
  private durable: Zxid = 0;
  /** The ensemble as the leader last described it. */
  view: readonly MemberView[] = [];

  constructor(private readonly ctx: ZabContext, readonly leader: ServerId) {
    this.lastHeard = ctx.now;
    this.startedAt = ctx.now;
    this.sendCepoch();
  }

  private sendCepoch(): void {
    this.ctx.send(this.leader, { type: 'CEPOCH', acceptedEpoch: this.ctx.acceptedEpoch, lastZxid: this.ctx.lastLogged });
    // Again soon while no NEWEPOCH comes: the server we follow may still be finishing its election
    // (a LOOKING server drops CEPOCH), and every moment here is a moment without a leader.
    this.nextCepochAt = this.ctx.now + Math.min(this.ctx.cfg.tickMs / 2, CEPOCH_RETRY_MS);
  }

  get serving(): boolean {
    return this.phase === 'broadcast';
  }

  /** Proposals this follower acknowledges as it logs them (after NEWLEADER). */
  get acking(): boolean {
    return this.phase === 'acked' || this.phase === 'broadcast';
  }

  onMessage(from: ServerId, m: PeerMessage): void {
    if (from !== this.leader) return;
    if ('epoch' in m && m.type !== 'NEWEPOCH' && m.epoch !== this.epoch) return; // another leader's, or a stale one
    this.lastHeard = this.ctx.now;
    switch (m.type) {
      case 'NEWEPOCH':
        return this.followerProcessNewEpoch(m.epoch);
      case 'DIFF':
        if (this.phase === 'sync') this.ctx.note('sync', { mode: 'DIFF', from: this.ctx.lastLogged });
        return;
      case 'TRUNC':
        if (this.phase !== 'sync') return;
        this.ctx.note('sync', { mode: 'TRUNC', to: m.zxid });
        this.ctx.truncate(m.zxid);
        return;
      case 'SNAP':
        if (this.phase !== 'sync') return;
        this.ctx.note('sync', { mode: 'SNAP', zxid: m.zxid });
        this.ctx.installSnapshot(m.zxid, m.chunks);
        return;
      case 'PROPOSAL':
        return this.followerProcessProposal(m.txn, m.origin);
      case 'COMMIT':
        return this.followerProcessCommit(m.zxid, false);
      case 'LOGGED':
        if (this.phase !== 'broadcast') return;
        this.leaderLogged = Math.max(this.leaderLogged, m.zxid);
        return this.commitLoggedByBoth();
      case 'NEWLEADER':
        return this.followerProcessNewLeader(m.epoch);
      case 'UPTODATE':
        if (this.phase !== 'acked') return;
        this.phase = 'broadcast';
        this.ctx.setServing(true);
        return;
      case 'PING':
        this.view = m.view;
        this.ctx.send(this.leader, { type: 'PING', epoch: m.epoch, round: m.round, touched: [...this.touched], lastZxid: this.ctx.tree.lastProcessedZxid, view: [] });
        this.touched.clear();
        return;
      case 'REPLY': {
        if (!this.forwarded.delete(m.reqId)) return;
        const e = m.error;
        const err = e.failedOp !== null && e.opCount !== null
          ? new MultiError(new ZkError(e.code, e.message, e.path ?? undefined), e.failedOp, e.opCount)
          : new ZkError(e.code, e.message, e.path ?? undefined);
        return this.defer(m.afterZxid, { token: m.reqId, error: err });
      }
      case 'SYNCED':
        if (!this.syncs.delete(m.reqId)) return;
        return this.defer(m.zxid, { token: m.reqId, zxid: m.zxid });
      case 'VOTE':
      case 'CEPOCH':
      case 'ACKEPOCH':
      case 'ACKLD':
      case 'ACK':
      case 'REQUEST':
      case 'SYNC':
        return;
    }
  }

  /** ZAB phase 1: accept the new epoch (durable before ACKEPOCH), or give up on a leader behind us. */
  private followerProcessNewEpoch(epoch: Epoch): void {
    if (this.phase !== 'discovery') return;
    if (epoch < this.ctx.acceptedEpoch) return this.ctx.lookForLeader(`leader proposed epoch ${epoch} below our accepted ${this.ctx.acceptedEpoch}`);
    if (epoch > this.ctx.acceptedEpoch) {
      this.ctx.acceptedEpoch = epoch;
      this.ctx.persistEpochs();
    }
    this.epoch = epoch;
    this.phase = 'sync';
    this.ctx.send(this.leader, { type: 'ACKEPOCH', epoch, currentEpoch: this.ctx.currentEpoch, lastZxid: this.ctx.lastLogged });
  }

  private followerProcessProposal(txn: LoggedTxn, origin: { server: ServerId; incarnation: number; reqId: number } | null): void {
    if (this.phase === 'discovery') return;
    if (txn.zxid <= this.ctx.lastLogged) return; // already have it
    this.ctx.append(txn);
    this.pending.push(txn);
    if (origin !== null && origin.server === this.ctx.cfg.serverId && origin.incarnation === this.ctx.cfg.incarnation && this.forwarded.has(origin.reqId)) {
      this.originTokens.set(txn.zxid, origin.reqId);
    }
  }

  /** Our own log has everything up to zxid durably (the driver's logged()). */
  selfLogged(zxid: Zxid): void {
    this.durable = Math.max(this.durable, zxid);
    if (this.phase === 'broadcast') this.commitLoggedByBoth();
  }

  /**
   * What both the leader's log (LOGGED) and ours hold durably is on a quorum
   * (the leader sends LOGGED only where the two of us are one), so it is
   * committed: apply it without waiting for COMMIT.
   */
  private commitLoggedByBoth(): void {
    const upTo = Math.min(this.leaderLogged, this.durable);
    if (this.pending.length > 0 && this.pending[0]!.zxid <= upTo) this.followerProcessCommit(upTo, true);
  }

  /** Applies the proposals up to zxid; `decided`: we concluded they are committed (LOGGED), the leader did not say so. */
  private followerProcessCommit(zxid: Zxid, decided: boolean): void {
    if (this.phase === 'discovery') return;
    while (this.pending.length > 0 && this.pending[0]!.zxid <= zxid) {
      const t = this.pending.shift()!;
      if (decided) this.ctx.observer?.committed(this.ctx.cfg.serverId, t);
      const token = this.originTokens.get(t.zxid) ?? null;
      if (token !== null) {
        this.originTokens.delete(t.zxid);
        this.forwarded.delete(token);
      }
      this.ctx.commit(t, token);
    }
  }

  /** ZAB phase 2: the leader's history is ours; currentEpoch durable, then ACKLD. */
  private followerProcessNewLeader(epoch: Epoch): void {
    if (this.phase !== 'sync') return;
    this.ctx.currentEpoch = epoch;
    this.ctx.persistEpochs();
    this.phase = 'acked';
    this.ctx.send(this.leader, { type: 'ACKLD', epoch, zxid: this.ctx.lastLogged });
  }

  private defer(after: Zxid, reply: Reply): void {
    if (this.ctx.tree.lastProcessedZxid >= after && this.deferred.length === 0) this.ctx.reply(reply);
    else this.deferred.push({ after, reply });
  }

  /** The tree includes zxid: answers that waited for it. */
  applied(zxid: Zxid): Reply[] {
    const out: Reply[] = [];
    while (this.deferred.length > 0 && this.deferred[0]!.after <= zxid) out.push(this.deferred.shift()!.reply);
    return out;
  }

  submit(req: WriteRequest, rctx: RequestContext, token: Token): void {
    if (!this.serving || this.epoch === null) return this.ctx.reply({ token, error: new ZkError('NoQuorum', 'this server is not synced with a leader; retry') });
    if (rctx.sessionId !== null) this.touched.add(rctx.sessionId);
    this.forwarded.add(token);
    this.ctx.send(this.leader, {
      type: 'REQUEST', epoch: this.epoch, incarnation: this.ctx.cfg.incarnation, reqId: token, req, sessionId: rctx.sessionId, auth: rctx.auth,
    });
  }

  sync(token: Token): void {
    if (!this.serving || this.epoch === null) return this.ctx.reply({ token, error: new ZkError('NoQuorum', 'this server is not synced with a leader; retry') });
    this.syncs.add(token);
    this.ctx.send(this.leader, { type: 'SYNC', epoch: this.epoch, reqId: token });
  }

  /** Keepalives reach the leader with the next ping reply. */
  touch(id: SessionId): boolean {
    if (!this.ctx.tree.sessions.has(id)) return false;
    this.touched.add(id);
    return true;
  }

  tick(): void {
    const limitTicks = this.phase === 'broadcast' || this.phase === 'acked' ? this.ctx.cfg.syncLimitTicks : this.ctx.cfg.initLimitTicks;
    if (this.ctx.now - this.lastHeard > limitTicks * this.ctx.cfg.tickMs) {
      return this.ctx.lookForLeader(`nothing from leader ${this.leader} for ${limitTicks} ticks`);
    }
    if (this.phase !== 'broadcast' && this.ctx.now - this.startedAt > this.ctx.cfg.initLimitTicks * this.ctx.cfg.tickMs) {
      return this.ctx.lookForLeader(`not synced with leader ${this.leader} within ${this.ctx.cfg.initLimitTicks} ticks`);
    }
    if (this.phase === 'discovery' && this.ctx.now >= this.nextCepochAt) this.sendCepoch();
  }

  peerConnected(id: ServerId): void {
    if (id === this.leader && this.phase === 'discovery') this.sendCepoch();
  }

  peerDisconnected(id: ServerId): void {
    if (id === this.leader) this.ctx.lookForLeader(`lost the connection to leader ${id}`);
  }

  /**
   * Leaving this leader: logged proposals are applied as they stand (ZooKeeper
   * fast-forwards its database; the next leader's TRUNC undoes what it never
   * had), requests whose fate is unknown are told so, the rest fail.
   */
  stop(): void {
    // before the fast-forward: what still waits depends on proposals that may never be committed
    for (const r of this.deferred.splice(0)) this.ctx.reply({ token: r.reply.token, error: unsettled(r.reply) });
    for (const t of this.pending.splice(0)) this.ctx.commit(t, null);
    for (const token of this.forwarded) {
      this.ctx.reply({ token, error: new ZkError('OperationTimeout', 'lost the leader: the write may or may not have been applied; read before retrying') });
    }
    this.forwarded.clear();
    this.originTokens.clear();
    for (const token of this.syncs) this.ctx.reply({ token, error: new ZkError('NoQuorum', 'lost the leader before the sync completed; retry') });
    this.syncs.clear();
  }
}
