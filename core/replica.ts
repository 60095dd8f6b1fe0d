import { invariant, ZkError } from './errors.ts';
import { epochOf, type Epoch, makeZxid, MAX_EPOCH, type ServerId, type SessionId, type Zxid } from './ids.ts';
import { ChangeView } from './request/change-view.ts';
import { needsQuiescence, prepare } from './request/prep.ts';
import { type RequestContext, SYSTEM_CONTEXT, type WriteRequest } from './request/requests.ts';
import { SessionTracker } from './session/session-tracker.ts';
import type { DataTree } from './tree/data-tree.ts';
import { NodeKind, type LoggedTxn, type Txn } from './txn.ts';

export interface ReplicaConfig {
  readonly serverId: ServerId;
  readonly tickMs: number;
  /** Session timeouts are clamped to [minSessionTimeoutMs, maxSessionTimeoutMs] (2 and 20 ticks by default). */
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  /** ContainerManager's rate limit: removals of empty containers and expired TTL nodes per tick. */
  readonly maxExpiredDeletesPerTick: number;
}

/** The driver's handle for a request waiting for its answer. */
export type Token = number;

export interface Commit {
  readonly logged: LoggedTxn;
  /** The request that proposed it here, if it is waiting on this node. */
  readonly token: Token | null;
}

export type Reply =
  | { readonly token: Token; readonly error: ZkError }
  /** A sync: everything proposed before it is applied; the node is at `zxid`. */
  | { readonly token: Token; readonly zxid: Zxid };

export interface EpochState {
  readonly acceptedEpoch: Epoch;
  readonly currentEpoch: Epoch;
}

/**
 * What the driver must do, in this order (DESIGN.md "the order of effects"):
 * 1. persist `epochs` then append `txns` (durable when the call returns), then call logged();
 * 2. (send peer messages: replication);
 * 3. apply `commits` to the tree in order, then call applied();
 * 4. deliver the watch events of those commits, then answer their requests and `replies`.
 */
export interface Output {
  readonly epochs: EpochState | null;
  readonly txns: LoggedTxn[];
  readonly commits: Commit[];
  readonly replies: Reply[];
}

interface Proposal {
  readonly logged: LoggedTxn;
  readonly token: Token | null;
  readonly acks: Set<ServerId>;
}

interface Queued {
  readonly req: WriteRequest | null; // null: a sync
  readonly ctx: RequestContext;
  readonly token: Token | null;
  readonly nowMs: number;
}

/**
 * One server's protocol state machine: no I/O, no clock. Inputs are submit(),
 * tick(), logged() and applied(); effects come out of takeOutput(). A
 * standalone server is an ensemble of one: it leads, proposes, acknowledges its
 * own proposals once they are durable and commits them with a quorum of one,
 * on the same path the replicated mode takes.
 */
export class Replica {
  readonly sessions: SessionTracker;
  private readonly view: ChangeView;
  private readonly voters: ReadonlySet<ServerId>;
  private epoch: Epoch;
  private counter = 0;
  private lastProposed: Zxid;
  private lastLogged: Zxid;
  private lastCommitted: Zxid;
  private lastApplied: Zxid;
  private readonly queue: Queued[] = [];
  private readonly proposals: Proposal[] = [];
  /** Committed, handed to the driver, not yet applied. */
  private readonly unapplied: LoggedTxn[] = [];
  private readonly deferred: Array<{ readonly after: Zxid; readonly reply: Reply }> = [];
  private readonly removalsQueued = new Set<string>();
  private out: Output;

  constructor(
    private readonly cfg: ReplicaConfig,
    private readonly tree: DataTree,
    stored: { readonly epochs: EpochState; readonly lastLoggedZxid: Zxid },
  ) {
    invariant(stored.lastLoggedZxid === tree.lastProcessedZxid, `log ends at ${stored.lastLoggedZxid} but the tree is at ${tree.lastProcessedZxid}`);
    this.view = new ChangeView(tree);
    this.sessions = new SessionTracker(cfg.tickMs);
    this.voters = new Set([cfg.serverId]);
    // Leading an ensemble of one: a new epoch above every epoch seen, durable before any proposal (ZAB phase 1).
    this.epoch = Math.max(stored.epochs.acceptedEpoch, stored.epochs.currentEpoch, epochOf(stored.lastLoggedZxid)) + 1;
    invariant(this.epoch <= MAX_EPOCH, 'epoch space exhausted');
    this.lastProposed = this.lastLogged = this.lastCommitted = this.lastApplied = stored.lastLoggedZxid;
    this.out = { epochs: { acceptedEpoch: this.epoch, currentEpoch: this.epoch }, txns: [], commits: [], replies: [] };
    // A new leader gives every session a fresh timeout (ZooKeeper's SessionTrackerImpl on load).
    for (const s of tree.sessions.values()) this.sessions.add(s.sessionId, s.timeoutMs);
  }

  get currentEpoch(): Epoch {
    return this.epoch;
  }
  get lastZxid(): Zxid {
    return this.lastApplied;
  }
  get pendingCount(): number {
    return this.proposals.length + this.queue.length;
  }

  /** Clamps a requested session timeout to the configured bounds. */
  sessionTimeout(requestedMs: number | null): number {
    const { minSessionTimeoutMs: min, maxSessionTimeoutMs: max } = this.cfg;
    if (requestedMs === null) return Math.min(max, Math.max(min, 10 * this.cfg.tickMs));
    return Math.min(max, Math.max(min, Math.round(requestedMs)));
  }

