/**
 * Locks, as ZooKeeper's recipes page and Apache Curator describe them, on a
 * `ZooGateSession` (ephemeral nodes + one-shot watches):
 *
 * - `SimpleLock`: one ephemeral node at the lock path; whoever creates it
 *   holds the lock. Waiters watch that node and race to create it again when
 *   it goes (with a random pause to spread the race). Not fair and not
 *   herd-free: for a few contenders, or as the smallest thing that works.
 * - `Mutex` (Curator's InterProcessMutex, ZooKeeper's "Locks" recipe): an
 *   `ephemeral_sequential` node per contender under the lock path; the lowest
 *   holds the lock, every other watches only the node just below its own, so a
 *   release wakes exactly one waiter (no herd), in arrival order (fair).
 * - `ReadWriteLock` (Curator's InterProcessReadWriteLock, the "Shared Locks"
 *   recipe): `read-` and `write-` nodes in one queue; a reader waits for the
 *   nearest lower writer, a writer for the node just below its own.
 * - `Semaphore` (Curator's InterProcessSemaphoreV2): N leases, each an
 *   ephemeral node under `<path>/leases`, handed out under a `Mutex` at
 *   `<path>/locks` so that only the one contender at the head of the queue
 *   watches the leases (no herd).
 *
 * Common behaviour:
 * - `acquire({ timeoutMs, signal })` resolves `true` once held, `false` when
 *   `timeoutMs` passed first (`timeoutMs: 0` tries once without waiting), and
 *   rejects with the signal's reason when it aborts, or with `SessionExpired`
 *   / `SessionClosed` when the session ends. A contender that gives up deletes
 *   its node.
 * - A lost answer to the create (ConnectionLoss) is handled as Curator does:
 *   node names start with `_c_<GUID>-`, and the contender finds its own node
 *   by the GUID instead of leaving an orphan that would block the lock.
 * - Lock directories are containers: the server removes them once empty.
 * - **Losing the lock.** Nodes are ephemeral: when the holder's session
 *   expires they go, and the next contender gets the lock. The holder learns
 *   it through `onLost(fn)` and `signal` (aborted), once the client sees the
 *   session expire. The client sees that no earlier than the server decides
 *   it (a session cut off declares itself Expired one session timeout after it
 *   last heard from a node; the server expires it one timeout after it last
 *   heard from the client), so a holder that is paused or partitioned can
 *   briefly believe it still holds a lock that another has taken, as with
 *   ZooKeeper and Curator. Work that must never overlap should carry
 *   `fencingToken` (the lock node's czxid: it grows with every acquisition)
 *   to the resource it protects, which refuses a token lower than one it has
 *   seen. A Disconnected session is not a lost lock: the session moves to
 *   another node with its ephemerals (ZooGate's nodes share sessions).
 * - **Not re-entrant.** Curator's InterProcessMutex is re-entrant per thread;
 *   JavaScript has no threads, and re-entrancy per instance would let two
 *   async tasks sharing an instance both in. An instance holds the lock at
 *   most once: `acquire` on an instance that holds or is acquiring it throws.
 *   Use one instance per task (instances in one session exclude each other
 *   like any two contenders).
 * - `release()` deletes the node (sending the delete again if its answer was
 *   lost); it resolves at once when the lock is not held (or was lost).
 */
import { randomUUID } from 'node:crypto';
import { ZooGateError } from '../errors.ts';
import type { ZooGateSession } from '../session.ts';
import type { DataInput } from '../types.ts';
import {
  awaitChangeOf,
  awaitWatch, backoffMs, checkAbort, checkBasePath, createInContainer, createProtected, deleteOwned, deleteQuietly, errorCode, expired, join,
  Listeners, nameOf, outcomeUnknown, retryable, sessionEnded, sessionEndedError, sleep, sortedBySequence, unprotected, untilOf, waitUntil,
  watchSessionLoss, type Until, type WaitOptions,
} from './lock-internals.ts';

export type { WaitOptions } from './lock-internals.ts';

/** What every lock here offers. */
export interface Lock {
  /** Resolves true once held, false if `timeoutMs` passed first; rejects on abort or when the session ends. */
  acquire(opts?: WaitOptions): Promise<boolean>;
  /** Lets go (deletes the lock node); resolves at once if not held. */
  release(): Promise<void>;
  /** Held, as far as this client knows (false once the loss of the session is seen). */
  readonly isHeld: boolean;
  /** The lock node while held. */
  readonly node: string | null;
  /** The lock node's czxid while held: unique, and larger for every later acquisition (a fencing token). */
  readonly fencingToken: number | null;
  /** Aborted when the lock held is lost (the session expired or was closed). A fresh signal per acquisition. */
  readonly signal: AbortSignal;
  /** Called when a lock held is lost; returns the function that removes the listener. */
  onLost(fn: (reason: ZooGateError) => void): () => void;
}

