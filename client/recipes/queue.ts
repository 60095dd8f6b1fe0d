/**
 * Distributed queues, as ZooKeeper's recipes page describes them: items are
 * `persistent_sequential` children of the queue's node, taken lowest first.
 *
 * - `DistributedQueue`: FIFO (Curator's SimpleDistributedQueue). Items are
 *   `qn-<seq>`, so the sequence the ensemble gave them is the order they are
 *   taken in.
 * - `PriorityQueue`: items are `qp-<priority>-<seq>` (the priority offset by
 *   2^31 and zero-padded), taken by priority, then FIFO within one (Curator's
 *   DistributedPriorityQueue).
 *
 * **Each item is taken exactly once**, however many consumers compete. A
 * consumer reads the head item, then claims it with one `multi`: delete the
 * item (at the version read) and create an ephemeral receipt
 * `.receipts/t-<item>` holding a token of its own. Whoever's multi succeeds
 * owns the item; the others fail on the delete (NoNode) and try the next one.
 * A claim whose answer is lost (ConnectionLoss: the node died, the write may
 * or may not have been applied) is resolved, not guessed: once the session
 * has moved, a `sync` brings its node up to the leader and the receipt is
 * read; our token there means the item is ours. Receipts are deleted as soon
 * as the outcome is known (and go with the session otherwise).
 *
 * **Puts are never doubled.** An item's name carries Curator's protection
 * prefix `_c_<GUID>-`; a put whose answer was lost finds its item by the GUID
 * (or, if it is not there, puts it again). The GUID also makes every item
 * name unique for ever, so a claim can never delete a newer item that
 * happens to have the same sequence number.
 *
 * **No herd.** A consumer that finds the queue empty waits in a line of
 * `ephemeral_sequential` nodes under `.waiters`: only the first in line
 * watches the queue's children; each other one watches the waiter just before
 * it. An item put wakes one consumer, not all of them; when the first one has
 * taken an item (or given up) it leaves the line, which wakes the next.
 *
 * **Cleaning up.** The queue's node and its `.receipts` and `.waiters` nodes
 * are containers (created on demand, as Curator's
 * creatingParentContainersIfNeeded): once a queue is empty and nobody waits,
 * the server removes it.
 *
 * **Session expiry.** Waiting consumers reject with SessionExpired (their
 * place in line went with the session). A claim whose answer was lost when
 * the session expired cannot be resolved any more (the receipt went with the
 * session): `take` rejects with SessionExpired and `outcomeUnknown: true`, and
 * that item may be gone with nobody holding it (at most once, as any queue
 * that deletes on take; Curator's lock-protected "guaranteed delivery" mode
 * is not implemented).
 */
import { randomBytes } from 'node:crypto';
import { ZooGateError } from '../errors.ts';
import type { Watcher, ZooGateSession } from '../session.ts';
import type { DataInput } from '../types.ts';
import {
  awaitWatch, backoffMs, checkAbort, checkBasePath, createProtected, deleteOwned, deleteQuietly, ensureContainers, errorCode, expired, join, outcomeUnknown,
  retryable, sequenceOf, sleep, sortedBySequence, unprotected, untilOf, type WaitOptions,
} from './lock-internals.ts';

/** One item taken (or peeked at) from a queue. */
export interface QueueItem {
  /** The item's name without its protection prefix: `qn-0000000042`, or `qp-<priority>-<seq>`. */
  readonly name: string;
  /** The item's node (with its protection prefix). */
  readonly path: string;
  readonly data: Uint8Array;
  /** The data as UTF-8 text. */
  readonly text: string;
  /** A PriorityQueue item's priority. */
  readonly priority?: number;
}

/** How long `take` waits: `timeoutMs` (then it resolves null; 0 = do not wait), `signal` (then it rejects). */
export type TakeOptions = WaitOptions;

const RECEIPTS = '.receipts';
const WAITERS = '.waiters';
const WAITER = 'w-';
const decoder = new TextDecoder('utf-8');
const PRIORITY_OFFSET = 2 ** 31;

/** What claiming one item came to. */
type Claim = { kind: 'owned'; item: QueueItem } | { kind: 'gone' } | { kind: 'retry' };

/** An item's place in the queue: sorted by `rank`, then by sequence. */
interface Slot {
  readonly name: string;
  readonly rank: number;
  readonly seq: number;
}

/** The machinery both queues share: items under `path`, ordered by rank then sequence. */
abstract class SequentialQueue {
  readonly path: string;
  /** How many claims lost their answer and were resolved by reading their receipt. */
  resolved = 0;
  private readonly waiters: string;

  constructor(protected readonly session: ZooGateSession, path: string) {
    this.path = checkBasePath(path);
    this.waiters = join(this.path, WAITERS);
  }

