/**
 * A naming service, ZooKeeper's "naming" use: names bound to values (say,
 * addresses) under one root, resolved through a client-side cache that
 * watches invalidate, and unique names drawn from sequential nodes.
 *
 * A name is a path below the root (`db/primary` is `<root>/db/primary`); its
 * value is the node's data as text. A node without data is a directory, not a
 * bound name: `bind` creates directories as needed and `unbind` removes the
 * ones it leaves empty. Names whose segments start with `.` are reserved.
 *
 * **The cache.** `resolve` reads a name once and keeps the answer (also "not
 * bound"), setting a one-shot watch with the read: a data watch on a bound
 * name, an exists watch on an absent one. The change that fires the watch
 * drops the entry, and the next `resolve` reads again. Only names this client
 * resolved are cached and watched, so a change reaches only the clients that
 * hold that name (as a DNS cache, with the TTL replaced by a notification).
 * Why the cache is never stale for longer than a notification takes: one
 * session delivers a watch event before any answer that shows the change, so
 * an answer that arrives after an event already holds the change; when the
 * session moves, the node it moves to fires at once every watch whose node
 * changed meanwhile; when it expires (its watches gone), the whole cache is
 * dropped, and a session factory gives the service a new session.
 *
 * With `onChange` listeners, an invalidated name is read again at once and
 * the listeners hear its new value: the names this client resolved are then
 * followed (pushed), not just invalidated.
 */
import { ZooGateError } from '../errors.ts';
import type { Watcher, ZooGateSession } from '../session.ts';
import type { WatchEvent } from '../types.ts';
import { SessionKeeper, type SessionSource } from './cache.ts';
import {
  backoffMs, checkBasePath, createProtected, deleteOwned, errorCode, join, Listeners, nameOf, outcomeUnknown, parentOf, retryable, sequenceOf, sleep,
} from './lock-internals.ts';

export interface NamingOptions {
  /** Where names live (default `/naming`). */
  root?: string;
  /** Where unique names are counted (default `<root>-ids`, outside the names' tree). */
  idsPath?: string;
}

export interface ResolveOptions {
  /**
   * Read past the cache with a `sync` first (ZooKeeper's sync-then-read):
   * the answer is at least as new as the call, and refreshes the cache.
   */
  sync?: boolean;
}

/** A resolved name whose value changed: before and after (null: not bound). */
export interface BindingChange {
  readonly name: string;
  readonly value: string | null;
  readonly old: string | null;
}

/** How the cache did (for monitoring, and for tests). */
export interface NamingStats {
  readonly hits: number;
  readonly misses: number;
  readonly invalidations: number;
}

/** A cached answer: the value, or null for a name not bound. */
interface Cached {
  readonly value: string | null;
}

const MAX_ATTEMPTS = 20;
/** How many times a read whose watch fired meanwhile is done again before it is answered uncached. */
const MAX_REREADS = 16;

/**
 * Names bound to values, resolved through a cache that watches invalidate.
 *
 * ```ts
 * const names = new NamingService(() => ZooGateSession.connect(urls));
 * await names.bind('db/primary', '10.0.0.7:5432');
 * await names.resolve('db/primary');            // '10.0.0.7:5432' (read once, then from the cache)
 * names.lookup('db/primary');                   // the cached answer, no round trip
 * await names.rebind('db/primary', '10.0.0.8:5432'); // every cache holding it is invalidated
 * await names.resolve('db/primary', { sync: true }); // past the cache, at least as new as the call
 * await names.uniqueName('worker');             // 'worker-0000000003'
 * await names.close();
 * ```
 */
export class NamingService {
  readonly root: string;
  readonly idsPath: string;
  private readonly keeper: SessionKeeper;
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<string | null>>();
  /** Bumped when the cache is dropped (session expired): answers read before are not stored. */
  private epoch = 0;
  private readonly changeListeners = new Listeners<(c: BindingChange) => void>();
  private readonly refreshing = new Set<Promise<void>>();
  /** How many `onChange` listeners there are: while any, invalidated names are read again at once. */
  private following = 0;
  private readonly errorListeners = new Listeners<(e: unknown) => void>();
  private _stats = { hits: 0, misses: 0, invalidations: 0 };
  /** Paths whose watch fired while a read of them was under way (read() reads them again). */
  private readonly firedDuringRead = new Set<string>();
  /** One function for every watch the cache sets, so the session holds it once per path. */
  private readonly invalidate: Watcher = (ev) => this.onInvalidate(ev);