export interface LockOptions {
  /** The lock node's data (say, who holds it, for operators); empty by default. */
  data?: DataInput;
}

const NOT_HELD = AbortSignal.abort(new ZooGateError('NoNode', 'the lock is not held'));

/** Who a sequential contender waits for: null if it holds the lock, else the name of the node to watch. */
type Driver = (sorted: readonly string[], ourIndex: number) => string | null;

/** The fair lock's rule: the lowest holds, every other waits for the node just below it. */
const predecessor: Driver = (sorted, i) => (i === 0 ? null : sorted[i - 1]!);

/** The holding state shared by the locks: the node, the loss watch, the signal. */
class Holding {
  private ctl: AbortController | null = null;
  private offLoss: (() => void) | null = null;
  private readonly lostListeners = new Listeners<(reason: ZooGateError) => void>();
  node: string | null = null;
  czxid: number | null = null;
  version = 0;

  get signal(): AbortSignal {
    return this.ctl?.signal ?? NOT_HELD;
  }

  onLost(fn: (reason: ZooGateError) => void): () => void {
    return this.lostListeners.add(fn);
  }

  hold(session: ZooGateSession, node: string, czxid: number, version = 0): void {
    this.node = node;
    this.czxid = czxid;
    this.version = version;
    this.ctl = new AbortController();
    const ctl = this.ctl;
    this.offLoss = watchSessionLoss(session, (reason) => {
      if (this.ctl !== ctl) return;
      this.node = null;
      this.czxid = null;
      this.offLoss = null;
      ctl.abort(reason);
      this.lostListeners.emit(reason);
    });
  }

  /** Stops holding; returns the node to delete (null if not held). */
  letGo(): string | null {
    const node = this.node;
    this.offLoss?.();
    this.offLoss = null;
    this.ctl = null;
    this.node = null;
    this.czxid = null;
    return node;
  }
}

/** What every lock shows of its holding: the node, the fencing token, the loss signal. */
abstract class HeldLock {
  protected readonly holding = new Holding();

  get isHeld(): boolean {
    return this.holding.node !== null;
  }
  get node(): string | null {
    return this.holding.node;
  }
  get fencingToken(): number | null {
    return this.holding.czxid;
  }
  get signal(): AbortSignal {
    return this.holding.signal;
  }
  onLost(fn: (reason: ZooGateError) => void): () => void {
    return this.holding.onLost(fn);
  }
}

/**
 * A contender in a queue of sequential nodes under `path` (the common part
 * of Mutex and the two sides of ReadWriteLock; Curator's LockInternals).
 */
class SequentialLock extends HeldLock implements Lock {
  readonly path: string;
  private acquiring = false;

  protected constructor(
    readonly session: ZooGateSession,
    path: string,
    private readonly lockName: string,
    private readonly queueNames: readonly string[],
    private readonly driver: Driver,
    private readonly data: DataInput | undefined,
  ) {
    super();
    this.path = checkBasePath(path);
  }

  async acquire(opts: WaitOptions = {}): Promise<boolean> {
    if (this.acquiring || this.isHeld) {
      throw new ZooGateError('BadArguments', `${this.path}: this instance ${this.isHeld ? 'holds the lock' : 'is acquiring it'} already (not re-entrant: one instance per task)`);
    }
    const until = untilOf(opts);
    checkAbort(until);
    if (sessionEnded(this.session)) throw sessionEndedError(this.session);
    this.acquiring = true;
    let ours: string | null = null;
    try {
      const created = await createProtected(this.session, this.path, this.lockName, this.data, 'ephemeral_sequential');
      ours = created.path;
      if (!(await this.waitForTurn(ours, until))) {
        await deleteQuietly(this.session, ours);
        return false;
      }
      this.holding.hold(this.session, ours, created.stat.czxid);
      return true;
    } catch (e) {
      // given up (aborted, session over, an error): the node must not block the others
      if (ours !== null) await deleteQuietly(this.session, ours);
      throw e;
    } finally {
      this.acquiring = false;
    }
  }

