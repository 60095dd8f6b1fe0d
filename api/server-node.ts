import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { AuthId } from '../core/acl.ts';
import { ZkError, invariant } from '../core/errors.ts';
import type { SessionId, Zxid } from '../core/ids.ts';
import { Replica, type Send, type Token, type ZabConfig } from '../core/replica.ts';
import { TokenTable } from './token-table.ts';
import type { PeerMessage } from '../core/messages.ts';
import { EffectRunner, type EffectTarget, type LogSync } from '../core/effects.ts';
import type { RequestContext, WriteRequest } from '../core/request/requests.ts';
import type { Applied, TxnResult } from '../core/tree/apply-txn.ts';
import type { DataTree } from '../core/tree/data-tree.ts';
import { SnapshotEncoder } from '../core/tree/snapshot-codec.ts';
import { restore } from '../storage/restore.ts';
import { SqliteStore } from '../storage/sqlite-store.ts';
import type { ServerConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { ClusterJson } from './schema.ts';
import type { Metrics } from './metrics.ts';

/** A committed write's outcome: its zxid and what applying it produced. */

/**
 * Core's clock: the wall clock at process start advanced by the monotonic
 * clock (what ZooKeeper's Time.currentElapsedTime is for). Timeouts, pings and
 * session expiry measure durations with it, so a wall-clock step (NTP, an
 * operator) neither expires sessions nor silences a leader; transaction
 * timestamps (ctime/mtime) and TTLs read it too, so they follow the wall clock
 * as NTP slews it, but not its steps after start.
 */
export const clockNow = (): number => Math.floor(performance.timeOrigin + performance.now());

export interface WriteOutcome {
  readonly zxid: Zxid;
  readonly result: TxnResult;
}

/** Called synchronously, in commit order, right after the change is applied and its events delivered. */
export type WriteCallback = (err: ZkError | null, outcome: WriteOutcome | null) => void;
export type SyncCallback = (err: ZkError | null, zxid: Zxid) => void;
type Waiter = (err: ZkError | null, value: WriteOutcome | Zxid | null) => void;

/** Sees every applied transaction, in zxid order, before its requester is answered. */
export type ApplyListener = (applied: Applied) => void;

/**
 * The driver of one server: owns the clock, the store and the tree, feeds the
 * Replica its inputs and performs its effects in DESIGN.md's order (persist,
 * send, apply, deliver events, answer). Requests arriving in one event-loop
 * turn are proposed together and share one fsync (group commit).
 */
export class ServerNode {
  readonly store: SqliteStore;
  readonly tree: DataTree;
  readonly replica: Replica;
  readonly startedAt = Date.now();
  readonly restoreInfo: { snapshotZxid: Zxid | null; replayed: number; ms: number };
  private readonly waiters = new TokenTable<Waiter>();
  private nextToken = 1;
  private pumpScheduled = false;
  private pumping = false;
  private readonly tickTimer: NodeJS.Timeout;
  private readonly listeners = new Set<ApplyListener>();
  private readonly zxidWaiters: Array<{ zxid: Zxid; resolve: () => void }> = [];
  private txnsSinceSnapshot = 0;
  private readonly effects: EffectTarget;
  private readonly runner: EffectRunner;
  private snapshotRunning = false;
  private closed = false;
  /** Set when storage failed: the node answers nothing more and stops. */
  fatal: Error | null = null;
  onFatal: (e: Error) => void = () => {};

  constructor(readonly cfg: ServerConfig, readonly log: Logger) {
    const t0 = performance.now();
    this.store = new SqliteStore(join(cfg.dataDir, 'zoogate.db'), { deferSync: cfg.logSync === 'deferred' });
    this.store.faultFile = cfg.faultFile;
    const r = restore(this.store, this.store);
    if (r.damaged.length > 0) log.error({ snapshots: r.damaged }, 'skipped damaged snapshots');
    this.tree = r.tree;
    this.replica = new Replica(zabConfig(cfg), this.tree, { epochs: this.store.getEpochs(), lastLoggedZxid: this.store.lastZxid(), log: this.store });
    this.effects = this.makeEffects();
    this.runner = new EffectRunner(this.effects, this.store.defersSync ? this.timedSync() : null, {
      resume: () => this.pump(),
      fail: (e) => this.die(e),
    });
    this.replica.onNote = (event, detail) => {
      log.info({ ...detail, event, lastLogged: this.replica.lastLogged, lastApplied: this.tree.lastProcessedZxid }, 'zab');
      this.metrics?.onNote(event, detail);
    };
    this.restoreInfo = { snapshotZxid: r.snapshot?.zxid ?? null, replayed: r.replayed, ms: Math.round(performance.now() - t0) };
    log.info({ ...this.restoreInfo, nodes: this.tree.nodeCount, zxid: this.tree.lastProcessedZxid, epoch: this.replica.currentEpoch }, 'restored');
    this.txnsSinceSnapshot = r.replayed;
    this.replica.start(clockNow());
    this.pump();
    // Core counts time in these pulses; ticks, pings and election timers derive from them.
    this.tickTimer = setInterval(() => this.onTick(), Math.max(10, Math.min(50, Math.floor(cfg.tickMs / 4))));
    this.tickTimer.unref();
  }

  /** The server's metrics, once attached (api/start.ts). */
  metrics: Metrics | null = null;

  /** Where peer messages go (the HTTP peer transport in an ensemble; nothing for a standalone server). */
  transport: { send(sends: readonly Send[], tree: DataTree): void } = { send: () => {} };

  /** Called when the role or serving state changes (clients are told to move on when it stops serving). */
  onRoleChange: () => void = () => {};

  get serving(): boolean {
    return this.replica.serving;
  }

  /** GET /cluster: this server's role, and the members as the leader last described them (null: not known here). */
  clusterView(): ClusterJson {
    const r = this.replica;
    const self = this.cfg.serverId;
    const members: Array<[number, string]> = this.cfg.peers.size > 0 ? [...this.cfg.peers] : [[self, `${this.cfg.host}:${this.cfg.peerPort}`]];
    const view = r.leader !== null ? r.leader.view() : r.follower?.view ?? [];
    return {
      serverId: self,
      state: r.state,
      leaderId: r.leaderId,
      epoch: r.currentEpoch,
      lastZxid: this.lastZxid,
      members: members.map(([id, address]) => {
        const v = view.find((m) => m.id === id);
        if (id === self) return { id, address, state: r.state, lastZxid: this.lastZxid };
        return { id, address, state: v?.state ?? null, lastZxid: v?.lastZxid ?? null };
      }),
    };
  }

  /** Input from the peer transport. */
  receive(from: number, msg: PeerMessage): void {
    if (this.fatal || this.closed) return;
    this.replica.step(from, msg, clockNow());
    this.schedulePump();
  }

  peerUp(id: number): void {
    if (this.fatal || this.closed) return;
    this.replica.peerConnected(id, clockNow());
    this.schedulePump();
  }

  peerDown(id: number): void {
    if (this.fatal || this.closed) return;
    this.replica.peerDisconnected(id, clockNow());
    this.schedulePump();
  }

  get lastZxid(): Zxid {
    return this.tree.lastProcessedZxid;
  }

  /**
   * Proposes a write; `cb` runs synchronously once it is durable and applied
   * here, after the change's watch events went out (so a socket sees the event
   * before the answer), or with the error, in request order.
   */
  submitWith(req: WriteRequest, ctx: RequestContext, cb: WriteCallback): void {
    this.enqueue((token) => this.replica.submit(req, ctx, token, clockNow()), cb as Waiter);
  }

  submit(req: WriteRequest, ctx: RequestContext): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => this.submitWith(req, ctx, (e, o) => (e ? reject(e) : resolve(o!))));
  }

  /** ZooKeeper's sync: answered once every write proposed before it is applied here. */
  syncWith(cb: SyncCallback): void {
    this.enqueue((token) => this.replica.sync(token, clockNow()), cb as Waiter);
  }

  sync(): Promise<Zxid> {
    return new Promise((resolve, reject) => this.syncWith((e, z) => (e ? reject(e) : resolve(z))));
  }

  private enqueue(fn: (token: Token) => void, w: Waiter): void {
    if (this.fatal) return w(new ZkError('SystemError', `server stopped: ${this.fatal.message}`), null);
    if (this.closed || this.draining) return w(new ZkError('NoQuorum', 'server is shutting down; retry on another server'), null);
    const token = this.nextToken++;
    this.waiters.add(token, w);
    fn(token);
    this.schedulePump();
  }

  get outstanding(): number {
    return this.waiters.size;
  }

  touchSession(id: SessionId): boolean {
    return this.replica.touchSession(id);
  }

  sessionTimeout(requestedMs: number | null): number {
    return this.replica.sessionTimeout(requestedMs);
  }

  onApplied(l: ApplyListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Resolves true once this node has applied `zxid`, false after `timeoutMs`. */
  waitForZxid(zxid: Zxid, timeoutMs: number): Promise<boolean> {
    if (this.lastZxid >= zxid) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { zxid, resolve: () => { clearTimeout(timer); resolve(true); } };
      const timer = setTimeout(() => {
        const i = this.zxidWaiters.indexOf(w);
        if (i >= 0) this.zxidWaiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.zxidWaiters.push(w);
    });
  }

  private onTick(): void {
    if (this.fatal || this.closed) return;
    this.replica.tick(clockNow());
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Performs the replica's effects until it has none left. */
  private pump(): void {
    if (this.pumping || this.fatal || this.closed) return;
    this.pumping = true;
    try {
      this.runner.drain();
    } catch (e) {
      this.die(e as Error);
    } finally {
      this.pumping = false;
    }
  }

  /** The store's deferred fsync, timed. */
  private timedSync(): LogSync {
    return {
      sync: (done) => {
        const t0 = performance.now();
        this.store.sync((err) => {
          this.metrics?.logSync.observe((performance.now() - t0) / 1000);
          done(err);
        });
      },
      syncNow: () => this.store.syncNow(),
    };
  }

  private makeEffects(): EffectTarget {
    const store = this.store;
    // the log port, timed: every append is one SQLite commit (a group commit), with its fsync when inline
    const log: EffectTarget['log'] = {
      append: (txns) => {
        const t0 = performance.now();
        store.append(txns);
        if (this.metrics !== null) {
          this.metrics.append.observe((performance.now() - t0) / 1000);
          this.metrics.appendBatch.observe(txns.length);
        }
      },
      lastZxid: () => store.lastZxid(),
      firstZxid: () => store.firstZxid(),
      readAfter: (a, l) => store.readAfter(a, l),
      purgedUpTo: () => store.purgedUpTo(),
      has: (z) => store.has(z),
      lastZxidAtOrBefore: (z) => store.lastZxidAtOrBefore(z),
      truncateAfter: (z) => store.truncateAfter(z),
      purgeUpTo: (z) => store.purgeUpTo(z),
    };
    return {
      log,
      epochs: this.store,
      snapshots: this.store,
      tree: this.tree,
      replica: this.replica,
      reloadTree: () => {
        const r = restore(this.store, this.store);
        this.tree.loadFrom(r.tree);
        this.log.info({ zxid: this.tree.lastProcessedZxid, nodes: this.tree.nodeCount }, 'reloaded after truncation');
      },
      send: (sends) => this.transport.send(sends, this.tree),
      roleChanged: () => {
        this.log.info({ state: this.replica.state, leader: this.replica.leaderId, serving: this.replica.serving, epoch: this.replica.currentEpoch }, 'role');
        this.onRoleChange();
      },
      committed: (token, applied) => {
        this.txnsSinceSnapshot++;
        // its events, then its answer (API.md: a client sees the event first)
        for (const l of this.listeners) l(applied);
        if (token !== null) this.settle(token, null, applied);
      },
      batchApplied: () => {
        this.releaseZxidWaiters();
        if (this.txnsSinceSnapshot >= this.cfg.snapshotEveryTxnCount && !this.snapshotRunning) void this.startSnapshot();
      },
      replied: (r) => {
        if ('error' in r) this.settle(r.token, r.error, null);
        else this.settle(r.token, null, r.zxid);
      },
    };
  }

  private settle(token: Token, err: ZkError | null, value: WriteOutcome | Zxid | null): void {
    const w = this.waiters.take(token);
    invariant(w !== undefined, `no waiter for token ${token}`);
    try {
      w(err, value);
    } catch (e) {
      this.log.error({ err: e }, 'a write callback threw');
    }
  }

  private releaseZxidWaiters(): void {
    if (this.zxidWaiters.length === 0) return;
    const z = this.lastZxid;
    for (let i = this.zxidWaiters.length - 1; i >= 0; i--) {
      const w = this.zxidWaiters[i]!;
      if (w.zxid <= z) {
        this.zxidWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /**
   * Writes a snapshot one chunk per event-loop turn, so requests keep flowing
   * while it is written (the tree keeps copy-on-write images meanwhile), then
   * purges old snapshots and the log they cover (unless `purge` is false: the
   * shutdown snapshot keeps the log, so a follower behind it can still DIFF).
   */
  startSnapshot(purge = true): Promise<void> {
    invariant(!this.snapshotRunning, 'snapshot already running');
    this.snapshotRunning = true;
    this.txnsSinceSnapshot = 0;
    const t0 = performance.now();
    const enc = new SnapshotEncoder(this.tree);
    const zxid = enc.zxid;
    const generation = this.tree.generation;
    const writer = this.store.beginSnapshot(zxid, Date.now());
    return new Promise((resolve) => {
      const step = () => {
        if (this.closed || this.fatal || this.tree.generation !== generation) {
          // shut down, or the tree was replaced (TRUNC, SNAP): this snapshot is void
          enc.close();
          writer.abort();
          this.snapshotRunning = false;
          resolve();
          return;
        }
        try {
          const chunk = enc.nextChunk();
          if (chunk === null) {
            const meta = writer.finish(enc.nodeCount);
            if (purge) this.purge();
            this.log.info({ zxid, nodes: meta.nodeCount, bytes: meta.bytes, ms: Math.round(performance.now() - t0) }, 'snapshot written');
            this.metrics?.snapshots.inc();
            this.snapshotRunning = false;
            resolve();
            return;
          }
          writer.writeChunk(chunk);
          setImmediate(step);
        } catch (e) {
          this.snapshotRunning = false;
          enc.close();
          this.die(e as Error);
          resolve();
        }
      };
      setImmediate(step);
    });
  }

  private purge(): void {
    const snaps = this.store.listSnapshots();
    const keep = snaps.slice(0, this.cfg.snapshotRetainCount);
    for (const s of snaps.slice(this.cfg.snapshotRetainCount)) this.store.deleteSnapshot(s.id);
    const oldest = keep[keep.length - 1];
    if (oldest !== undefined) this.store.purgeUpTo(oldest.zxid);
  }

  /** Storage failed: stop answering rather than acknowledge what may not be stored. */
  private die(e: Error): void {
    if (this.fatal) return;
    this.fatal = e;
    this.log.error({ err: e }, 'fatal: stopping');
    for (const w of this.waiters.values()) w(new ZkError('SystemError', `server stopped: ${e.message}`), null);
    this.waiters.clear();
    clearInterval(this.tickTimer);
    this.runner.stop();
    this.onFatal(e);
  }

  /** Set once a graceful shutdown begins: new requests are refused, those in flight may finish. */
  draining = false;

  /**
   * The graceful part of a shutdown (SIGTERM): take no new requests, let those
   * in flight finish for up to `graceMs`, then write a snapshot of what is
   * applied, so that a restart replays nothing (the log after it is empty).
   */
  async drain(graceMs: number): Promise<void> {
    if (this.closed || this.fatal) return;
    this.draining = true;
    const end = performance.now() + graceMs;
    while (this.waiters.size > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
    if (this.fatal || this.closed) return;
    const snapshotZxid = this.store.listSnapshots()[0]?.zxid ?? 0;
    if (this.tree.lastProcessedZxid > snapshotZxid && this.store.lastZxid() === this.tree.lastProcessedZxid) {
      while (this.snapshotRunning) await new Promise((r) => setTimeout(r, 10));
      if (this.tree.lastProcessedZxid > (this.store.listSnapshots()[0]?.zxid ?? 0)) await this.startSnapshot(false);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    this.runner.stop();
    for (const w of this.waiters.values()) w(new ZkError('NoQuorum', 'server is shutting down'), null);
    this.waiters.clear();
    this.store.close();
  }
}

export type { AuthId };

/** The protocol's settings, from the server's config. */
// The incarnation tells this run's forwarded requests from a previous run's: random, not a clock reading.
export function zabConfig(cfg: ServerConfig, incarnation = randomInt(2 ** 47)): ZabConfig {
  const voters = cfg.peers.size > 0 ? new Set(cfg.peers.keys()) : new Set([cfg.serverId]);
  return {
    serverId: cfg.serverId,
    voters,
    tickMs: cfg.tickMs,
    initLimitTicks: cfg.initLimitTicks,
    syncLimitTicks: cfg.syncLimitTicks,
    minSessionTimeoutMs: cfg.minSessionTimeoutMs,
    maxSessionTimeoutMs: cfg.maxSessionTimeoutMs,
    maxExpiredDeletesPerTick: cfg.maxExpiredDeletesPerTick,
    maxDiffTxns: 100_000,
    finalizeWaitMs: Math.min(200, cfg.tickMs),
    maxNotifyIntervalMs: Math.max(400, Math.min(2000, cfg.tickMs)),
    directCommit: cfg.directCommit,
    incarnation,
  };
}