  /** An item's rank from its unprotected name (lower is taken first), or null if the child is not an item. */
  protected abstract rankOf(bare: string): number | null;
  /** Whether the rank is a priority the items report. */
  protected abstract readonly prioritised: boolean;

  /** The number of items now. */
  async size(): Promise<number> {
    return (await this.items()).length;
  }

  /** The item that `take` would return now, without taking it (null when empty). */
  async peek(): Promise<QueueItem | null> {
    for (const slot of await this.items()) {
      const path = join(this.path, slot.name);
      try {
        return this.describe(slot.name, path, (await this.session.get(path)).data);
      } catch (e) {
        if (errorCode(e) !== 'NoNode') throw e; // taken meanwhile: the next one
      }
    }
    return null;
  }

  /** Takes the head item if there is one, without waiting (null when empty). */
  poll(): Promise<QueueItem | null> {
    return this.take({ timeoutMs: 0 });
  }

  /**
   * Takes the head item, waiting for one until `timeoutMs` (then null) or
   * `signal` aborts (then it rejects with its reason). The item is this
   * consumer's alone: no other `take` anywhere returns it.
   */
  async take(opts: TakeOptions = {}): Promise<QueueItem | null> {
    const until = untilOf(opts);
    let waiter: string | null = null;
    try {
      for (;;) {
        checkAbort(until);
        const got = await this.takeAvailable();
        if (got !== null) return got;
        if (expired(until)) return null;
        // empty: wait in line (only the first in line watches the queue)
        waiter ??= (await createProtected(this.session, this.waiters, WAITER, undefined, 'ephemeral_sequential')).path;
        if (!(await this.waitInLine(waiter, until))) return null;
      }
    } finally {
      // leaving the line wakes the next waiter (it now watches the queue)
      if (waiter !== null) await deleteQuietly(this.session, waiter);
    }
  }

