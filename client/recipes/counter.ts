/**
 * Atomic values by optimistic concurrency: read the value and its version,
 * compute, write only if the version has not moved (`set` with `version`, or
 * a `multi` of them), and on BadVersion read again and retry.
 *
 * - `DistributedCounter`: Curator's DistributedAtomicLong. The value is the
 *   node's data as decimal text (readable with curl); an absent node is 0.
 * - `atomicUpdate`: several keys read-modify-written all or nothing, in one
 *   `multi` (Curator's transactions, ZooKeeper's multi).
 *
 * A write whose answer is lost (ConnectionLoss: it may or may not have been
 * applied) must not be guessed: retrying one that was applied counts it
 * twice, dropping one that was not loses it (Curator's DistributedAtomicLong
 * retries and may count twice). The counter therefore writes a receipt in
 * the same multi (an ephemeral child `.w-<random>` of the counter holding the
 * number of the write) and, once the session has moved, syncs and reads it
 * back: it tells exactly whether the write happened. `atomicUpdate` does the
 * same when given a `receipts` node.
 */
import { randomBytes } from 'node:crypto';
import { ZooGateError } from '../errors.ts';
import type { ZooGateSession } from '../session.ts';
import type { MultiOpInput, Stat } from '../types.ts';
import { backoffMs, deleteOwned, ensureContainers, errorCode, join, outcomeUnknown, parentOf, retryable, sessionEnded, sleep } from './lock-internals.ts';

/** The outcome of an atomic operation (Curator's AtomicValue). */
export interface AtomicResult {
  /** Whether the value was written (false: the comparison failed, or contention outlasted the attempts). */
  readonly succeeded: boolean;
  /** The value the operation saw (and, if it succeeded, replaced). */
  readonly preValue: number;
  /** The value after (== preValue when it did not succeed). */
  readonly postValue: number;
  /** How many writes were sent. */
  readonly attempts: number;
}

export interface RetryOptions {
  /** How many writes to try before giving up (default 100). */
  maxAttempts?: number;
  /** The backoff after a lost race, in ms: random, growing from `baseDelayMs` to at most `maxDelayMs` (default 2, 100). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const decoder = new TextDecoder('utf-8');

function backoff(attempt: number, r: RetryOptions): Promise<void> {
  return sleep(backoffMs(attempt, r.baseDelayMs ?? 2, r.maxDelayMs ?? 100));
}

function parseValue(path: string, text: string): number {
  const t = text.trim();
  if (t === '') return 0;
  if (!/^-?\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new ZooGateError('BadArguments', `${path} does not hold an integer counter: ${JSON.stringify(t.slice(0, 40))}`, { path });
  return Number(t);
}

/** A write whose outcome could not be learnt because the session ended: say so. */
function endedWhileUnknown(path: string, e: unknown): ZooGateError {
  const code = errorCode(e) === 'SessionClosed' ? 'SessionClosed' : 'SessionExpired';
  return new ZooGateError(code, `${path}: the session ended before the outcome of a write could be read: it may or may not have been applied`, { path, outcomeUnknown: true, cause: e });
}

/**
 * A counter in a znode (Curator's DistributedAtomicLong): `get`, `increment`,
 * `decrement`, `add`, `subtract`, `compareAndSet`, `trySet`, `initialize`,
 * each returning `{ succeeded, preValue, postValue, attempts }`. Each
 * succeeds by a version compare-and-set, retried on BadVersion, so N clients
 * adding concurrently end exactly at the sum. The operations of one instance
 * run one at a time (its receipt resolves one write at a time). The counter's
 * missing parents are created as containers.
 *
 * ```ts
 * const hits = new DistributedCounter(session, '/counters/hits');
 * const r = await hits.increment();     // { succeeded: true, preValue: 41, postValue: 42, attempts: 1 }
 * await hits.close();                   // deletes this instance's receipt
 * ```
 */
export class DistributedCounter {
  readonly path: string;
  private readonly receipt: string;
  private receiptExists = false;
  private writeNo = 0;
  /** How many writes lost their answer and were resolved by reading the receipt. */
  resolved = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly session: ZooGateSession, path: string, private readonly retry: RetryOptions = {}) {
    if (typeof path !== 'string' || !path.startsWith('/') || path === '/' || path.endsWith('/')) {
      throw new ZooGateError('BadArguments', `a counter is an absolute znode path other than /: ${JSON.stringify(path)}`);
    }
    this.path = path;
    this.receipt = join(path, `.w-${randomBytes(6).toString('hex')}`);
  }

