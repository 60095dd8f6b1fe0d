import { ZkError } from '../errors.ts';
import { type Epoch, makeZxid, type Zxid } from '../ids.ts';
import type { Origin } from '../messages.ts';
import { ChangeView } from '../request/change-view.ts';
import { needsQuiescence, prepare } from '../request/prep.ts';
import type { RequestContext, WriteRequest } from '../request/requests.ts';
import type { DataTree } from '../tree/data-tree.ts';
import type { LoggedTxn, Txn } from '../txn.ts';

/** Who waits for a request's outcome: a local client (token) or a follower's client (origin). */
export interface Requester {
  readonly token: number | null;
  readonly origin: Origin | null;
}

export interface PipelineSink {
  /** A new proposal, in zxid order. */
  propose(logged: LoggedTxn, who: Requester, req: WriteRequest): void;
  /** A request failed preparation; tell its requester once everything proposed before it is applied (afterZxid). */
  fail(who: Requester, error: ZkError, afterZxid: Zxid, req: WriteRequest): void;
  /** A sync may be answered once the quorum confirms leadership and `zxid` is applied. */
  syncReady(who: Requester, zxid: Zxid): void;
  /** Whether the session may still issue requests (the leader's SessionTracker). */
  sessionActive(id: string): boolean;
}

interface Queued {
  readonly req: WriteRequest | null; // null: a sync
  readonly ctx: RequestContext;
  readonly who: Requester;
  readonly nowMs: number;
}

/**
 * The established leader's request processing (ZooKeeper's PrepRequestProcessor
 * with its outstanding changes): requests are prepared in arrival order
 * against the tree plus every proposal not yet applied, each gets the next
 * zxid of the epoch, and requests that enumerate the tree (recursive delete,
 * closing a session) wait, with everything behind them, until the pipeline
 * is drained.
 */
export class Pipeline {
  private readonly view: ChangeView;
  private readonly queue: Queued[] = [];
  private counter = 0;
  lastProposed: Zxid;

  constructor(private readonly tree: DataTree, private readonly epoch: Epoch, private readonly sink: PipelineSink) {
    this.view = new ChangeView(tree);
    this.lastProposed = tree.lastProcessedZxid;
  }

  get queued(): number {
    return this.queue.length;
  }

  submit(req: WriteRequest | null, ctx: RequestContext, who: Requester, nowMs: number): void {
    this.queue.push({ req, ctx, who, nowMs });
    this.drain();
  }

  /** The tree now includes everything up to zxid. */
  applied(zxid: Zxid): void {
    this.view.appliedUpTo(zxid);
    this.drain();
  }

  /** Everything not yet proposed, taken out (the leader stepped down). */
  takeQueued(): Queued[] {
    return this.queue.splice(0);
  }

  private drain(): void {
    while (this.queue.length > 0) {
      const q = this.queue[0]!;
      const quiet = this.tree.lastProcessedZxid >= this.lastProposed;
      if (q.req === null) {
        this.queue.shift();
        this.sink.syncReady(q.who, this.lastProposed);
        continue;
      }
      if (needsQuiescence(q.req) && !quiet) return;
      this.queue.shift();
      this.propose(q, q.req);
    }
  }

  private propose(q: Queued, req: WriteRequest): void {
    const zxid = makeZxid(this.epoch, this.counter + 1);
    let txn: Txn;
    try {
      if (q.ctx.sessionId !== null && !this.sink.sessionActive(q.ctx.sessionId)) throw new ZkError('SessionExpired');
      txn = prepare(req, { view: this.view, tree: this.tree, zxid, nowMs: q.nowMs, ctx: q.ctx });
    } catch (e) {
      if (!(e instanceof ZkError)) throw e;
      this.sink.fail(q.who, e, this.lastProposed, req);
      return;
    }
    this.counter++;
    this.lastProposed = zxid;
    this.sink.propose({ zxid, time: q.nowMs, txn }, q.who, req);
  }
}

export type { Queued };
