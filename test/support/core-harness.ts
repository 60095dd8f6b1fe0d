import type { AuthId } from '../../core/acl.ts';
import { drain } from '../../core/effects.ts';
import { ZkError } from '../../core/errors.ts';
import type { SessionId } from '../../core/ids.ts';
import { Replica, type Token, type ZabConfig } from '../../core/replica.ts';
import type { CreateMode, RequestContext, WriteRequest } from '../../core/request/requests.ts';
import type { Applied, WatchEvent } from '../../core/tree/apply-txn.ts';
import { DataTree } from '../../core/tree/data-tree.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { restore } from '../../storage/restore.ts';

export const TEST_REPLICA_CONFIG: ZabConfig = {
  serverId: 1, voters: new Set([1]), tickMs: 100, initLimitTicks: 10, syncLimitTicks: 5,
  minSessionTimeoutMs: 200, maxSessionTimeoutMs: 2000, maxExpiredDeletesPerTick: 100,
  maxDiffTxns: 100_000, finalizeWaitMs: 50, maxNotifyIntervalMs: 400, directCommit: true, incarnation: 1,
};

/**
 * A standalone server without I/O: the production Replica, a MemoryStore and
 * the shared effects loop, driven synchronously. `now` is the leader's clock.
 */
export class CoreHarness {
  readonly store: MemoryStore;
  tree: DataTree;
  replica: Replica;
  now = 1_000_000;
  readonly events: WatchEvent[] = [];
  private readonly outcomes = new Map<Token, Applied | ZkError | number>();
  private nextToken = 1;

  constructor(store = new MemoryStore(), cfg: ZabConfig = TEST_REPLICA_CONFIG, now = 1_000_000) {
    this.store = store;
    this.now = now;
    this.tree = restore(store, store).tree;
    this.replica = new Replica(cfg, this.tree, { epochs: store.getEpochs(), lastLoggedZxid: store.lastZxid(), log: store });
    this.replica.start(this.now);
    this.pump();
  }

  /** Restarts from the store, as a process would after a crash. */
  restart(cfg: ZabConfig = TEST_REPLICA_CONFIG): CoreHarness {
    return new CoreHarness(this.store, cfg, this.now);
  }

  pump(): void {
    drain({
      log: this.store, epochs: this.store, snapshots: this.store, tree: this.tree, replica: this.replica,
      reloadTree: () => this.tree.loadFrom(restore(this.store, this.store).tree),
      send: () => {},
      committed: (token, applied) => {
        this.events.push(...applied.events);
        if (token !== null) this.outcomes.set(token, applied);
      },
      replied: (r) => { this.outcomes.set(r.token, 'error' in r ? r.error : r.zxid); },
    });
  }

  /** Submits without pumping: requests submitted together share a batch (group commit). */
  submit(req: WriteRequest, ctx: Partial<RequestContext> = {}): Token {
    const token = this.nextToken++;
    this.replica.submit(req, { sessionId: ctx.sessionId ?? null, auth: ctx.auth ?? [] }, token, this.now);
    return token;
  }

  outcome(token: Token): Applied | ZkError | number | undefined {
    return this.outcomes.get(token);
  }

  /** Submits, pumps, returns the applied result or throws the ZkError. */
  run(req: WriteRequest, ctx: Partial<RequestContext> = {}): Applied {
    const t = this.submit(req, ctx);
    this.pump();
    const o = this.outcomes.get(t);
    if (o instanceof ZkError) throw o;
    if (o === undefined || typeof o === 'number') throw new Error(`no outcome for ${req.op}`);
    return o;
  }

  create(path: string, opts: { data?: string; mode?: CreateMode; ttlMs?: number; session?: SessionId; auth?: AuthId[]; parents?: boolean } = {}): string {
    const r = this.run(
      { op: 'create', path, data: new TextEncoder().encode(opts.data ?? ''), acl: null, mode: opts.mode ?? 'persistent', ttlMs: opts.ttlMs ?? null, parents: opts.parents },
      { sessionId: opts.session ?? null, auth: opts.auth ?? [] },
    );
    const res = r.result.op === 'multi' ? r.result.results[r.result.results.length - 1]! : r.result;
    if (res.op !== 'create') throw new Error('not a create');
    return res.path;
  }

  set(path: string, data: string, version = -1): Applied {
    return this.run({ op: 'set', path, data: new TextEncoder().encode(data), version });
  }

  delete(path: string, version = -1, recursive = false): Applied {
    return this.run({ op: 'delete', path, version, recursive });
  }

  openSession(sessionId: SessionId = randomishSession(this.nextToken), timeoutMs = 1000): SessionId {
    this.run({ op: 'createSession', sessionId, timeoutMs });
    return sessionId;
  }

  tick(advanceMs = TEST_REPLICA_CONFIG.tickMs): void {
    this.now += advanceMs;
    this.replica.tick(this.now);
    this.pump();
  }

  /** Runs a request expecting a ZkError; returns its code. */
  failCode(req: WriteRequest, ctx: Partial<RequestContext> = {}): string {
    try {
      this.run(req, ctx);
    } catch (e) {
      if (e instanceof ZkError) return e.code;
      throw e;
    }
    throw new Error(`${req.op} ${'path' in req ? req.path : ''} succeeded`);
  }
}

function randomishSession(n: number): SessionId {
  return n.toString(16).padStart(16, '0');
}

export const utf8 = (s: string) => new TextEncoder().encode(s);