  constructor(source: SessionSource, opts: NamingOptions = {}) {
    this.root = checkBasePath(opts.root ?? '/naming');
    this.idsPath = checkBasePath(opts.idsPath ?? `${this.root}-ids`);
    if (this.idsPath === this.root || this.idsPath.startsWith(`${this.root}/`)) throw new ZooGateError('BadArguments', 'the ids path lies outside the names');
    this.keeper = new SessionKeeper(source, {
      renewed: () => this.dropCache(),
      lost: () => this.dropCache(),
      error: (e) => this.errorListeners.emit(e),
    });
  }

  /** Opens the session (a factory's); optional, every call opens it when needed. */
  async start(): Promise<void> {
    await this.keeper.open();
  }

  /**
   * The value bound to `name`, or null if it is not bound: from the cache, or
   * read (and cached, with a watch that invalidates it) on a miss.
   */
  async resolve(name: string, opts: ResolveOptions = {}): Promise<string | null> {
    const path = this.pathOf(name);
    if (!opts.sync) {
      const hit = this.cache.get(path);
      if (hit !== undefined) {
        this._stats.hits++;
        return hit.value;
      }
      const pending = this.inflight.get(path);
      if (pending !== undefined) return pending;
    }
    this._stats.misses++;
    const p = this.read(path, opts.sync ?? false);
    this.inflight.set(path, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(path) === p) this.inflight.delete(path);
    }
  }

  /** The cached answer for `name` (a value, or null for "not bound"), or undefined when nothing is cached. No round trip. */
  lookup(name: string): string | null | undefined {
    return this.cache.get(this.pathOf(name))?.value;
  }

  get stats(): NamingStats {
    return { ...this._stats };
  }

  /**
   * Each change of a name this client resolved (and so caches): while there
   * are listeners, an invalidated name is read again at once, and they hear
   * its new value. Returns the function that removes the listener.
   */
  onChange(fn: (c: BindingChange) => void): () => void {
    const off = this.changeListeners.add(fn);
    this.following++;
    let on = true;
    return () => {
      if (on) this.following--;
      on = false;
      off();
    };
  }

  /**
   * Resolves once the cache reflects at least the state at the time of the
   * call: a `sync` (the invalidations of every change before it arrive before
   * its answer), then the reads of invalidated names under way (with
   * `onChange` listeners) are awaited.
   */
  async catchUp(): Promise<void> {
    const s = await this.keeper.open();
    await s.sync(this.root);
    while (this.refreshing.size > 0) await Promise.all([...this.refreshing]);
  }

  /** A session factory that fails (retried). */
  onError(fn: (e: unknown) => void): () => void {
    return this.errorListeners.add(fn);
  }

  /**
   * Binds `name` to `value` (not empty). If the name is bound already: with
   * `overwrite` the value is replaced, else NodeExists (unless it holds this
   * very value). Missing directories are created.
   */
  async bind(name: string, value: string, opts: { overwrite?: boolean } = {}): Promise<void> {
    if (typeof value !== 'string' || value === '') throw new ZooGateError('BadArguments', 'a bound value is a non-empty string (an empty node is a directory)');
    const path = this.pathOf(name);
    const s = await this.keeper.open();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        await s.create(path, value, { parents: true });
        return;
      } catch (e) {
        if (outcomeUnknown(e) || retryable(e) || errorCode(e) === 'NoNode') {
          // sent again: NodeExists holding our value then says the lost one went through
          await sleep(backoffMs(attempt));
          continue;
        }
        if (errorCode(e) !== 'NodeExists') throw e;
      }
      let cur: { data: string; stat: { version: number } };
      try {
        cur = await s.get(path, { as: 'utf8' });
      } catch (e) {
        if (errorCode(e) === 'NoNode') continue;
        throw e;
      }
      if (cur.data === value) return;
      if (cur.data !== '' && !opts.overwrite) throw new ZooGateError('NodeExists', `${name} is bound already (to ${JSON.stringify(cur.data)})`, { path });
      try {
        await s.set(path, value, { version: cur.stat.version });
        return;
      } catch (e) {
        if (!outcomeUnknown(e) && !retryable(e) && errorCode(e) !== 'BadVersion' && errorCode(e) !== 'NoNode') throw e;
        await sleep(backoffMs(attempt));
      }
    }
    throw new ZooGateError('SystemError', `${name}: could not bind after ${MAX_ATTEMPTS} attempts`, { path });
  }

  /** Binds `name` to `value` whatever it was bound to. */
  rebind(name: string, value: string): Promise<void> {
    return this.bind(name, value, { overwrite: true });
  }

  /**
   * Removes the binding; false if there was none. A name that is also a
   * directory keeps its node, emptied; directories left empty are removed.
   */
  async unbind(name: string): Promise<boolean> {
    const path = this.pathOf(name);
    const s = await this.keeper.open();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let cur: { data: string; stat: { version: number; numChildren: number } };
      try {
        cur = await s.get(path, { as: 'utf8' });
      } catch (e) {
        if (errorCode(e) === 'NoNode') return attempt > 0; // gone; after a lost answer, by our delete
        throw e;
      }
      if (cur.data === '') return false;
      try {
        if (cur.stat.numChildren > 0) await s.set(path, '', { version: cur.stat.version });
        else {
          await s.delete(path, { version: cur.stat.version });
          await this.pruneDirectories(s, parentOf(path));
        }
        return true;
      } catch (e) {
        if (!outcomeUnknown(e) && !retryable(e) && errorCode(e) !== 'BadVersion' && errorCode(e) !== 'NotEmpty' && errorCode(e) !== 'NoNode') throw e;
        await sleep(backoffMs(attempt));
      }
    }
    throw new ZooGateError('SystemError', `${name}: could not unbind after ${MAX_ATTEMPTS} attempts`, { path });
  }

  /** The bound names at or under `prefix` (all by default), sorted; read now, not cached. */
  async list(prefix = ''): Promise<string[]> {
    const s = await this.keeper.open();
    const start = prefix === '' ? this.root : this.pathOf(prefix);
    const out: string[] = [];
    let level = [start];
    while (level.length > 0) {
      const results = await Promise.all(level.map(async (p) => {
        try {
          const [v, kids] = await Promise.all([s.get(p, { as: 'utf8' }), s.children(p)]);
          return { p, v, kids: kids.children };
        } catch (e) {
          if (errorCode(e) === 'NoNode') return null;
          throw e;
        }
      }));
      level = [];
      for (const r of results) {
        if (r === null) continue;
        if (r.p !== this.root && r.v.data !== '') out.push(r.p.slice(this.root.length + 1));
        for (const k of r.kids) if (!k.startsWith('.')) level.push(join(r.p, k));
      }
    }
    return out.sort();
  }

  /**
   * A name nobody else will ever get: `<type>-<10 digits>`, the sequence
   * number of an `ephemeral_sequential` node created under
   * `<idsPath>/<type>` and deleted at once (ZooKeeper counts every child ever
   * created under a node). The counting node is persistent: deleting it
   * restarts the count. A create whose answer was lost is found by its
   * protection GUID (Curator's protection mode), never drawn twice.
   */
  async uniqueName(type: string): Promise<string> {
    if (typeof type !== 'string' || type === '' || type.includes('/') || type.startsWith('.')) {
      throw new ZooGateError('BadArguments', `a name type is one path segment, not ${JSON.stringify(type)}`);
    }
    const s = await this.keeper.open();
    const counter = join(this.idsPath, type);
    // persistent, not a container: a container removed once empty would start counting again
    for (let attempt = 0; ; attempt++) {
      try {
        await s.create(counter, undefined, { parents: true });
        break;
      } catch (e) {
        if (errorCode(e) === 'NodeExists') break;
        if ((outcomeUnknown(e) || retryable(e)) && attempt < MAX_ATTEMPTS) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw e;
      }
    }
    const drawn = await createProtected(s, counter, `${type}-`, undefined, 'ephemeral_sequential');
    await deleteOwned(s, drawn.path).catch((e: unknown) => this.errorListeners.emit(e)); // ephemeral: goes with the session anyway
    return `${type}-${String(sequenceOf(nameOf(drawn.path))).padStart(10, '0')}`;
  }

  /** Drops the cache; closes the session if the service opened it. */
  async close(): Promise<void> {
    this.dropCache();
    await this.keeper.close();
  }

  // ---- the cache ----

  /**
   * Reads `path` with a watch and caches the answer. The get sets a data
   * watch on a bound name; on an absent one it sets nothing, so an `exists`
   * sets the watch for its creation (and if it was created in between, read
   * again).
   */
  private async read(path: string, fresh: boolean): Promise<string | null> {
    for (let attempt = 0, rereads = 0; ; attempt++) {
      // before the first await: an event handled from here on concerns this read
      this.firedDuringRead.delete(path);
      const s = await this.keeper.open();
      const epoch = this.epoch;
      try {
        if (fresh) await s.sync(path);
        let value: string | null;
        try {
          const r = await s.get(path, { as: 'utf8', watch: this.invalidate });
          value = r.data === '' ? null : r.data;
        } catch (e) {
          if (errorCode(e) !== 'NoNode') throw e;
          if ((await s.exists(path, { watch: this.invalidate })) !== null) continue; // created meanwhile
          value = null;
        }
        if (this.firedDuringRead.delete(path)) {
          // its watch fired meanwhile: read again (that sets the watch again), a bounded number of times
          if (++rereads <= MAX_REREADS) {
            attempt--;
            continue;
          }
          return value; // answered, not cached: the next resolve reads
        }
        if (epoch === this.epoch && this.keeper.current === s) this.cache.set(path, { value });
        return value;
      } catch (e) {
        // the session ended while reading: with a factory, a new one answers; else the error stands
        if ((errorCode(e) === 'SessionExpired' || errorCode(e) === 'SessionClosed') && this.keeper.owned && attempt < 3) continue;
        throw e;
      }
    }
  }

  private onInvalidate(ev: WatchEvent): void {
    const old = this.cache.get(ev.path);
    if (old === undefined) {
      // A read of it is under way: its answer may be from before this change (the answer and the
      // event can arrive in one socket read, the event handled before the read's await resumes).
      if (this.inflight.has(ev.path)) this.firedDuringRead.add(ev.path);
      return;
    }
    this.cache.delete(ev.path);
    this._stats.invalidations++;
    if (this.following === 0) return;
    const name = ev.path.slice(this.root.length + 1);
    const p = this.resolve(name).then(
      (value) => {
        if (value !== old.value) this.changeListeners.emit({ name, value, old: old.value });
      },
      (e: unknown) => this.errorListeners.emit(e),
    ).finally(() => this.refreshing.delete(p));
    this.refreshing.add(p);
  }

  private dropCache(): void {
    this.epoch++;
    this.cache.clear();
  }

  /** Deletes the empty directories (no data, no children) from `dir` up to the root (excluded). */
  private async pruneDirectories(s: ZooGateSession, dir: string): Promise<void> {
    for (let p = dir; p !== this.root && p.startsWith(`${this.root}/`); p = parentOf(p)) {
      try {
        const st = await s.exists(p);
        if (st === null) continue;
        if (st.numChildren > 0 || st.dataLength > 0) return;
        await s.delete(p, { version: st.version });
      } catch (e) {
        // in use again (a bind under it, a value) or already gone: leave it to whoever changed it
        if (errorCode(e) === 'NoNode') continue;
        if (errorCode(e) === 'NotEmpty' || errorCode(e) === 'BadVersion') return;
        if (outcomeUnknown(e) || retryable(e)) return;
        throw e;
      }
    }
  }

  private pathOf(name: string): string {
    if (typeof name !== 'string' || name === '' || name.split('/').some((x) => x === '' || x.startsWith('.'))) {
      throw new ZooGateError('BadArguments', `not a name: ${JSON.stringify(name)}`);
    }
    return join(this.root, ...name.split('/'));
  }
}
