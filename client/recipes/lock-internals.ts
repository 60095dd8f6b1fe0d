/**
 * What the coordination recipes (locks, election, barriers, two-phase commit)
 * share, after Curator's LockInternals and its helpers:
 *
 * - **Protected creates.** A create whose answer is lost (ConnectionLoss, or
 *   504 OperationTimeout) may or may not have been applied. For an
 *   `ephemeral_sequential` node that matters: an applied-but-unknown node
 *   would sit in the queue owned by a live session and block everyone behind
 *   it. As Curator's protection mode does, the node's name starts with
 *   `_c_<GUID>-`, so after a lost answer the recipe syncs, lists the parent
 *   and finds its own node by the GUID (or, if it is not there, creates it
 *   again).
 * - **Container parents.** Recipe directories are created as `container`
 *   nodes (Curator's creatingParentContainersIfNeeded), so the server removes
 *   them once their last child is gone: a recipe cleans up after itself.
 * - **Waiting on one node.** A waiter sets a one-shot watch on the single
 *   node it depends on and sleeps until that watch fires, a deadline passes,
 *   an AbortSignal fires, or the session ends (the session drops its watches
 *   silently when it expires, so the state listener is what wakes the waiter).
 */
import { randomUUID } from 'node:crypto';
import { ZooGateError } from '../errors.ts';
import type { StateChange, Watcher, ZooGateSession } from '../session.ts';
import type { CreateMode, DataInput, ZnodeCreated } from '../types.ts';

/** Curator's protection prefix: `_c_` + a GUID + `-`. */
export const PROTECTED_PREFIX = '_c_';
const GUID_LENGTH = 36;

/** When to stop waiting: a timeout (ms from the start of the call) and/or an AbortSignal. */
export interface WaitOptions {
  /** Give up after this many ms (the call then resolves false / null). Absent: wait as long as it takes. */
  timeoutMs?: number;
  /** Give up when this aborts (the call then rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** A resolved WaitOptions: an absolute deadline (or none) and a signal. */
export interface Until {
  readonly deadline: number | null;
  readonly signal: AbortSignal | undefined;
}

export function untilOf(opts: WaitOptions = {}): Until {
  if (opts.timeoutMs !== undefined && (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs < 0)) {
    throw new ZooGateError('BadArguments', `timeoutMs must be a non-negative number: ${opts.timeoutMs}`);
  }
  return { deadline: opts.timeoutMs === undefined ? null : Date.now() + opts.timeoutMs, signal: opts.signal };
}

/** Throws the signal's reason if it has fired. */
export function checkAbort(until: Until): void {
  until.signal?.throwIfAborted();
}

export function expired(until: Until): boolean {
  return until.deadline !== null && Date.now() >= until.deadline;
}

export function errorCode(e: unknown): string | undefined {
  return e instanceof ZooGateError ? e.code : undefined;
}

/** A write whose fate is unknown: read the state to learn it (ZooKeeper's ConnectionLoss). */
export function outcomeUnknown(e: unknown): boolean {
  return e instanceof ZooGateError && (e.outcomeUnknown || e.code === 'ConnectionLoss' || e.code === 'OperationTimeout');
}

/** A write that certainly was not applied and may be sent again after a pause. */
export function retryable(e: unknown): boolean {
  return e instanceof ZooGateError && (e.code === 'NoQuorum' || e.code === 'Throttled');
}

/** The session is over (its ephemerals are gone or going). */
export function sessionEnded(session: ZooGateSession): boolean {
  return session.state === 'Expired' || session.state === 'Closed';
}

export function sessionEndedError(session: ZooGateSession): ZooGateError {
  return session.state === 'Closed'
    ? new ZooGateError('SessionClosed', 'the session was closed')
    : new ZooGateError('SessionExpired', 'the session expired');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `parent` and one or more names below it: join('/a', 'b', 'c') is `/a/b/c`. */
export function join(parent: string, ...names: string[]): string {
  return (parent === '/' ? '' : parent) + names.map((n) => `/${n}`).join('');
}

/** Checks a recipe's base path: absolute, no trailing slash, not the root. */
export function checkBasePath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/') || path === '/' || path.endsWith('/')) {
    throw new ZooGateError('BadArguments', `a recipe path is an absolute znode path other than /: ${JSON.stringify(path)}`, { path });
  }
  return path;
}

/** The 10-digit counter a sequential create appended (NaN if the name has none). */
export function sequenceOf(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m === null ? Number.NaN : Number(m[1]);
}