  /** Puts an item (a protected create, never doubled by a retry); resolves with its node's path. */
  protected async putItem(prefix: string, data: DataInput): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await createProtected(this.session, this.path, prefix, data, 'persistent_sequential')).path;
      } catch (e) {
        // the queue (a container) went between creating it and the item: again
        if (errorCode(e) !== 'NoNode' || attempt >= 10) throw e;
      }
    }
  }

  /** The items, head first. */
  protected async items(watch?: Watcher): Promise<Slot[]> {
    let children: string[];
    try {
      children = (await this.session.children(this.path, watch ? { watch } : {})).children;
    } catch (e) {
      if (errorCode(e) === 'NoNode') return [];
      throw e;
    }
    const out: Slot[] = [];
    for (const name of children) {
      const rank = this.rankOf(unprotected(name));
      if (rank !== null) out.push({ name, rank, seq: sequenceOf(name) });
    }
    return out.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
  }

  private describe(name: string, path: string, data: Uint8Array): QueueItem {
    const bare = unprotected(name);
    const item: QueueItem = { name: bare, path, data, text: decoder.decode(data) };
    return this.prioritised ? { ...item, priority: this.rankOf(bare)! } : item;
  }

  /** Claims the items in order until one is ours; null once none is left. */
  private async takeAvailable(): Promise<QueueItem | null> {
    for (;;) {
      const slots = await this.items();
      if (slots.length === 0) return null;
      for (const slot of slots) {
        const c = await this.claim(slot.name);
        if (c.kind === 'owned') return c.item;
      }
      // every one was taken by others meanwhile: look again
    }
  }

  /**
   * Waits in the line of consumers for an item: resolves true when this
   * consumer is first in line and the queue has (or may have) an item, false
   * when the deadline passed. The first watches the queue's children; every
   * other one the waiter just before it.
   */
  private async waitInLine(me: string, until: ReturnType<typeof untilOf>): Promise<boolean> {
    const mine = me.slice(this.waiters.length + 1);
    for (;;) {
      let line: string[];
      try {
        line = sortedBySequence((await this.session.children(this.waiters)).children, [WAITER]);
      } catch (e) {
        if (errorCode(e) !== 'NoNode') throw e;
        line = [];
      }
      const i = line.indexOf(mine);
      if (i < 0) throw new ZooGateError('NoNode', `${me}, this consumer's place in line, is gone (deleted by someone, or its session ended)`, { path: me });
      let fired: boolean;
      if (i === 0) {
        fired = await awaitWatch(this.session, async (fire) => (await this.items(fire)).length === 0, until);
        if (fired) return true;
      } else {
        const before = join(this.waiters, line[i - 1]!);
        fired = await awaitWatch(this.session, async (fire) => {
          try {
            await this.session.get(before, { watch: fire });
            return true;
          } catch (e) {
            if (errorCode(e) === 'NoNode') return false;
            throw e;
          }
        }, until);
      }
      if (!fired) return false;
    }
  }

  /**
   * Claims one item: read it, then delete it and create our receipt in one
   * multi. The multi that succeeds owns it; a lost answer is resolved by
   * reading the receipt after a sync.
   */
  private async claim(name: string): Promise<Claim> {
    const path = join(this.path, name);
    let data: Uint8Array;
    let version: number;
    try {
      const v = await this.session.get(path);
      data = v.data;
      version = v.stat.version;
    } catch (e) {
      if (errorCode(e) === 'NoNode') return { kind: 'gone' };
      throw e;
    }
    const receipt = join(this.path, RECEIPTS, `t-${name}`);
    const token = `${this.session.sessionId}-${randomBytes(8).toString('hex')}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.multi([{ op: 'delete', path, version }, { op: 'create', path: receipt, data: token, mode: 'ephemeral' }]);
        break;
      } catch (e) {
        const code = errorCode(e);
        const failedOp = e instanceof ZooGateError ? e.failedOp : undefined;
        if (failedOp === 0 && code === 'NoNode') return { kind: 'gone' }; // someone else's claim won
        if (failedOp === 0 && code === 'BadVersion') return { kind: 'retry' };
        if (failedOp === 1 && code === 'NoNode' && attempt < 10) {
          await ensureContainers(this.session, receipt); // the receipts node (a container) is made on demand
          continue;
        }
        if (retryable(e) && attempt < 20) {
          await sleep(backoffMs(attempt));
          continue;
        }
        if (!outcomeUnknown(e)) throw endedWhileUnknown(e, `taking ${path}`, false);
        this.resolved++;
        if (await this.claimedByUs(receipt, token, `taking ${path}`)) break;
        return { kind: 'retry' }; // certainly not ours: the item may still be there
      }
    }
    void deleteOwned(this.session, receipt).catch(() => {}); // ephemeral: it goes with the session anyway
    return { kind: 'owned', item: this.describe(name, path, data) };
  }

  /** Whether our claim, its answer lost, was applied: after a sync, our token in the receipt says so. */
  private async claimedByUs(receipt: string, token: string, what: string): Promise<boolean> {
    try {
      await this.session.sync(this.path);
      return (await this.session.get(receipt, { as: 'utf8' })).data === token;
    } catch (e) {
      if (errorCode(e) === 'NoNode') return false;
      throw endedWhileUnknown(e, what, true);
    }
  }
}

/** A session that ended while a write's outcome was unknown took its receipt with it: say so. */
function endedWhileUnknown(e: unknown, what: string, pending: boolean): unknown {
  const code = errorCode(e);
  if ((code === 'SessionExpired' || code === 'SessionClosed') && (pending || (e as ZooGateError).outcomeUnknown)) {
    return new ZooGateError(code, `the session ended while ${what}: it may or may not have been done`, { path: (e as ZooGateError).path, outcomeUnknown: true, cause: e });
  }
  return e;
}

/**
 * A FIFO queue at `path` (ZooKeeper's queue recipe; Curator's
 * SimpleDistributedQueue): `put` appends, `take` removes the oldest item,
 * waiting for one if need be; each item is taken exactly once.
 *
 * ```ts
 * const q = new DistributedQueue(session, '/jobs');
 * await q.put('job 1');
 * const item = await q.take({ timeoutMs: 5000 }); // item?.text === 'job 1', or null after 5 s
 * ```
 */
export class DistributedQueue extends SequentialQueue {
  protected readonly prioritised = false;

  /** Appends an item; resolves with its node's path. */
  put(data: DataInput): Promise<string> {
    return this.putItem('qn-', data);
  }

  protected rankOf(bare: string): number | null {
    return /^qn-\d{10}$/.test(bare) ? 0 : null;
  }
}

/**
 * A priority queue at `path`: `take` returns the item of the lowest priority
 * number first, in FIFO order among equal priorities (Curator's
 * DistributedPriorityQueue). Priorities are 32-bit integers.
 *
 * ```ts
 * const q = new PriorityQueue(session, '/jobs');
 * await q.put('routine', 5);
 * await q.put('urgent', 0);
 * (await q.take())?.text;                   // 'urgent'
 * ```
 */
export class PriorityQueue extends SequentialQueue {
  protected readonly prioritised = true;

  /** Adds an item with a priority (lower is taken first); resolves with its node's path. */
  put(data: DataInput, priority: number): Promise<string> {
    if (!Number.isInteger(priority) || priority < -PRIORITY_OFFSET || priority >= PRIORITY_OFFSET) {
      return Promise.reject(new ZooGateError('BadArguments', `a priority is a 32-bit integer, not ${priority}`, { path: this.path }));
    }
    return this.putItem(`qp-${String(priority + PRIORITY_OFFSET).padStart(10, '0')}-`, data);
  }

  protected rankOf(bare: string): number | null {
    const m = /^qp-(\d{10})-\d{10}$/.exec(bare);
    return m === null ? null : Number(m[1]) - PRIORITY_OFFSET;
  }
}