  /** ZooKeeper's lock loop: list the queue; hold it, or watch the one node we wait for and list again when it changes. */
  private async waitForTurn(ours: string, until: Until): Promise<boolean> {
    const me = nameOf(ours);
    for (;;) {
      checkAbort(until);
      const sorted = sortedBySequence((await this.session.children(this.path)).children, this.queueNames);
      const i = sorted.indexOf(me);
      if (i < 0) throw new ZooGateError('NoNode', `the lock node ${ours} is gone (deleted by someone else, or its session ended)`, { path: ours });
      const blocker = this.driver(sorted, i);
      if (blocker === null) return true;
      if (expired(until)) return false;
      const fired = await awaitChangeOf(this.session, join(this.path, blocker), until);
      if (!fired) return false;
    }
  }

  async release(): Promise<void> {
    const node = this.holding.letGo();
    if (node !== null) await deleteOwned(this.session, node);
  }

  /** The nodes queued for this lock, in order (the holder first): Curator's getParticipantNodes. */
  async participantNodes(): Promise<string[]> {
    try {
      return sortedBySequence((await this.session.children(this.path)).children, this.queueNames).map((n) => join(this.path, n));
    } catch (e) {
      if (errorCode(e) === 'NoNode') return [];
      throw e;
    }
  }
}

/**
 * A fair, herd-free distributed mutex (Curator's InterProcessMutex, minus
 * re-entrancy): `ephemeral_sequential` nodes `_c_<guid>-lock-N` under `path`,
 * the lowest holds the lock, each waiter watches only its predecessor.
 *
 * ```ts
 * const lock = new Mutex(session, '/locks/orders');
 * if (await lock.acquire({ timeoutMs: 5000 })) {
 *   try { await work(lock.signal); } finally { await lock.release(); }
 * }
 * ```
 */
export class Mutex extends SequentialLock {
  constructor(session: ZooGateSession, path: string, opts: LockOptions = {}) {
    super(session, path, 'lock-', ['lock-'], predecessor, opts.data);
  }
}

const READ = 'read-';
const WRITE = 'write-';

/**
 * A fair read/write lock (Curator's InterProcessReadWriteLock, ZooKeeper's
 * shared locks): `read-` and `write-` sequential nodes in one queue under
 * `path`. A reader holds the lock once no writer is ahead of it and waits on
 * the nearest writer ahead; a writer holds it once it is first and waits on
 * the node just ahead of it. Readers hold it together; a writer alone. Both
 * sides are `Lock`s with the common behaviour (not re-entrant, no upgrade or
 * downgrade: a writer that wants to read takes nothing more).
 */
export class ReadWriteLock {
  readonly readLock: Lock & { participantNodes(): Promise<string[]> };
  readonly writeLock: Lock & { participantNodes(): Promise<string[]> };

  constructor(session: ZooGateSession, path: string, opts: LockOptions = {}) {
    const nearestWriterAhead: Driver = (sorted, i) => {
      for (let j = i - 1; j >= 0; j--) if (unprotected(sorted[j]!).startsWith(WRITE)) return sorted[j]!;
      return null;
    };
    this.readLock = new QueueSide(session, path, READ, nearestWriterAhead, opts.data);
    this.writeLock = new QueueSide(session, path, WRITE, predecessor, opts.data);
  }
}

class QueueSide extends SequentialLock {
  constructor(session: ZooGateSession, path: string, name: string, driver: Driver, data: DataInput | undefined) {
    super(session, path, name, [READ, WRITE], driver, data);
  }
}

export interface SimpleLockOptions {
  /**
   * When the holder lets go, every waiter hears it (this lock is not
   * herd-free); each waits a random 0 to `retryJitterMs` ms before trying to
   * create the node again, so they do not all reach the leader at once
   * (default 10).
   */
  retryJitterMs?: number;
}

/**
 * The simplest lock: create the ephemeral node `path`; whoever succeeds holds
 * the lock. A contender that finds it taken (NodeExists) watches it and tries
 * again when it goes. The node's data is a random token of this instance, so
 * a create whose answer was lost is recognised as ours. Not fair and not
 * herd-free (every waiter wakes on each release): prefer `Mutex` for more
 * than a few contenders.
 */
export class SimpleLock extends HeldLock implements Lock {
  readonly path: string;
  private readonly token = randomUUID();
  private readonly retryJitterMs: number;
  private acquiring = false;

