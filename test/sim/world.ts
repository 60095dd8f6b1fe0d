// A deterministic simulated world for the production Replica: seeded PRNG,
// simulated network (per-connection FIFO with latency, connections that break,
// partitions), simulated crashes and restarts over durable in-memory stores,
// and a tick loop. After steps it checks ZAB's invariants (Zab.tla's
// Agreement/Integrity/TotalOrder/PrimaryIntegrity, as seen from outside);
// after healing, liveness. The seed replays a run exactly.
import { EffectRunner, type EffectTarget, type LogSync } from '../../core/effects.ts';
import { ZkError } from '../../core/errors.ts';
import { epochOf, type ServerId, type Zxid } from '../../core/ids.ts';
import type { PeerMessage } from '../../core/messages.ts';
import { Replica, type Send, type ZabConfig } from '../../core/replica.ts';
import type { WriteRequest } from '../../core/request/requests.ts';
import type { Applied } from '../../core/tree/apply-txn.ts';
import type { DataTree } from '../../core/tree/data-tree.ts';
import { snapshotChunks } from '../../core/tree/snapshot-codec.ts';
import { encodeLoggedTxn } from '../../core/txn-codec.ts';
import type { LoggedTxn } from '../../core/txn.ts';
import { MemoryStore } from '../../storage/memory-store.ts';
import { restore } from '../../storage/restore.ts';
import { prng } from '../support/prng.ts';
import { dumpTree } from '../support/tree-dump.ts';

export class InvariantFailure extends Error {}
class TornWrite extends Error {}

interface InFlight {
  readonly deliverAt: number;
  readonly msg: PeerMessage;
}

interface Link {
  queue: InFlight[];
  lastAt: number;
}

type Outcome = { ok: true; zxid: Zxid } | { ok: false; code: string };

interface ClientOp {
  readonly id: number;
  /** The path created (for a sequential create: its prefix, until the answer names the node). */
  path: string;
  readonly node: ServerId;
  readonly at: number;
  outcome: Outcome | null;
}

class SimNode {
  tree!: DataTree;
  replica!: Replica;
  up = false;
  incarnation = 0;
  /** Fault: die during the next pump, after persisting but before sending (the process dies after an fsync). */
  dieAfterPersist = false;
  /** Fault: die in the middle of the next log append: the batch is lost whole (SQLite's torn tail is a lost transaction). */
  tornAppend = false;
  dying = false;
  runner!: EffectRunner;
  /** Deferred syncs in flight (deferred-sync worlds): each completes at `at`, if this incarnation still runs. */
  syncs: Array<{ at: number; incarnation: number; seq: number; done: (err: Error | null) => void }> = [];
  /** Whether what the server had sent before it crashed still arrives (null: the world's PRNG decides). */
  flushOnCrash: boolean | null = null;
  private nextToken = 1;
  readonly waiting = new Map<number, ClientOp>();

  constructor(readonly id: ServerId, readonly store: MemoryStore) {}

  token(): number {
    return this.nextToken++;
  }
}

export interface WorldOptions {
  readonly seed: number;
  readonly servers: number;
  /** Probability (0-1) that a delivered message is delivered twice in a row (idempotence of every handler). */
  readonly duplicate?: number;
  /** Simulated milliseconds of faults and load, then healing. */
  readonly faultMs: number;
  readonly healMs: number;
  readonly log?: (line: string) => void;
  /** The servers' tick and election finalize wait (default 100 and 30 ms: fast simulations). */
  readonly tickMs?: number;
  readonly finalizeWaitMs?: number;
  /**
   * Servers fsync their log off the event loop, as the real server does with
   * --log-sync=deferred (core/effects.ts EffectRunner over SqliteStore's deferred sync): a sync takes
   * 1-12 simulated ms while messages and ticks go on, a crash keeps only a
   * random prefix of what no sync covered, and power cuts take every server down
   * at once. Otherwise an append is durable at once.
   */
  readonly deferredSync?: boolean;
  /** Leaders send LOGGED to let followers commit without COMMIT (--direct-commit, the default: true). */
  readonly directCommit?: boolean;
}