  /** A client request to change state. Its answer is a Commit or a Reply carrying `token`. */
  submit(req: WriteRequest, ctx: RequestContext, token: Token | null, nowMs: number): void {
    if (ctx.sessionId !== null) this.sessions.touch(ctx.sessionId);
    this.queue.push({ req, ctx, token, nowMs });
    this.drainQueue();
  }

  /** ZooKeeper's sync: answered once everything proposed before it is applied. */
  sync(token: Token): void {
    this.queue.push({ req: null, ctx: SYSTEM_CONTEXT, token, nowMs: 0 });
    this.drainQueue();
  }

  /** Keeps a session alive; false when it is unknown, closing or expired. */
  touchSession(id: SessionId): boolean {
    return this.sessions.touch(id);
  }

  /** One tick of the leader's clock: session expiry, container and TTL removal. */
  tick(nowMs: number): void {
    for (const id of this.sessions.tick()) this.submit({ op: 'expireSession', sessionId: id }, SYSTEM_CONTEXT, null, nowMs);
    let budget = this.cfg.maxExpiredDeletesPerTick;
    const candidates = (paths: Iterable<string>, expired: (n: NonNullable<ReturnType<DataTree['get']>>) => boolean) => {
      for (const path of paths) {
        if (budget <= 0) return;
        if (this.removalsQueued.has(path)) continue;
        const node = this.tree.get(path);
        if (node === undefined || node.numChildren > 0 || !expired(node)) continue;
        budget--;
        this.removalsQueued.add(path);
        this.submit({ op: 'deleteExpired', path }, SYSTEM_CONTEXT, null, nowMs);
      }
    };
    candidates(this.tree.containers, (n) => n.kind === NodeKind.CONTAINER && n.cversion > 0);
    candidates(this.tree.ttls, (n) => n.kind === NodeKind.TTL && nowMs - n.mtime > n.ttlMs);
  }

  /** The log is durable up to `zxid` on this server: its own acknowledgement. */
  logged(zxid: Zxid): void {
    invariant(zxid <= this.lastProposed, `logged ${zxid} beyond last proposal ${this.lastProposed}`);
    this.lastLogged = Math.max(this.lastLogged, zxid);
    for (const p of this.proposals) if (p.logged.zxid <= zxid) p.acks.add(this.cfg.serverId);
    this.commitReady();
  }

  /**
   * The tree reflects every transaction up to `zxid`. Returns the failures
   * that were waiting for it, to be answered right after its own answer.
   */
  applied(zxid: Zxid): Reply[] {
    invariant(zxid <= this.lastCommitted && zxid >= this.lastApplied, `applied ${zxid} outside (${this.lastApplied}, ${this.lastCommitted}]`);
    this.lastApplied = zxid;
    while (this.unapplied.length > 0 && this.unapplied[0]!.zxid <= zxid) {
      const { txn } = this.unapplied.shift()!;
      if (txn.type === 'createSession') this.sessions.add(txn.sessionId, txn.timeoutMs);
      else if (txn.type === 'closeSession') this.sessions.remove(txn.sessionId);
    }
    this.view.appliedUpTo(zxid);
    const released: Reply[] = [];
    while (this.deferred.length > 0 && this.deferred[0]!.after <= zxid) released.push(this.deferred.shift()!.reply);
    this.drainQueue();
    return released;
  }

  takeOutput(): Output | null {
    const o = this.out;
    if (o.epochs === null && o.txns.length === 0 && o.commits.length === 0 && o.replies.length === 0) return null;
    this.out = { epochs: null, txns: [], commits: [], replies: [] };
    return o;
  }

  private commitReady(): void {
    const quorum = Math.floor(this.voters.size / 2) + 1;
    while (this.proposals.length > 0 && this.proposals[0]!.acks.size >= quorum) {
      const p = this.proposals.shift()!;
      this.lastCommitted = p.logged.zxid;
      this.unapplied.push(p.logged);
      this.out.commits.push({ logged: p.logged, token: p.token });
    }
  }

  private drainQueue(): void {
    while (this.queue.length > 0) {
      const q = this.queue[0]!;
      const quiet = this.lastApplied === this.lastProposed;
      if (q.req === null) {
        if (!quiet) return;
        this.queue.shift();
        this.reply({ token: q.token!, zxid: this.lastApplied });
        continue;
      }
      if (needsQuiescence(q.req) && !quiet) return;
      this.queue.shift();
      this.propose(q);
    }
  }

  private propose(q: Queued): void {
    const req = q.req!;
    const zxid = makeZxid(this.epoch, this.counter + 1);
    let txn: Txn;
    try {
      txn = prepare(req, { view: this.view, tree: this.tree, zxid, nowMs: q.nowMs, ctx: q.ctx });
    } catch (e) {
      if (!(e instanceof ZkError)) throw e;
      if (q.token !== null) this.reply({ token: q.token, error: e });
      return;
    } finally {
      if (req.op === 'deleteExpired') this.removalsQueued.delete(req.path);
    }
    this.counter++;
    this.lastProposed = zxid;
    if (req.op === 'closeSession' || req.op === 'expireSession') this.sessions.setClosing(req.sessionId);
    const logged: LoggedTxn = { zxid, time: q.nowMs, txn };
    this.proposals.push({ logged, token: q.token, acks: new Set() });
    this.out.txns.push(logged);
  }

  /** Answers in order: a failure is told only after everything proposed before it is applied. */
  private reply(r: Reply): void {
    if (this.lastApplied >= this.lastProposed && this.deferred.length === 0) this.out.replies.push(r);
    else this.deferred.push({ after: this.lastProposed, reply: r });
  }
}