  /** The value now (0 when the node does not exist). */
  async get(): Promise<number> {
    return (await this.read())?.value ?? 0;
  }

  increment(): Promise<AtomicResult> {
    return this.add(1);
  }

  decrement(): Promise<AtomicResult> {
    return this.add(-1);
  }

  subtract(delta: number): Promise<AtomicResult> {
    return this.add(-delta);
  }

  /** Adds `delta` (retried until it wins the race, or `maxAttempts`). */
  add(delta: number): Promise<AtomicResult> {
    if (!Number.isSafeInteger(delta)) return Promise.reject(new ZooGateError('BadArguments', `not an integer: ${delta}`, { path: this.path }));
    return this.write((pre) => {
      const post = pre + delta;
      if (!Number.isSafeInteger(post)) throw new ZooGateError('BadArguments', `${this.path}: ${pre} + ${delta} overflows`, { path: this.path });
      return post;
    });
  }

  /**
   * Sets `newValue` if the value is `expected`. A race lost to a write that
   * left the value at `expected` is retried; any other value fails it.
   */
  compareAndSet(expected: number, newValue: number): Promise<AtomicResult> {
    if (!Number.isSafeInteger(newValue)) return Promise.reject(new ZooGateError('BadArguments', `not an integer: ${newValue}`, { path: this.path }));
    return this.write((pre) => (pre === expected ? newValue : null));
  }

  /** Sets the value, whatever it was (retried on contention). */
  trySet(value: number): Promise<AtomicResult> {
    if (!Number.isSafeInteger(value)) return Promise.reject(new ZooGateError('BadArguments', `not an integer: ${value}`, { path: this.path }));
    return this.write(() => value);
  }

  /** Creates the counter with `value` if it does not exist; false if it does. */
  async initialize(value: number): Promise<boolean> {
    if (!Number.isSafeInteger(value)) throw new ZooGateError('BadArguments', `not an integer: ${value}`, { path: this.path });
    return (await this.write((_pre, exists) => (exists ? null : value))).succeeded;
  }