const txnKey = (t: LoggedTxn) => Buffer.from(encodeLoggedTxn(t)).toString('base64');

export class World {
  readonly rnd: (n: number) => number;
  now = 1_000_000;
  readonly nodes = new Map<ServerId, SimNode>();
  private readonly links = new Map<string, Link>();
  private readonly blocked = new Set<string>();
  /** zxid → the transaction a leader committed with it (the one true history). */
  readonly committed = new Map<Zxid, string>();
  readonly ops: ClientOp[] = [];
  private opSeq = 0;
  readonly trace: string[] = [];
  private readonly cfgBase: Omit<ZabConfig, 'serverId' | 'incarnation'>;
  steps = 0;

  constructor(readonly opts: WorldOptions) {
    this.rnd = prng(opts.seed);
    const voters = new Set(Array.from({ length: opts.servers }, (_, i) => i + 1));
    this.cfgBase = {
      voters, tickMs: opts.tickMs ?? 100, initLimitTicks: 10, syncLimitTicks: 5, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 2000,
      maxExpiredDeletesPerTick: 100, maxDiffTxns: 40, finalizeWaitMs: opts.finalizeWaitMs ?? 30, maxNotifyIntervalMs: 400,
      directCommit: opts.directCommit ?? true,
    };
    for (const id of voters) {
      const store = new MemoryStore();
      if (opts.deferredSync) store.deferSync();
      this.nodes.set(id, new SimNode(id, store));
    }
    for (const id of voters) this.boot(id);
  }

  private say(line: string): void {
    const l = `${String(this.now - 1_000_000).padStart(7)} ${line}`;
    this.trace.push(l);
    if (this.trace.length > 400) this.trace.shift();
    this.opts.log?.(l);
  }

  private linkKey(a: ServerId, b: ServerId): string {
    return `${a}>${b}`;
  }

  /** The key of the pair {a, b} in `blocked` (a partition cuts both directions). */
  private pairKey(a: ServerId, b: ServerId): string {
    return a < b ? `${a}-${b}` : `${b}-${a}`;
  }

  connected(a: ServerId, b: ServerId): boolean {
    const na = this.nodes.get(a)!, nb = this.nodes.get(b)!;
    return na.up && nb.up && !this.blocked.has(this.pairKey(a, b));
  }

  // ---- nodes ----

  private boot(id: ServerId): void {
    const n = this.nodes.get(id)!;
    n.incarnation++;
    n.tree = restore(n.store, n.store).tree;
    n.replica = new Replica({ ...this.cfgBase, serverId: id, incarnation: n.incarnation }, n.tree, { epochs: n.store.getEpochs(), lastLoggedZxid: n.store.lastZxid(), log: n.store });
    n.replica.observer = {
      committed: (server, logged) => this.recordCommit(server, logged),
      established: (server, epoch, zxid) => this.checkPrimaryIntegrity(server, epoch, zxid),
    };
    n.syncs = [];
    n.runner = new EffectRunner(this.target(n), this.opts.deferredSync ? this.logSync(n) : null, {
      resume: () => this.pump(n),
      fail: (e) => this.fail(`${n.id}: effects failed: ${e.message}`),
    });
    n.up = true;
    this.say(`boot ${id} (incarnation ${n.incarnation}, log to ${n.store.lastZxid().toString(16)})`);
    n.replica.start(this.now);
    this.pump(n);
    for (const other of this.nodes.keys()) {
      if (other !== id && this.connected(id, other)) {
        this.nodes.get(other)!.replica.peerConnected(id, this.now);
        n.replica.peerConnected(other, this.now);
        this.pump(this.nodes.get(other)!);
      }
    }
    this.pump(n);
  }