  constructor(readonly session: ZooGateSession, path: string, opts: SimpleLockOptions = {}) {
    super();
    this.path = checkBasePath(path);
    this.retryJitterMs = opts.retryJitterMs ?? 10;
  }

  async acquire(opts: WaitOptions = {}): Promise<boolean> {
    if (this.acquiring || this.isHeld) {
      throw new ZooGateError('BadArguments', `${this.path}: this instance ${this.isHeld ? 'holds the lock' : 'is acquiring it'} already (not re-entrant: one instance per task)`);
    }
    const until = untilOf(opts);
    this.acquiring = true;
    try {
      for (;;) {
        checkAbort(until);
        if (sessionEnded(this.session)) throw sessionEndedError(this.session);
        const got = await this.tryCreate();
        if (got !== null) {
          this.holding.hold(this.session, this.path, got.czxid, got.version);
          return true;
        }
        if (expired(until)) return false;
        const fired = await awaitChangeOf(this.session, this.path, until); // gone already: try again now
        if (!fired) return false;
        if (this.retryJitterMs > 0) {
          const pause = sleep(Math.random() * this.retryJitterMs);
          if (!(await waitUntil(this.session, pause, until))) return false;
        }
      }
    } finally {
      this.acquiring = false;
    }
  }

  /** One attempt: the Stat if we now hold the node, null if someone else does. */
  private async tryCreate(): Promise<{ czxid: number; version: number } | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await createInContainer(this.session, this.path, this.token, 'ephemeral');
        return { czxid: r.stat.czxid, version: r.stat.version };
      } catch (e) {
        if (errorCode(e) === 'NodeExists') {
          // ours, if an earlier attempt's answer was lost and it was applied after all
          return this.ours();
        }
        if (outcomeUnknown(e) || retryable(e)) {
          if (attempt >= 20) throw e;
          await sleep(backoffMs(attempt));
          const mine = await this.ours(true);
          if (mine !== null) return mine;
          continue;
        }
        throw e;
      }
    }
  }

  /** The node's Stat if it is this instance's (our session owns it and it holds our token). */
  private async ours(sync = false): Promise<{ czxid: number; version: number } | null> {
    if (sync) await this.session.sync(this.path);
    try {
      const { data, stat } = await this.session.get(this.path, { as: 'utf8' });
      return stat.ephemeralOwner === this.session.sessionId && data === this.token ? { czxid: stat.czxid, version: stat.version } : null;
    } catch (e) {
      if (errorCode(e) === 'NoNode') return null;
      throw e;
    }
  }

  async release(): Promise<void> {
    const version = this.holding.version;
    if (this.holding.letGo() === null) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.delete(this.path, { version });
        return;
      } catch (e) {
        const code = errorCode(e);
        if (code === 'NoNode' || code === 'SessionExpired' || code === 'SessionClosed') return;
        if ((outcomeUnknown(e) || retryable(e)) && attempt < 50) {
          // the node's name is not unique: delete it again only if it is still ours (someone may hold it now)
          await sleep(backoffMs(attempt));
          if ((await this.ours(true)) === null) return;
          continue;
        }
        throw e;
      }
    }
  }
}

/** A lease of a `Semaphore`: its node is ephemeral, so a holder that dies frees it when its session expires. */
export interface Lease {
  /** The lease's node. */
  readonly node: string;
  /** Held, as far as this client knows. */
  readonly isHeld: boolean;
  /** Aborted when the lease is lost (its session expired or was closed). */
  readonly signal: AbortSignal;
  onLost(fn: (reason: ZooGateError) => void): () => void;
  /** Gives the lease back (deletes its node); idempotent. */
  close(): Promise<void>;
}

class SemaphoreLease implements Lease {
  private readonly holding = new Holding();

  constructor(private readonly session: ZooGateSession, readonly node: string, czxid: number) {
    this.holding.hold(session, node, czxid);
  }

  get isHeld(): boolean {
    return this.holding.node !== null;
  }
  get signal(): AbortSignal {
    return this.holding.signal;
  }
  onLost(fn: (reason: ZooGateError) => void): () => void {
    return this.holding.onLost(fn);
  }
  async close(): Promise<void> {
    const node = this.holding.letGo();
    if (node !== null) await deleteOwned(this.session, node);
  }
}