/** A name without its protection prefix: `_c_<guid>-lock-0000000003` → `lock-0000000003`. */
export function unprotected(name: string): string {
  if (name.startsWith(PROTECTED_PREFIX) && name[PROTECTED_PREFIX.length + GUID_LENGTH] === '-') {
    return name.slice(PROTECTED_PREFIX.length + GUID_LENGTH + 1);
  }
  return name;
}

/**
 * The children that are sequential nodes of one of `prefixes` (protected or
 * not), in the order of their sequence numbers (Curator's
 * StandardLockInternalsDriver sorts by the part after the lock name, so the
 * GUIDs do not reorder the queue).
 */
export function sortedBySequence(children: readonly string[], prefixes: readonly string[]): string[] {
  return children
    .filter((c) => {
      const bare = unprotected(c);
      return prefixes.some((p) => bare.startsWith(p)) && !Number.isNaN(sequenceOf(c));
    })
    .sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

/**
 * Creates the missing ancestors of `path` (not `path` itself) as containers,
 * top down; one that exists already, of any kind, is left as it is.
 */
export async function ensureContainers(session: ZooGateSession, path: string): Promise<void> {
  const segs = path.split('/').filter((s) => s !== '');
  let at = '';
  for (const seg of segs.slice(0, -1)) {
    at += `/${seg}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await session.create(at, undefined, { mode: 'container' });
        break;
      } catch (e) {
        if (errorCode(e) === 'NodeExists') break;
        // sent again: if the lost one was applied, NodeExists says so
        if ((outcomeUnknown(e) || retryable(e)) && attempt < 20) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw e;
      }
    }
  }
}

/** 20, 40, 80 … ms, at most 1 s, with jitter so that retrying clients spread out. */
export function backoffMs(attempt: number, baseMs = 20, maxMs = 1000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 10));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Creates `path`, creating missing parents as containers first when the
 * parent is missing (NoNode), and again if a container went away between the
 * two (it is removed once empty). Outcome-unknown errors are the caller's.
 */
export async function createInContainer(session: ZooGateSession, path: string, data: DataInput | undefined, mode: CreateMode): Promise<ZnodeCreated> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await session.create(path, data, { mode });
    } catch (e) {
      if (retryable(e) && attempt < 20) {
        await sleep(backoffMs(attempt));
        continue;
      }
      if (errorCode(e) !== 'NoNode' || attempt >= 10) throw e;
    }
    await ensureContainers(session, path);
  }
}

/** The node this session created under `parent` with the protection GUID, or null. */
async function findProtected(session: ZooGateSession, parent: string, guid: string): Promise<ZnodeCreated | null> {
  // the node we talk to catches up with the leader first, so a create the leader committed is visible
  await session.sync(parent);
  let children: string[];
  try {
    children = (await session.children(parent)).children;
  } catch (e) {
    if (errorCode(e) === 'NoNode') return null;
    throw e;
  }
  const mark = `${PROTECTED_PREFIX}${guid}-`;
  const mine = children.find((c) => c.startsWith(mark));
  if (mine === undefined) return null;
  const path = join(parent, mine);
  const stat = await session.exists(path);
  return stat === null ? null : { path, stat };
}

/**
 * Curator's protected create of a sequential (usually ephemeral) node:
 * `parent/_c_<guid>-<name><10 digits>`. If the answer is lost, the node is
 * found by its GUID instead of being created twice, so no orphan of a live
 * session blocks a queue. Returns the node's path and Stat.
 */
export async function createProtected(session: ZooGateSession, parent: string, name: string, data: DataInput | undefined, mode: CreateMode): Promise<ZnodeCreated> {
  const guid = randomUUID();
  const path = join(parent, `${PROTECTED_PREFIX}${guid}-${name}`);
  for (let attempt = 0; ; attempt++) {
    try {
      return await createInContainer(session, path, data, mode);
    } catch (e) {
      if (!outcomeUnknown(e) || attempt >= 10) throw e;
    }
    const found = await findProtected(session, parent, guid);
    if (found !== null) return found;
  }
}

/**
 * Deletes a node this session owns, for sure: a lost answer is sent again
 * (a second delete of the same node answers NoNode), and a node already gone
 * (NoNode) or a session already over (its ephemerals are gone with it) is
 * fine. `version` guards a node that someone else may have re-created.
 */
export async function deleteOwned(session: ZooGateSession, path: string, version?: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await session.delete(path, version === undefined ? {} : { version });
      return;
    } catch (e) {
      const code = errorCode(e);
      if (code === 'NoNode' || code === 'SessionExpired' || code === 'SessionClosed') return;
      if ((outcomeUnknown(e) || retryable(e)) && attempt < 50) {
        await sleep(backoffMs(attempt));
        continue;
      }
      throw e;
    }
  }
}

/** `deleteOwned`, for clean-up paths where there is nobody left to tell about a failure. */
export async function deleteQuietly(session: ZooGateSession, path: string): Promise<void> {
  await deleteOwned(session, path).catch(() => {});
}

/**
 * Sets a one-shot watch with `arm` (which calls a read with `watch: fire`
 * and returns whether there is anything to wait for) and waits until it
 * fires. Resolves true when the watch fired (or `arm` said not to wait),
 * false when the deadline passed; rejects when the signal aborts or the
 * session ends. A watch left behind by a waiter that gave up fires once,
 * later, into nothing (the protocol removes watches per path and kind, not
 * per watcher, so removing it could take another waiter's).
 */
export async function awaitWatch(session: ZooGateSession, arm: (fire: Watcher) => Promise<boolean>, until: Until): Promise<boolean> {
  checkAbort(until);
  if (sessionEnded(session)) throw sessionEndedError(session);
  let fire!: () => void;
  const fired = new Promise<void>((r) => (fire = r));
  if (!(await arm(() => fire()))) return true;
  return waitUntil(session, fired, until);
}

/**
 * Waits for the node at `path` to change or go (a data watch, getData as
 * Curator does, rather than an exists watch: on a node already gone it leaves
 * nothing behind, where exists would leave a watch for a NodeCreated that
 * never comes). True when it fired or the node was gone already; false when
 * the deadline passed.
 */
export function awaitChangeOf(session: ZooGateSession, path: string, until: Until): Promise<boolean> {
  return awaitWatch(session, async (fire) => {
    try {
      await session.get(path, { watch: fire });
      return true;
    } catch (e) {
      if (errorCode(e) === 'NoNode') return false;
      throw e;
    }
  }, until);
}

/**
 * Waits for `event` unless the deadline passes (false), the signal aborts
 * (rejects with its reason) or the session ends (rejects with
 * SessionExpired / SessionClosed).
 */
export function waitUntil(session: ZooGateSession, event: Promise<unknown>, until: Until): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null;
    const done = (settle: () => void) => {
      if (timer !== null) clearTimeout(timer);
      offState();
      until.signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => done(() => reject(until.signal!.reason));
    const offState = session.onState((c: StateChange) => {
      if (c.state === 'Expired' || c.state === 'Closed') done(() => reject(sessionEndedError(session)));
    });
    if (until.signal?.aborted) return onAbort();
    if (sessionEnded(session)) return done(() => reject(sessionEndedError(session)));
    until.signal?.addEventListener('abort', onAbort, { once: true });
    if (until.deadline !== null) timer = setTimeout(() => done(() => resolve(false)), Math.max(0, until.deadline - Date.now()));
    event.then(() => done(() => resolve(true)), (e: unknown) => done(() => reject(e)));
  });
}

/**
 * Watches the session for its end while something is held: `onLost` is
 * called once, with the reason, when the session expires or is closed.
 * Returns the function that stops watching.
 */
export function watchSessionLoss(session: ZooGateSession, onLost: (reason: ZooGateError) => void): () => void {
  let off: () => void = () => {};
  off = session.onState((c) => {
    if (c.state === 'Expired' || c.state === 'Closed') {
      off();
      onLost(c.state === 'Expired' ? new ZooGateError('SessionExpired', `the session expired (${c.reason ?? 'server'}): what it held is gone`) : new ZooGateError('SessionClosed', 'the session was closed: what it held is gone'));
    }
  });
  if (sessionEnded(session)) {
    off();
    onLost(sessionEndedError(session));
  }
  return off;
}

/** A small set of listeners, each called safely (a throwing listener does not stop the others). */
export class Listeners<F extends (...args: never[]) => void> {
  private readonly fns = new Set<F>();

  add(fn: F): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }

  emit(...args: Parameters<F>): void {
    for (const f of [...this.fns]) {
      try {
        f(...args);
      } catch {
        // a listener's failure is its own; the recipe goes on
      }
    }
  }
}