  crash(id: ServerId): void {
    const n = this.nodes.get(id)!;
    if (!n.up) return;
    this.say(`crash ${id}`);
    // What the process had already written to its sockets may still arrive (the kernel sends it
    // before the connection's end) or not (lost with the connection): a leader that sent its
    // proposals before its own append completed (core/effects.ts) and died has followers that
    // logged them, or not.
    const flush = n.flushOnCrash ?? this.rnd(2) === 0;
    n.flushOnCrash = null;
    n.up = false;
    n.runner.stop();
    const unsynced = n.store.unsynced;
    if (unsynced > 0) {
      // a power cut: of what no fsync covered, a prefix survives (all of it when only the process died)
      const keep = this.rnd(2) === 0 ? 0 : this.rnd(unsynced + 1);
      this.say(`${id} loses ${unsynced - keep} of ${unsynced} unsynced log entries`);
      n.store.loseUnsynced(keep);
    }
    for (const op of n.waiting.values()) op.outcome ??= { ok: false, code: 'ConnectionLost' };
    n.waiting.clear();
    if (flush) this.flushFrom(id);
    for (const other of this.nodes.keys()) if (other !== id) this.breakLink(id, other);
  }

  /** Delivers now, in order, every message still in flight from a server that has just crashed. */
  private flushFrom(id: ServerId): void {
    for (const [k, l] of this.links) {
      const [a, b] = k.split('>').map(Number) as [number, number];
      if (a !== id || l.queue.length === 0 || this.held.has(k) || this.blocked.has(this.pairKey(a, b))) continue;
      const msgs = l.queue.map((f) => f.msg);
      l.queue = [];
      const n = this.nodes.get(b)!;
      this.say(`${msgs.length} message(s) from ${id} still reach ${b}`);
      for (const msg of msgs) {
        if (!n.up) break;
        n.replica.step(a, msg, this.now);
        this.pump(n);
      }
    }
  }

  restart(id: ServerId): void {
    if (this.nodes.get(id)!.up) return;
    this.boot(id);
  }

  private breakLink(a: ServerId, b: ServerId): void {
    for (const [x, y] of [[a, b], [b, a]] as const) {
      const l = this.links.get(this.linkKey(x, y));
      if (l) l.queue = [];
      const n = this.nodes.get(y)!;
      if (n.up) {
        n.replica.peerDisconnected(x, this.now);
        this.pump(n);
      }
    }
  }

  partition(a: ServerId, b: ServerId): void {
    const k = this.pairKey(a, b);
    if (this.blocked.has(k)) return;
    const was = this.connected(a, b);
    this.blocked.add(k);
    this.say(`partition ${a}|${b}`);
    if (was) this.breakLink(a, b);
  }

  heal(a: ServerId, b: ServerId): void {
    const k = this.pairKey(a, b);
    if (!this.blocked.delete(k)) return;
    this.say(`heal ${a}|${b}`);
    if (this.connected(a, b)) {
      for (const [x, y] of [[a, b], [b, a]] as const) {
        const n = this.nodes.get(x)!;
        n.replica.peerConnected(y, this.now);
        this.pump(n);
      }
    }
  }

  // ---- the driver of one simulated server ----