  /** Deletes this instance's receipt (it is ephemeral: it also goes with the session). */
  async close(): Promise<void> {
    await this.exclusive(async () => {
      if (!this.receiptExists || sessionEnded(this.session)) return;
      await deleteOwned(this.session, this.receipt).catch(() => {});
      this.receiptExists = false;
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private async read(): Promise<{ value: number; stat: Stat } | null> {
    try {
      const r = await this.session.get(this.path, { as: 'utf8' });
      return { value: parseValue(this.path, r.data), stat: r.stat };
    } catch (e) {
      if (errorCode(e) === 'NoNode') return null;
      throw e;
    }
  }

  /**
   * The compare-and-set loop. `compute` gets the value read (and whether the
   * node exists) and returns the next value, or null to stop without writing.
   */
  private write(compute: (pre: number, exists: boolean) => number | null): Promise<AtomicResult> {
    return this.exclusive(async () => {
      const max = this.retry.maxAttempts ?? 100;
      let pre = 0;
      let sent = 0;
      for (let attempt = 0; sent < max; attempt++) {
        const cur = await this.read();
        pre = cur?.value ?? 0;
        const post = compute(pre, cur !== null);
        if (post === null) return { succeeded: false, preValue: pre, postValue: pre, attempts: sent };
        const n = ++this.writeNo;
        const mark: MultiOpInput = this.receiptExists
          ? { op: 'set', path: this.receipt, data: String(n) }
          : { op: 'create', path: this.receipt, data: String(n), mode: 'ephemeral' };
        const ops: MultiOpInput[] = cur === null
          ? [{ op: 'create', path: this.path, data: String(post) }, mark]
          : [{ op: 'set', path: this.path, data: String(post), version: cur.stat.version }, mark];
        sent++;
        try {
          await this.session.multi(ops);
          this.receiptExists = true;
          return { succeeded: true, preValue: pre, postValue: post, attempts: sent };
        } catch (e) {
          const code = errorCode(e);
          const failedOp = e instanceof ZooGateError ? e.failedOp : undefined;
          if (outcomeUnknown(e) && code !== 'SessionExpired' && code !== 'SessionClosed') {
            this.resolved++;
            if (await this.applied(n)) return { succeeded: true, preValue: pre, postValue: post, attempts: sent };
            continue; // certainly not applied: again from a fresh read
          }
          if (code === 'SessionExpired' || code === 'SessionClosed') throw (e as ZooGateError).outcomeUnknown ? endedWhileUnknown(this.path, e) : e;
          if (failedOp === 1 && (code === 'NoNode' || code === 'NodeExists')) {
            this.receiptExists = code === 'NodeExists'; // our receipt is there after all, or is not
            continue;
          }
          if (failedOp === 0 && code === 'NoNode' && cur === null) {
            await ensureContainers(this.session, this.path); // the counter's parent is missing
            continue;
          }
          if ((failedOp === 0 && (code === 'BadVersion' || code === 'NoNode' || code === 'NodeExists')) || retryable(e)) {
            await backoff(attempt, this.retry); // lost the race
            continue;
          }
          throw e;
        }
      }
      return { succeeded: false, preValue: pre, postValue: pre, attempts: sent };
    });
  }

  /** Whether write number `n` (its answer lost) was applied: sync, then read the receipt. */
  private async applied(n: number): Promise<boolean> {
    try {
      await this.session.sync(this.path);
      const r = await this.session.get(this.receipt, { as: 'utf8' });
      this.receiptExists = true;
      return r.data === String(n);
    } catch (e) {
      const code = errorCode(e);
      if (code === 'SessionExpired' || code === 'SessionClosed') throw endedWhileUnknown(this.path, e); // the receipt went with the session
      if (code !== 'NoNode') throw e;
      this.receiptExists = false;
      return false;
    }
  }
}

/** One key of an `atomicUpdate`. */
export interface KeyUpdate {
  readonly path: string;
  /**
   * The next value from the current one (null: the node does not exist).
   * Return a string or bytes to write it (creating the node if absent; its
   * parent must exist), null to delete it, or undefined to leave it as it is
   * (its version is still checked, so the update applies only if it has not
   * changed either). May run several times: keep it free of side effects.
   */
  readonly update: (old: string | null) => string | Uint8Array | null | undefined;
}

export interface AtomicUpdateOptions extends RetryOptions {
  /**
   * A node (it must exist) under which each attempt creates an ephemeral
   * receipt in the same multi, so that an attempt whose answer was lost
   * (ConnectionLoss) is resolved exactly. Without it, such an attempt is
   * retried when every key is certainly unchanged (so it was not applied),
   * and otherwise rejected with `outcomeUnknown`.
   */
  receipts?: string;
}

export interface AtomicUpdateResult {
  /** Each key's value before and after (null: absent), in the order given. */
  readonly values: ReadonlyArray<{ readonly path: string; readonly old: string | null; readonly value: string | null }>;
  /** The zxid of the transaction that applied them (null when nothing needed writing, or its answer was lost and resolved by its receipt). */
  readonly zxid: number | null;
  /** How many multis were sent. */
  readonly attempts: number;
}

type Read = { text: string; stat: Stat } | null;

/**
 * An atomic read-modify-write of several keys: reads each key, computes its
 * next value, and writes them all in one `multi` (set at the version read,
 * create where it was absent, delete for null, check for keys left as they
 * are), so either every key changes or none does, and only if none changed
 * since it was read; on BadVersion (or NodeExists, NoNode) it reads again and
 * retries. Keys read as absent and left absent are not checked (a multi
 * cannot check absence).
 *
 * ```ts
 * await atomicUpdate(session, [
 *   { path: '/accounts/a', update: (v) => String(Number(v) - 10) },
 *   { path: '/accounts/b', update: (v) => String(Number(v) + 10) },
 * ]);
 * ```
 */
export async function atomicUpdate(session: ZooGateSession, updates: readonly KeyUpdate[], opts: AtomicUpdateOptions = {}): Promise<AtomicUpdateResult> {
  if (updates.length === 0) throw new ZooGateError('BadArguments', 'no key to update');
  if (new Set(updates.map((u) => u.path)).size !== updates.length) throw new ZooGateError('BadArguments', 'each key once');
  const max = opts.maxAttempts ?? 100;
  let sent = 0;
  for (let attempt = 0; sent < max; attempt++) {
    const reads: Read[] = await Promise.all(updates.map(async (u) => {
      try {
        const r = await session.get(u.path, { as: 'utf8' });
        return { text: r.data, stat: r.stat };
      } catch (e) {
        if (errorCode(e) === 'NoNode') return null;
        throw e;
      }
    }));
    const ops: MultiOpInput[] = [];
    const values: Array<{ path: string; old: string | null; value: string | null }> = [];
    let writes = 0;
    updates.forEach((u, i) => {
      const cur = reads[i]!;
      const next = u.update(cur?.text ?? null);
      const nextText = next === undefined ? (cur?.text ?? null) : next === null ? null : typeof next === 'string' ? next : decoder.decode(next);
      values.push({ path: u.path, old: cur?.text ?? null, value: nextText });
      if (next === undefined) {
        if (cur !== null) ops.push({ op: 'check', path: u.path, version: cur.stat.version });
      } else if (next === null) {
        if (cur !== null) {
          ops.push({ op: 'delete', path: u.path, version: cur.stat.version });
          writes++;
        }
      } else {
        ops.push(cur === null ? { op: 'create', path: u.path, data: next } : { op: 'set', path: u.path, data: next, version: cur.stat.version });
        writes++;
      }
    });
    if (writes === 0) return { values, zxid: null, attempts: sent };
    const receipt = opts.receipts === undefined ? null : join(opts.receipts, `txn-${randomBytes(8).toString('hex')}`);
    if (receipt !== null) ops.push({ op: 'create', path: receipt, mode: 'ephemeral' });
    sent++;
    try {
      const r = await session.multi(ops);
      if (receipt !== null) void deleteOwned(session, receipt).catch(() => {});
      return { values, zxid: r.zxid, attempts: sent };
    } catch (e) {
      const code = errorCode(e);
      const failedOp = e instanceof ZooGateError ? e.failedOp : undefined;
      if (code === 'SessionExpired' || code === 'SessionClosed') throw (e as ZooGateError).outcomeUnknown ? endedWhileUnknown(updates[0]!.path, e) : e;
      if (outcomeUnknown(e)) {
        if (await lostUpdateApplied(session, updates, reads, receipt, e)) return { values, zxid: null, attempts: sent };
        continue; // certainly not applied
      }
      const failed = failedOp === undefined ? undefined : ops[failedOp];
      if (failed !== undefined && failedOp === ops.length - 1 && receipt !== null) throw e; // the receipts node is missing
      if (code === 'NoNode' && failed?.op === 'create' && (await session.exists(parentOf(failed.path))) === null) {
        throw new ZooGateError('NoNode', `${failed.path}: its parent does not exist (atomicUpdate creates keys, not their parents)`, { path: failed.path, cause: e });
      }
      if (code === 'BadVersion' || code === 'NodeExists' || code === 'NoNode' || retryable(e)) {
        await backoff(attempt, opts); // a key changed since it was read
        continue;
      }
      throw e;
    }
  }
  throw new ZooGateError('BadVersion', `still contended after ${max} attempts`, { path: updates[0]!.path });
}

/** Whether an update whose answer was lost was applied: its receipt says, or (without one) keys still as read say it was not. */
async function lostUpdateApplied(session: ZooGateSession, updates: readonly KeyUpdate[], reads: readonly Read[], receipt: string | null, cause: unknown): Promise<boolean> {
  try {
    await session.sync(updates[0]!.path);
    if (receipt !== null) {
      if ((await session.exists(receipt)) === null) return false;
      void deleteOwned(session, receipt).catch(() => {});
      return true;
    }
    const now = await Promise.all(updates.map((u) => session.exists(u.path)));
    const unchanged = now.every((st, i) => {
      const was = reads[i]!;
      return was === null ? st === null : st !== null && st.czxid === was.stat.czxid && st.version === was.stat.version;
    });
    if (unchanged) return false;
  } catch (e) {
    if (errorCode(e) === 'SessionExpired' || errorCode(e) === 'SessionClosed') throw endedWhileUnknown(updates[0]!.path, e);
    throw e;
  }
  throw new ZooGateError('ConnectionLoss', 'the keys changed while the answer was lost: the update may or may not have been applied (pass `receipts` to know)', { outcomeUnknown: true, cause });
}