/**
 * A counting semaphore with leases (Curator's InterProcessSemaphoreV2): at
 * most `maxLeases` leases are out at once, across every client of `path`.
 * Leases are `ephemeral_sequential` nodes under `<path>/leases`; a contender
 * takes the `Mutex` at `<path>/locks` first, so only the head of that fair,
 * herd-free queue watches the leases, and takes a lease as soon as fewer than
 * `maxLeases` others are out. All clients must agree on `maxLeases`.
 *
 * ```ts
 * const sem = new Semaphore(session, '/semaphores/db', 3);
 * const lease = await sem.acquire({ timeoutMs: 2000 });     // Lease | null
 * if (lease) try { await query(lease.signal); } finally { await lease.close(); }
 * const two = await sem.acquire(2);                        // Lease[] (all or none)
 * ```
 */
export class Semaphore {
  readonly path: string;
  private readonly leasesPath: string;
  private readonly locksPath: string;

  constructor(readonly session: ZooGateSession, path: string, readonly maxLeases: number, private readonly opts: LockOptions = {}) {
    this.path = checkBasePath(path);
    if (!Number.isInteger(maxLeases) || maxLeases < 1) throw new ZooGateError('BadArguments', `maxLeases must be a positive integer: ${maxLeases}`);
    this.leasesPath = join(this.path, 'leases');
    this.locksPath = join(this.path, 'locks');
  }

  /** One lease, or null if `timeoutMs` passed first; rejects on abort or when the session ends. */
  acquire(opts?: WaitOptions): Promise<Lease | null>;
  /** `n` leases, all or none (null if `timeoutMs` passed first; those taken meanwhile are given back). */
  acquire(n: number, opts?: WaitOptions): Promise<Lease[] | null>;
  async acquire(a?: number | WaitOptions, b?: WaitOptions): Promise<Lease | Lease[] | null> {
    if (typeof a === 'number') return this.acquireMany(a, b ?? {});
    const leases = await this.acquireMany(1, a ?? {});
    return leases === null ? null : leases[0]!;
  }

  private async acquireMany(n: number, opts: WaitOptions): Promise<Lease[] | null> {
    if (!Number.isInteger(n) || n < 1 || n > this.maxLeases) throw new ZooGateError('BadArguments', `cannot take ${n} of ${this.maxLeases} leases`);
    const until = untilOf(opts);
    const leases: Lease[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const lease = await this.acquireOne(until);
        if (lease === null) {
          await Promise.all(leases.map((l) => l.close()));
          return null;
        }
        leases.push(lease);
      }
      return leases;
    } catch (e) {
      await Promise.all(leases.map((l) => l.close().catch(() => {})));
      throw e;
    }
  }

  private async acquireOne(until: Until): Promise<Lease | null> {
    // a Mutex per attempt: concurrent acquires of one Semaphore queue like separate clients
    const mutex = new Mutex(this.session, this.locksPath);
    const left = until.deadline === null ? undefined : Math.max(0, until.deadline - Date.now());
    if (!(await mutex.acquire({ timeoutMs: left, signal: until.signal }))) return null;
    let ours: string | null = null;
    try {
      const created = await createProtected(this.session, this.leasesPath, 'lease-', this.opts.data, 'ephemeral_sequential');
      ours = created.path;
      const me = nameOf(ours);
      for (;;) {
        const leases = sortedBySequence((await this.session.children(this.leasesPath)).children, ['lease-']);
        if (!leases.includes(me)) throw new ZooGateError('NoNode', `the lease node ${ours} is gone`, { path: ours });
        if (leases.length <= this.maxLeases) break;
        if (expired(until)) {
          await deleteQuietly(this.session, ours);
          return null;
        }
        // full: only we (the mutex holder) watch the leases, and wait for one to be given back
        let full = true;
        const fired = await awaitWatch(this.session, async (fire) => {
          const again = sortedBySequence((await this.session.children(this.leasesPath, { watch: fire })).children, ['lease-']);
          full = again.length > this.maxLeases;
          return full;
        }, until);
        if (!full) break;
        if (!fired) {
          await deleteQuietly(this.session, ours);
          return null;
        }
      }
      return new SemaphoreLease(this.session, ours, created.stat.czxid);
    } catch (e) {
      if (ours !== null) await deleteQuietly(this.session, ours);
      throw e;
    } finally {
      await mutex.release();
    }
  }

  /** The lease nodes out now, oldest first (Curator's getParticipantNodes). */
  async participantNodes(): Promise<string[]> {
    try {
      return sortedBySequence((await this.session.children(this.leasesPath)).children, ['lease-']).map((n) => join(this.leasesPath, n));
    } catch (e) {
      if (errorCode(e) === 'NoNode') return [];
      throw e;
    }
  }
}