  private target(n: SimNode): EffectTarget {
    const append = (txns: readonly LoggedTxn[]) => {
      if (n.tornAppend) {
        n.tornAppend = false;
        n.dying = true;
        this.say(`${n.id} dies in the middle of appending ${txns.length} transactions (lost)`);
        throw new TornWrite();
      }
      for (const t of txns) this.recordProposed(n.id, t);
      n.store.append(txns);
    };
    const log = new Proxy(n.store, {
      get: (t, p) => {
        if (p === 'append') return append;
        const v = (t as unknown as Record<string | symbol, unknown>)[p];
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    return {
      log, epochs: n.store, snapshots: n.store, tree: n.tree, replica: n.replica,
      reloadTree: () => n.tree.loadFrom(restore(n.store, n.store).tree),
      send: (sends) => {
        if (n.dieAfterPersist) n.dying = true;
        if (!n.dying) this.send(n, sends);
      },
      committed: (token, applied) => { if (!n.dying) this.answered(n, token, applied, null); },
      replied: (r) => { if (!n.dying) this.answered(n, r.token, null, 'error' in r ? r.error : null); },
    };
  }

  /** The simulated disk's deferred fsync: it covers what was written when it started. */
  private logSync(n: SimNode): LogSync {
    return {
      sync: (done) => { n.syncs.push({ at: this.now + 1 + this.rnd(12), incarnation: n.incarnation, seq: n.store.writeSeq, done }); },
      syncNow: () => n.store.markDurable(),
    };
  }

  private completeSyncs(): void {
    for (const n of this.nodes.values()) {
      while (n.syncs.length > 0 && n.syncs[0]!.at <= this.now) {
        const s = n.syncs.shift()!;
        if (!n.up || s.incarnation !== n.incarnation) continue;
        n.store.markDurable(s.seq);
        s.done(null);
      }
    }
  }

  /** Deferred sync: a server applies (and answers) nothing its own log does not hold durably. */
  private checkAppliedDurable(): void {
    for (const n of this.nodes.values()) {
      if (n.up && n.tree.lastProcessedZxid > n.store.lastDurableZxid()) {
        this.fail(`${n.id} applied ${n.tree.lastProcessedZxid.toString(16)} but its log is durable only to ${n.store.lastDurableZxid().toString(16)}`);
      }
    }
  }

  pump(n: SimNode): void {
    if (!n.up) return;
    try {
      n.runner.drain();
    } catch (e) {
      if (!(e instanceof TornWrite)) throw e;
    }
    if (n.dying) {
      n.dying = false;
      n.dieAfterPersist = false;
      this.say(`${n.id} dies after an fsync, before sending`);
      this.crash(n.id);
    }
  }

  private send(from: SimNode, sends: readonly Send[]): void {
    for (const s of sends) {
      if (!this.connected(from.id, s.to)) continue;
      let msg = s.msg;
      if (msg.type === 'SNAP') msg = { ...msg, chunks: snapshotChunks(from.tree, 3) };
      if (msg.type === 'PROPOSAL' && msg.origin !== null) this.recordOrigin(from.id, msg.txn.zxid, msg.origin);
      const k = this.linkKey(from.id, s.to);
      let l = this.links.get(k);
      if (!l) this.links.set(k, (l = { queue: [], lastAt: 0 }));
      const at = Math.max(this.now + 1 + this.rnd(8), l.lastAt);
      l.lastAt = at;
      l.queue.push({ deliverAt: at, msg });
    }
  }

  private deliverDue(): void {
    for (const [k, l] of this.links) {
      const [a, b] = k.split('>').map(Number) as [number, number];
      if (this.held?.has(k)) continue;
      while (l.queue.length > 0 && l.queue[0]!.deliverAt <= this.now) {
        const { msg } = l.queue.shift()!;
        const n = this.nodes.get(b)!;
        if (!n.up || !this.connected(a, b)) continue;
        n.replica.step(a, msg, this.now);
        this.pump(n);
        if (this.opts.duplicate && n.up && this.connected(a, b) && this.rnd(1000) < this.opts.duplicate * 1000) {
          n.replica.step(a, msg, this.now);
          this.pump(n);
        }
      }
    }
  }

  // ---- clients ----

  private answered(n: SimNode, token: number | null, applied: Applied | null, error: ZkError | null): void {
    if (token === null) return;
    const op = n.waiting.get(token);
    if (!op) return;
    n.waiting.delete(token);
    if (error) op.outcome = { ok: false, code: error.code };
    else op.outcome = { ok: true, zxid: applied!.zxid };
    if (applied !== null && applied.result.op === 'create') op.path = applied.result.path;
    if (op.outcome.ok && !this.committed.has(op.outcome.zxid)) {
      this.fail(`write ${op.path} acknowledged by ${n.id} at ${op.outcome.zxid.toString(16)} but never committed`);
    }
  }

  /** A client write to `node`: a create of a fresh path, or `given` (a scripted request on `given.path`). */
  submit(node: ServerId, given?: WriteRequest & { path: string }): void {
    const n = this.nodes.get(node)!;
    if (!n.up) return;
    const id = ++this.opSeq;
    const path = given?.path ?? `/w${id}`;
    const op: ClientOp = { id, path, node, at: this.now, outcome: null };
    this.ops.push(op);
    const token = n.token();
    n.waiting.set(token, op);
    // Where deliveries are duplicated, some creates are sequential: a copy of one that the leader
    // took twice would succeed twice (recordOrigin catches it); a copy of a plain create fails.
    const sequential = given === undefined && this.opts.duplicate !== undefined && this.opts.duplicate > 0 && this.rnd(4) === 0;
    const req: WriteRequest = given ?? (sequential
      ? { op: 'create', path: `${path}-`, data: new Uint8Array([id & 255]), acl: null, mode: 'persistent_sequential', ttlMs: null }
      : this.rnd(5) === 0
      ? { op: 'multi', ops: [{ op: 'create', path, data: new Uint8Array([id & 255]), acl: null, mode: 'persistent', ttlMs: null }, { op: 'create', path: `${path}-b`, data: new Uint8Array(), acl: null, mode: 'persistent', ttlMs: null }] }
      : { op: 'create', path, data: new Uint8Array([id & 255]), acl: null, mode: 'persistent', ttlMs: null });
    n.replica.submit(req, { sessionId: null, auth: [] }, token, this.now);
    this.pump(n);
  }

  // ---- invariants ----

  fail(why: string): never {
    throw new InvariantFailure(`seed ${this.opts.seed} at t=${this.now - 1_000_000} step ${this.steps}: ${why}\n--- last events ---\n${this.trace.slice(-60).join('\n')}`);
  }

  /** Transactions a follower found committed (LOGGED: it and the leader hold them) before any COMMIT said so. */
  followerCommitted = 0;

  /**
   * Agreement and Integrity: one transaction per zxid, ever; commits in increasing zxid order per
   * leader. Followers report the commits they decide themselves (LOGGED); PrimaryIntegrity then checks
   * that every later leader holds those too.
   */
  private recordCommit(server: ServerId, logged: LoggedTxn): void {
    if (this.nodes.get(server)!.replica.leader === null) this.followerCommitted++;
    const key = txnKey(logged);
    const prev = this.committed.get(logged.zxid);
    if (prev !== undefined && prev !== key) this.fail(`zxid ${logged.zxid.toString(16)} committed twice with different transactions (by ${server})`);
    this.committed.set(logged.zxid, key);
  }

  /** zxid → the one transaction ever logged with it, by anyone (a leader assigns each zxid of its epoch once). */
  private readonly proposed = new Map<Zxid, string>();
  /** The highest zxid up to which an established leader's history came as a snapshot (SNAP), not as log entries. */
  private snapshotHistoryUpTo = 0;

  private recordProposed(server: ServerId, t: LoggedTxn): void {
    const key = txnKey(t);
    const prev = this.proposed.get(t.zxid);
    if (prev !== undefined && prev !== key) this.fail(`server ${server} logged a different transaction at ${t.zxid.toString(16)} than one logged before`);
    this.proposed.set(t.zxid, key);
  }

  /** "epoch:server:incarnation:reqId" of a forwarded request → the zxid its epoch's leader proposed for it. */
  private readonly proposedFor = new Map<string, Zxid>();

  /** A forwarded request is proposed once per leadership, however often its REQUEST was delivered. */
  private recordOrigin(leader: ServerId, zxid: Zxid, o: { server: ServerId; incarnation: number; reqId: number }): void {
    const key = `${epochOf(zxid)}:${o.server}:${o.incarnation}:${o.reqId}`;
    const prev = this.proposedFor.get(key);
    if (prev !== undefined && prev !== zxid) this.fail(`leader ${leader} proposed request ${o.reqId} of server ${o.server} twice: at ${prev.toString(16)} and ${zxid.toString(16)}`);
    this.proposedFor.set(key, zxid);
  }

  /** Which server established each epoch: at most one per epoch. */
  readonly establishedBy = new Map<number, ServerId>();

  /** PrimaryIntegrity: a new leader's history holds everything committed before it. */
  private checkPrimaryIntegrity(server: ServerId, epoch: number, zxid: Zxid): void {
    const n = this.nodes.get(server)!;
    this.say(`${server} established epoch ${epoch} at ${zxid.toString(16)}`);
    const other = this.establishedBy.get(epoch);
    if (other !== undefined && other !== server) this.fail(`two leaders established epoch ${epoch}: ${other} and ${server}`);
    this.establishedBy.set(epoch, server);
    const mine = new Map(n.store.readAfter(0, 1e9).map((t) => [t.zxid, txnKey(t)]));
    for (const p of (n.replica.leader as unknown as { notDurable: LoggedTxn[] }).notDurable ?? []) mine.set(p.zxid, txnKey(p));
    const snapshotted = n.store.purgedUpTo(); // history up to here came as a snapshot (SNAP), not as log entries
    for (const [z, key] of this.committed) {
      if (z > zxid) this.fail(`leader ${server} of epoch ${epoch} starts at ${zxid.toString(16)} but ${z.toString(16)} was committed`);
      if (z > snapshotted && mine.get(z) !== key) this.fail(`leader ${server} of epoch ${epoch} lacks committed ${z.toString(16)}`);
    }
    // everything in its history is committed now
    for (const [z, key] of mine) if (z <= zxid) this.committed.set(z, key);
    this.snapshotHistoryUpTo = Math.max(this.snapshotHistoryUpTo, snapshotted);
  }

  /** A serving server's applied state is exactly the committed history up to its zxid (PrefixConsistency). */
  checkServing(): void {
    for (const n of this.nodes.values()) {
      if (!n.up || !n.replica.serving) continue;
      const upTo = n.tree.lastProcessedZxid;
      const log = n.store.readAfter(0, 1e9).filter((t) => t.zxid <= upTo);
      const inLog = new Set<Zxid>();
      for (const t of log) {
        inLog.add(t.zxid);
        const c = this.committed.get(t.zxid);
        // Below a leader's snapshot point its history is a tree, not a list of transactions: a
        // transaction there is accepted if it is the one ever logged with its zxid (and checkFinal
        // compares the trees themselves).
        if (c === undefined && t.zxid <= this.snapshotHistoryUpTo && this.proposed.get(t.zxid) === txnKey(t)) continue;
        if (c === undefined) this.fail(`server ${n.id} serves having applied ${t.zxid.toString(16)}, which was never committed`);
        if (c !== txnKey(t)) this.fail(`server ${n.id} applied a different transaction at ${t.zxid.toString(16)}`);
      }
      for (const z of this.committed.keys()) if (z <= upTo && !inLog.has(z) && z > n.store.purgedUpTo()) this.fail(`server ${n.id} serves at ${upTo.toString(16)} without committed ${z.toString(16)}`);
    }
  }

  // ---- the run ----

  private step(): void {
    this.steps++;
    this.now += 1 + this.rnd(5);
    this.deliverDue();
    this.completeSyncs();
    if (this.opts.deferredSync) this.checkAppliedDurable();
    if (this.now % 25 < 5) {
      for (const n of this.nodes.values()) {
        if (!n.up) continue;
        n.replica.tick(this.now);
        this.pump(n);
      }
    }
  }

  private randomFault(): void {
    const ids = [...this.nodes.keys()];
    const pick = () => ids[this.rnd(ids.length)]!;
    const r = this.rnd(100);
    const down = ids.filter((i) => !this.nodes.get(i)!.up);
    if (r < 25) {
      // crash the leader more often than anyone else
      const leader = ids.find((i) => this.nodes.get(i)!.up && this.nodes.get(i)!.replica.state === 'LEADING');
      if (down.length < Math.floor((ids.length - 1) / 2) + 1) this.crash(leader !== undefined && this.rnd(2) === 0 ? leader : pick());
    } else if (r < 50) {
      if (down.length > 0) this.restart(down[this.rnd(down.length)]!);
    } else if (r < 70) {
      const a = pick(), b = pick();
      if (a !== b) this.partition(a, b);
    } else if (r < 90) {
      const a = pick(), b = pick();
      if (a !== b) this.heal(a, b);
    } else if (r < 93) {
      const a = pick();
      if (this.nodes.get(a)!.up && down.length < Math.floor((ids.length - 1) / 2) + 1) this.nodes.get(a)!.dieAfterPersist = true;
    } else if (r < 96) {
      const a = pick();
      if (this.nodes.get(a)!.up && down.length < Math.floor((ids.length - 1) / 2) + 1) this.nodes.get(a)!.tornAppend = true;
    } else if (this.opts.deferredSync) {
      // a power cut: every server at once, each keeping only part of what it had not synced
      this.say('power cut');
      for (const id of ids) this.crash(id);
    } else {
      // isolate one server from everyone
      const a = pick();
      for (const b of ids) if (b !== a) this.partition(a, b);
    }
  }

  run(): void {
    const end = this.now + this.opts.faultMs;
    let nextFault = this.now + 200 + this.rnd(600);
    while (this.now < end) {
      this.step();
      if (this.now >= nextFault) {
        this.randomFault();
        nextFault = this.now + 50 + this.rnd(900);
      }
      if (this.rnd(4) === 0) this.submit(1 + this.rnd(this.opts.servers));
      if (this.steps % 50 === 0) this.checkServing();
    }
    // heal the world
    this.say('--- heal ---');
    for (const n of this.nodes.values()) {
      n.dieAfterPersist = false;
      n.tornAppend = false;
    }
    for (const id of this.nodes.keys()) this.restart(id);
    for (const a of this.nodes.keys()) for (const b of this.nodes.keys()) if (a < b) this.heal(a, b);
    const healEnd = this.now + this.opts.healMs;
    while (this.now < healEnd && !this.settled()) {
      this.step();
      if (this.steps % 50 === 0) this.checkServing();
    }
    if (!this.settled()) this.fail(`no stable leader with every server following within ${this.opts.healMs} ms of healing: ${this.describe()}`);
    // a write goes through
    const probe = this.ops.length;
    const leader = [...this.nodes.values()].find((n) => n.replica.state === 'LEADING')!;
    this.submit(leader.id);
    const writeEnd = this.now + 3000;
    while (this.now < writeEnd && this.ops[probe]!.outcome === null) this.step();
    const o = this.ops[probe]!.outcome;
    if (!o || !o.ok) this.fail(`after healing, a write was not acknowledged: ${JSON.stringify(o)}`);
    // every follower catches up with everything the leader committed
    const catchEnd = this.now + 3000;
    const quiet = () => leader.replica.pendingCount === 0 && [...this.nodes.values()].every((n) => n.tree.lastProcessedZxid === leader.tree.lastProcessedZxid);
    while (this.now < catchEnd && !(quiet() && [...this.nodes.values()].every((n) => n.tree.lastProcessedZxid >= o.zxid))) this.step();
    this.checkServing();
    this.checkFinal();
  }

  // ---- for scripted scenarios ----

  /** Advances simulated time (messages, ticks) by `ms`. */
  runFor(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) this.step();
    this.checkServing();
  }

  /** Advances until `cond` holds, failing after `ms`. */
  runUntil(what: string, cond: () => boolean, ms = 10_000): void {
    const end = this.now + ms;
    while (!cond()) {
      if (this.now > end) this.fail(`timed out waiting for ${what}: ${this.describe()}`);
      this.step();
    }
    this.checkServing();
  }

  leader(): ServerId | null {
    const ls = [...this.nodes.values()].filter((n) => n.up && n.replica.state === 'LEADING' && n.replica.serving);
    return ls.length === 1 ? ls[0]!.id : null;
  }

  node(id: ServerId): SimNode {
    return this.nodes.get(id)!;
  }

  /** Holds back every message from a to b (for a while: the link stays up, nothing arrives). */
  private readonly held = new Set<string>();
  hold(a: ServerId, b: ServerId): void {
    this.held.add(this.linkKey(a, b));
  }
  release(a: ServerId, b: ServerId): void {
    this.held.delete(this.linkKey(a, b));
  }

  /** Heals everything, restarts everyone, waits for a stable leader, checks the final state. */
  finish(): void {
    for (const id of this.nodes.keys()) this.restart(id);
    for (const a of this.nodes.keys()) for (const b of this.nodes.keys()) if (a < b) this.heal(a, b);
    this.held.clear();
    this.runUntil('a stable ensemble', () => this.settled(), this.opts.healMs);
    const leader = this.leader()!;
    const probe = this.ops.length;
    this.submit(leader);
    this.runUntil('a write after healing', () => this.ops[probe]!.outcome !== null, 3000);
    if (!this.ops[probe]!.outcome!.ok) this.fail('a write after healing failed');
    this.runUntil('followers to catch up', () => [...this.nodes.values()].every((n) => n.tree.lastProcessedZxid === this.node(leader).tree.lastProcessedZxid), 3000);
    this.checkFinal();
  }

  private settled(): boolean {
    const ns = [...this.nodes.values()];
    return ns.every((n) => n.up && n.replica.serving) && ns.filter((n) => n.replica.state === 'LEADING').length === 1;
  }

  describe(): string {
    return [...this.nodes.values()].map((n) => `${n.id}:${n.up ? n.replica.state : 'DOWN'}${n.replica?.serving ? '*' : ''}@${n.tree?.lastProcessedZxid.toString(16)}`).join(' ');
  }

  /** Durability and agreement at the end: every server has the same tree; every acknowledged write is in it; writes refused with NoQuorum are not. */
  checkFinal(): void {
    const trees = [...this.nodes.values()].map((n) => JSON.stringify(dumpTree(n.tree)));
    for (let i = 1; i < trees.length; i++) if (trees[i] !== trees[0]) this.fail(`servers 1 and ${i + 1} disagree after healing`);
    const tree = this.nodes.get(1)!.tree;
    for (const op of this.ops) {
      if (op.outcome?.ok && !tree.get(op.path)) this.fail(`acknowledged ${op.path} (zxid ${op.outcome.zxid.toString(16)}) is lost`);
      if (op.outcome && !op.outcome.ok && op.outcome.code === 'NoQuorum' && tree.get(op.path)) this.fail(`${op.path} was refused with NoQuorum but applied`);
      // generated creates are of fresh paths: NodeExists means the request was processed twice
      if (op.outcome && !op.outcome.ok && op.outcome.code === 'NodeExists' && /^\/w\d+$/.test(op.path)) this.fail(`${op.path}, a fresh path, was refused with NodeExists`);
    }
  }

  summary(): { acked: number; failed: Record<string, number>; committed: number; followerCommitted: number; steps: number } {
    const failed: Record<string, number> = {};
    let acked = 0;
    for (const op of this.ops) {
      if (op.outcome?.ok) acked++;
      else if (op.outcome) failed[op.outcome.code] = (failed[op.outcome.code] ?? 0) + 1;
    }
    return { acked, failed, committed: this.committed.size, followerCommitted: this.followerCommitted, steps: this.steps };
  }
}
