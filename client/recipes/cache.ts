/**
 * Caches of znodes kept current by persistent watches, as Apache Curator's
 * CuratorCache: `TreeCache` (a node and its whole subtree, one
 * `persistent_recursive` watch), `NodeCache` (one node, one `persistent`
 * watch), and `ConfigWatcher` (typed configuration at one path) on top.
 * Publish/subscribe is the same thing seen from the other side: publishers
 * write nodes under a topic, subscribers hold a `TreeCache` of it and hear
 * every created, changed and deleted node.
 *
 * How they stay right:
 *
 * - **Watch first, then read.** The watch is added before the first read, so
 *   every change after the load arrives as an event. Events that arrive while
 *   the cache loads wait, and are applied once it has loaded.
 * - **Each event is answered by reading the node it names** (Curator's
 *   nodeChanged); a deletion removes the node and what was cached under it.
 *   One session answers in order and never from older state than it has seen
 *   (also after it moves), so results applied in the order they were asked
 *   for only move the cache forward. Zxids skip what is already covered: a
 *   cached mzxid at or after the event's, or a deletion of a node whose cached
 *   incarnation was created after it.
 * - **After the session moves** to another node (`Reconnected`) the cache
 *   reloads the subtree and reports the differences as ordinary events, as
 *   Curator rebuilds on reconnection. The SDK also resumes the watch with the
 *   last zxid it saw and the node replays what it missed, so this reload
 *   usually finds nothing new; it is what makes the cache right even when the
 *   node could not replay (say, its log was purged past that zxid) or a read
 *   failed meanwhile.
 * - **After the session expires** the watch is gone and changes may have
 *   been missed: with a session factory the cache opens a new session (synced
 *   with the leader, so never older than what it saw), adds the watch again,
 *   reloads and reports the differences (then `rebuilt`); with a session it
 *   was given, it stops following and reports `lost`.
 */
import { ZooGateError } from '../errors.ts';
import type { StateChange, ZooGateSession } from '../session.ts';
import type { PersistentWatchMode, Stat, WatchEvent } from '../types.ts';
import { backoffMs, checkBasePath, errorCode, join, Listeners, sessionEnded, sleep } from './lock-internals.ts';

/**
 * Where a recipe gets its session: one the caller owns (the recipe never
 * closes it, and stops when it expires), or a factory the recipe calls for
 * its own session, and again for a fresh one whenever that one expires.
 */
export type SessionSource = ZooGateSession | (() => Promise<ZooGateSession>);

const decoder = new TextDecoder('utf-8');

const isNoNode = (e: unknown) => errorCode(e) === 'NoNode';
const isSessionEnd = (e: unknown) => errorCode(e) === 'SessionExpired' || errorCode(e) === 'SessionClosed';

/**
 * The session a long-lived recipe (cache, discovery, naming) works in. Built
 * from a factory, it replaces an expired session by a new one (retrying with
 * backoff until it gets one or is closed), syncs it with the leader, and
 * calls `renewed`, so the recipe rebuilds what the old session held
 * (ephemerals, watches): ZooKeeper's advice after Expired, "create a new
 * handle". Built from a session, it reports the loss instead. Shared by the
 * recipes of this folder; not part of their public API.
 */
export class SessionKeeper {
  private session: ZooGateSession | null = null;
  private readonly factory: (() => Promise<ZooGateSession>) | null;
  private offState: (() => void) | null = null;
  private closed = false;
  private opening: Promise<ZooGateSession> | null = null;
  private renewing: Promise<ZooGateSession | null> | null = null;

  constructor(
    source: SessionSource,
    private readonly hooks: {
      /** A new session replaced an expired one (it is synced with the leader). */
      renewed?: (session: ZooGateSession) => void | Promise<void>;
      /** The session moved to another node (same session, same ephemerals and watches). */
      reconnected?: (session: ZooGateSession) => void;
      /** The session ended and none will replace it (a given session expired, or a session was closed). */
      lost?: (reason: ZooGateError) => void;
      /** The factory failed (it is retried). */
      error?: (err: unknown) => void;
    } = {},
  ) {
    if (typeof source === 'function') this.factory = source;
    else {
      this.factory = null;
      this.adopt(source);
    }
  }

  /** True when the recipe opened the session itself (and so closes it). */
  get owned(): boolean {
    return this.factory !== null;
  }

  /** The session now (null before `open`, while being replaced, and after it was lost). */
  get current(): ZooGateSession | null {
    return this.session;
  }

  /**
   * The session: the current one, the one being opened or renewed, or a new
   * one from the factory. Rejects when there is none and will be none (a given
   * session that ended, or the keeper closed).
   */
  async open(): Promise<ZooGateSession> {
    for (;;) {
      if (this.closed) throw new ZooGateError('SessionClosed', 'the recipe is closed');
      if (this.session !== null) return this.session;
      if (this.renewing !== null) {
        await this.renewing;
        continue;
      }
      if (this.factory === null) throw new ZooGateError('SessionExpired', 'the session the recipe was given has ended');
      this.opening ??= this.factory().finally(() => (this.opening = null));
      const s = await this.opening;
      if (this.closed) {
        await s.close().catch(() => {});
        continue;
      }
      if (this.session === null && !sessionEnded(s)) this.adopt(s);
      if (this.session === s) return s;
    }
  }

  private adopt(s: ZooGateSession): void {
    this.offState?.();
    this.session = s;
    this.offState = s.onState((c) => this.onSessionState(s, c));
    if (sessionEnded(s)) this.onSessionState(s, { state: s.state === 'Closed' ? 'Closed' : 'Expired' });
  }

  private onSessionState(s: ZooGateSession, c: Pick<StateChange, 'state' | 'reason'>): void {
    if (this.session !== s) return;
    if (c.state === 'Reconnected') {
      this.hooks.reconnected?.(s);
      return;
    }
    if (c.state !== 'Expired' && c.state !== 'Closed') return;
    this.session = null;
    this.offState?.();
    this.offState = null;
    if (this.closed) return;
    // Closed is someone's decision (close() on the session): not something to repair
    if (this.factory === null || c.state === 'Closed') {
      const why = c.state === 'Expired' ? 'expired' : 'was closed';
      this.hooks.lost?.(new ZooGateError(c.state === 'Expired' ? 'SessionExpired' : 'SessionClosed', `the session ${why}${c.reason ? ` (${c.reason})` : ''}`));
      return;
    }
    this.renewing = this.renew().finally(() => (this.renewing = null));
  }

  /** A new session for an expired one, synced with the leader so that it never reads older state than the old one saw. */
  private async renew(): Promise<ZooGateSession | null> {
    for (let attempt = 0; !this.closed; attempt++) {
      let s: ZooGateSession | null = null;
      try {
        s = await this.factory!();
        await s.sync('/');
      } catch (e) {
        await s?.close().catch(() => {}); // not synced: not one to use
        this.hooks.error?.(e);
        await sleep(backoffMs(attempt, 100, 2000));
        continue;
      }
      if (this.closed) {
        await s.close().catch(() => {});
        return null;
      }
      if (sessionEnded(s)) continue;
      this.offState?.();
      this.session = s;
      this.offState = s.onState((c) => this.onSessionState(s, c));
      try {
        await this.hooks.renewed?.(s);
      } catch (e) {
        this.hooks.error?.(e);
      }
      return s;
    }
    return null;
  }

  /** Stops renewing; closes the session if the keeper opened it. */
  async close(): Promise<void> {
    this.closed = true;
    this.offState?.();
    this.offState = null;
    const s = this.session;
    this.session = null;
    if (s !== null && this.factory !== null) await s.close().catch(() => {});
  }
}

/** One cached znode: its data (bytes, and as UTF-8 text) and Stat. */
export interface CacheEntry {
  readonly path: string;
  readonly data: Uint8Array;
  /** The data as UTF-8 text. */
  readonly text: string;
  readonly stat: Stat;
}

/** A change the cache saw, with the entry before (`old`) and after (`entry`): Curator's NODE_CREATED, NODE_CHANGED, NODE_DELETED. */
export type CacheEvent =
  | { readonly type: 'created'; readonly path: string; readonly entry: CacheEntry }
  | { readonly type: 'changed'; readonly path: string; readonly entry: CacheEntry; readonly old: CacheEntry }
  | { readonly type: 'deleted'; readonly path: string; readonly old: CacheEntry };

/**
 * What happened to the cache as a whole: `initialized` (first load done, its
 * nodes reported as `created` first, as Curator does), `resynced` (reloaded
 * after the session moved; differences reported first), `rebuilt` (reloaded
 * in a new session after the old one expired; differences reported first),
 * `lost` (the session it was given ended: the cache is frozen), `closed`.
 */
export type CacheState = 'initialized' | 'resynced' | 'rebuilt' | 'lost' | 'closed';

export interface TreeCacheOptions {
  /** How deep below the root to cache: 0 = the root only, 1 = root and children, … (default: all). */
  maxDepth?: number;
}

function entryOf(path: string, data: Uint8Array, stat: Stat): CacheEntry {
  return { path, data, text: decoder.decode(data), stat };
}

function depthBelow(root: string, path: string): number {
  if (path === root) return 0;
  return (root === '/' ? path.slice(1) : path.slice(root.length + 1)).split('/').length;
}

function isAtOrUnder(root: string, path: string): boolean {
  return path === root || root === '/' || path.startsWith(`${root}/`);
}

/** Fewer path segments first (parents before children); deletions go the other way. */
const byDepth = (a: string, b: string) => a.split('/').length - b.split('/').length || (a < b ? -1 : a > b ? 1 : 0);

/**
 * How many caches of one session watch a path (the protocol keeps one watch
 * per session, path and kind): the last one to close removes the watch.
 */
const watchUsers = new WeakMap<ZooGateSession, Map<string, number>>();

function useWatch(s: ZooGateSession, key: string, delta: 1 | -1): number {
  let m = watchUsers.get(s);
  if (m === undefined) watchUsers.set(s, (m = new Map()));
  const n = Math.max(0, (m.get(key) ?? 0) + delta);
  if (n === 0) m.delete(key);
  else m.set(key, n);
  return n;
}

type ReadResult = { ok: true; data: Uint8Array; stat: Stat } | { ok: false; error: unknown };

/**
 * A node and its subtree, cached and kept current with one
 * `persistent_recursive` watch (Curator's CuratorCache). `start()` loads it;
 * `get`, `children`, `entries` read the cache (no round trip); `onChange`
 * hears each created, changed and deleted node with its entry before and
 * after. The root need not exist.
 *
 * ```ts
 * const cache = new TreeCache(() => ZooGateSession.connect(urls), '/app');
 * cache.onChange((e) => console.log(e.type, e.path));
 * await cache.start();
 * cache.get('/app/config')?.text;
 * await cache.close();
 * ```
 */
export class TreeCache {
  readonly root: string;
  private readonly keeper: SessionKeeper;
  private readonly maxDepth: number;
  private entriesByPath = new Map<string, CacheEntry>();
  private readonly changeListeners = new Listeners<(e: CacheEvent) => void>();
  private readonly stateListeners = new Listeners<(s: CacheState) => void>();
  private readonly errorListeners = new Listeners<(e: unknown) => void>();

  /** Bumped at each load and at the end: reads of an older load are ignored. */
  private generation = 0;
  /** The session whose watch feeds the queue. */
  private watching: ZooGateSession | null = null;
  private queue: WatchEvent[] = [];
  private loading = false;
  private pumping = false;
  private drainWaiters: Array<() => void> = [];
  private started: Promise<void> | null = null;
  private everLoaded = false;
  private loadedWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private ended: ZooGateError | null = null;
  private endState: 'lost' | 'closed' | null = null;

  /**
   * @param source a session (the cache stops if it expires) or a factory (the
   *   cache opens its own session and rebuilds in a new one after expiry)
   * @param root the node whose subtree is cached (it need not exist yet)
   */
  constructor(source: SessionSource, root: string, opts: TreeCacheOptions = {}, protected readonly mode: PersistentWatchMode = 'persistent_recursive') {
    this.root = root === '/' ? root : checkBasePath(root);
    const maxDepth = opts.maxDepth ?? Infinity;
    if (!(maxDepth >= 0)) throw new ZooGateError('BadArguments', `maxDepth is 0 or more: ${maxDepth}`);
    this.maxDepth = mode === 'persistent' ? 0 : maxDepth;
    this.keeper = new SessionKeeper(source, {
      renewed: (s) => this.reload(s, 'rebuilt'),
      reconnected: (s) => void this.reload(s, 'resynced'),
      lost: (reason) => this.end(reason, 'lost'),
      error: (e) => this.errorListeners.emit(e),
    });
  }

  /**
   * Loads the subtree and starts following it. Resolves once loaded (the
   * `created` events of the load and `initialized` come first). Idempotent.
   */
  start(): Promise<void> {
    this.started ??= (async () => {
      const s = await this.keeper.open();
      await this.reload(s, 'initialized');
      await this.whenLoaded();
    })();
    return this.started;
  }

  /** The cached node, or undefined. */
  get(path: string): CacheEntry | undefined {
    return this.entriesByPath.get(path);
  }

  /** The cached children's names of a node, sorted (empty when absent or beyond maxDepth). */
  children(path: string): string[] {
    const out: string[] = [];
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const p of this.entriesByPath.keys()) {
      if (p !== path && p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) out.push(p.slice(prefix.length));
    }
    return out.sort();
  }

  /** Every cached node, by path. */
  entries(): ReadonlyMap<string, CacheEntry> {
    return this.entriesByPath;
  }

  get size(): number {
    return this.entriesByPath.size;
  }

  /** True when its session ended for good (a given session expired or was closed): the cache no longer follows changes. */
  get lost(): boolean {
    return this.endState === 'lost';
  }

  /** The session the cache reads through (null while being replaced, and after the end). */
  get session(): ZooGateSession | null {
    return this.keeper.current;
  }

  /** The session, waiting for a replacement after expiry (rejects once there will be none). */
  openSession(): Promise<ZooGateSession> {
    return this.keeper.open();
  }

  /** Each created, changed, deleted node; returns the function that removes the listener. */
  onChange(fn: (e: CacheEvent) => void): () => void {
    return this.changeListeners.add(fn);
  }

  onState(fn: (s: CacheState) => void): () => void {
    return this.stateListeners.add(fn);
  }

  /** Errors: failed reads other than NoNode (the cache reloads), a session factory that fails (retried). */
  onError(fn: (e: unknown) => void): () => void {
    return this.errorListeners.add(fn);
  }

  /**
   * Resolves once the cache reflects at least the ensemble's state at the time
   * of the call: a `sync` (the session's node catches up with the leader, and
   * the events of every change before it arrive before its answer), then every
   * event queued until then is applied. ZooKeeper's sync-then-read, for a
   * cache. Rejects if the cache has ended.
   */
  async catchUp(): Promise<void> {
    await this.start();
    for (;;) {
      if (this.ended !== null) throw this.ended;
      const s = this.keeper.current;
      if (s === null) {
        await this.keeper.open().catch(() => {});
        continue;
      }
      try {
        await s.sync(this.root);
      } catch (e) {
        if (isSessionEnd(e)) continue; // a new session rebuilds; wait for it
        throw e;
      }
      // whatever load or pump runs now started after the sync was asked for: once done, it covers it
      await this.drained();
      if (this.ended !== null) throw this.ended;
      return;
    }
  }

  /** Stops following changes; closes the session if the cache opened it, else removes its watch (if no other cache of this session uses it). */
  async close(): Promise<void> {
    if (this.ended !== null) return;
    const s = this.watching;
    this.end(new ZooGateError('SessionClosed', 'the cache is closed'), 'closed');
    if (s !== null && !this.keeper.owned && !sessionEnded(s) && useWatch(s, this.watchKey, -1) === 0) {
      await s.removeWatches(this.root, this.mode).catch(() => {});
    }
    await this.keeper.close();
  }

  // ---- loading ----

  private get watchKey(): string {
    return `${this.mode}\u0000${this.root}`;
  }

  private whenLoaded(): Promise<void> {
    if (this.everLoaded) return Promise.resolve();
    if (this.ended !== null) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => this.loadedWaiters.push({ resolve, reject }));
  }

  /**
   * (Re)loads the subtree on session `s`: adds the watch if this session has
   * not got it yet, reads everything, swaps the cache and reports the
   * differences, then applies the events that came meanwhile. A newer load
   * supersedes an older one. A failure other than the session's end is
   * retried (except the first load's, which `start()` reports).
   */
  private async reload(s: ZooGateSession, why: 'initialized' | 'resynced' | 'rebuilt'): Promise<void> {
    if (this.ended !== null || (why !== 'initialized' && this.started === null)) return;
    const gen = ++this.generation;
    // what was queued happened before the reads below are answered: the load covers it
    this.queue = [];
    this.loading = true;
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.watching !== s) {
          this.watching = s;
          try {
            // one function per session, so the cache reads only events of the session it follows
            await s.addWatch(this.root, this.mode, (ev) => this.onWatchEvent(s, ev));
          } catch (e) {
            if (this.watching === s) this.watching = null;
            throw e;
          }
          useWatch(s, this.watchKey, 1);
        }
        const fresh = await this.readTree(s);
        if (gen !== this.generation) return;
        const old = this.entriesByPath;
        this.entriesByPath = fresh;
        this.loading = false;
        this.reportDifferences(old, fresh);
        const first = !this.everLoaded;
        this.everLoaded = true;
        this.stateListeners.emit(first ? 'initialized' : why);
        for (const w of this.loadedWaiters.splice(0)) w.resolve();
        this.kick();
        return;
      } catch (e) {
        if (gen !== this.generation || this.ended !== null) return;
        // the session ended: the keeper renews it (and reloads) or reports the loss
        if (isSessionEnd(e) || this.keeper.current !== s) return;
        if (!this.everLoaded && why === 'initialized') {
          this.loading = false;
          this.watching = null;
          this.started = null;
          throw e;
        }
        this.errorListeners.emit(e);
        await sleep(backoffMs(attempt, 50, 2000));
        if (gen !== this.generation) return;
      }
    }
  }

  /** The subtree as it is now, level by level, reads pipelined on the session. */
  private async readTree(s: ZooGateSession): Promise<Map<string, CacheEntry>> {
    const out = new Map<string, CacheEntry>();
    let level = [this.root];
    for (let depth = 0; level.length > 0; depth++) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += 256) {
        const chunk = level.slice(i, i + 256);
        const results = await Promise.all(chunk.map(async (p) => {
          const [value, kids] = await Promise.all([
            s.get(p).catch((e: unknown) => (isNoNode(e) ? null : Promise.reject(e))),
            depth < this.maxDepth ? s.children(p).catch((e: unknown) => (isNoNode(e) ? null : Promise.reject(e))) : null,
          ]);
          return { p, value, kids };
        }));
        for (const { p, value, kids } of results) {
          if (value === null) continue; // deleted since its parent was listed: its event follows
          out.set(p, entryOf(p, value.data, value.stat));
          for (const k of kids?.children ?? []) next.push(join(p, k));
        }
      }
      level = next;
    }
    return out;
  }

  private reportDifferences(old: Map<string, CacheEntry>, fresh: Map<string, CacheEntry>): void {
    const gone = [...old.keys()].filter((p) => {
      const f = fresh.get(p);
      return f === undefined || f.stat.czxid !== old.get(p)!.stat.czxid;
    });
    for (const p of gone.sort(byDepth).reverse()) this.emitChange({ type: 'deleted', path: p, old: old.get(p)! });
    for (const p of [...fresh.keys()].sort(byDepth)) {
      const e = fresh.get(p)!;
      const o = old.get(p);
      if (o === undefined || o.stat.czxid !== e.stat.czxid) this.emitChange({ type: 'created', path: p, entry: e });
      else if (o.stat.mzxid !== e.stat.mzxid) this.emitChange({ type: 'changed', path: p, entry: e, old: o });
    }
  }

  // ---- following changes ----

  private inScope(path: string): boolean {
    return isAtOrUnder(this.root, path) && depthBelow(this.root, path) <= this.maxDepth;
  }

  private onWatchEvent(s: ZooGateSession, ev: WatchEvent): void {
    if (s !== this.watching || this.ended !== null || ev.event === 'NodeChildrenChanged' || !this.inScope(ev.path)) return;
    this.queue.push(ev);
    this.kick();
  }

  /** Applies what is queued, unless a load is under way (it kicks again when done). */
  private kick(): void {
    if (this.loading || this.pumping) return;
    const s = this.watching;
    if (this.queue.length === 0 || s === null || this.ended !== null) {
      this.wakeDrained();
      return;
    }
    void this.pump(s, this.generation);
  }

  /**
   * Applies queued events in order. The reads of a batch are sent together
   * and their results applied in the order sent: one session answers in order,
   * so each result is at least as new as the one before.
   */
  private async pump(s: ZooGateSession, gen: number): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && gen === this.generation) {
        const batch = this.queue.splice(0, 256);
        const reads = batch.map((ev) => {
          if (ev.event === 'NodeDeleted') return null;
          const cached = this.entriesByPath.get(ev.path);
          if (cached !== undefined && cached.stat.mzxid >= ev.zxid) return null; // already read at or after this change
          return s.get(ev.path).then((v): ReadResult => ({ ok: true, data: v.data, stat: v.stat }), (error: unknown): ReadResult => ({ ok: false, error }));
        });
        for (let i = 0; i < batch.length; i++) {
          const ev = batch[i]!;
          const read = reads[i];
          if (read === null || read === undefined) {
            if (ev.event === 'NodeDeleted') this.applyDeleted(ev.path, ev.zxid);
            continue;
          }
          const r = await read;
          if (gen !== this.generation) return;
          if (r.ok) this.applyRead(ev.path, r.data, r.stat);
          else if (isNoNode(r.error)) this.applyAbsent(ev.path);
          else if (isSessionEnd(r.error)) return; // the keeper renews the session and rebuilds, or reports the loss
          else {
            // a read that failed (say, ConnectionLoss with retryReads off): that change is not known, so reload
            this.errorListeners.emit(r.error);
            void this.reload(s, 'resynced');
            return;
          }
        }
      }
    } finally {
      this.pumping = false;
      this.kick();
    }
  }

  private applyRead(path: string, data: Uint8Array, stat: Stat): void {
    const old = this.entriesByPath.get(path);
    if (old !== undefined) {
      if (stat.czxid < old.stat.czxid || (stat.czxid === old.stat.czxid && stat.mzxid <= old.stat.mzxid)) return; // not newer
      // a new incarnation: the old one (and what was cached under it, created before) went
      if (stat.czxid !== old.stat.czxid) this.applyDeleted(path, stat.czxid);
    }
    const before = this.entriesByPath.get(path);
    const entry = entryOf(path, data, stat);
    this.entriesByPath.set(path, entry);
    this.emitChange(before === undefined ? { type: 'created', path, entry } : { type: 'changed', path, entry, old: before });
  }

  /** The node is absent now (a read said NoNode): it and its subtree go. */
  private applyAbsent(path: string): void {
    this.removeSubtree(path, () => true);
  }

  /** Deleted at `zxid`: what was cached of it (and under it) was created before, unless a newer incarnation was read. */
  private applyDeleted(path: string, zxid: number): void {
    const cached = this.entriesByPath.get(path);
    if (cached !== undefined && cached.stat.czxid >= zxid) return;
    this.removeSubtree(path, (e) => e.stat.czxid < zxid);
  }

  private removeSubtree(path: string, which: (e: CacheEntry) => boolean): void {
    const prefix = path === '/' ? '/' : `${path}/`;
    const gone: CacheEntry[] = [];
    for (const [p, e] of this.entriesByPath) if ((p === path || p.startsWith(prefix)) && which(e)) gone.push(e);
    // deepest first, as the tree deletes them
    gone.sort((a, b) => byDepth(b.path, a.path));
    for (const e of gone) {
      this.entriesByPath.delete(e.path);
      this.emitChange({ type: 'deleted', path: e.path, old: e });
    }
  }

  private drained(): Promise<void> {
    if (this.ended !== null || (this.queue.length === 0 && !this.pumping && !this.loading && this.everLoaded)) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private wakeDrained(): void {
    if (this.loading) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private end(reason: ZooGateError, state: 'lost' | 'closed'): void {
    if (this.ended !== null) return;
    this.ended = reason;
    this.endState = state;
    this.generation++;
    this.queue = [];
    this.loading = false;
    for (const w of this.loadedWaiters.splice(0)) w.reject(reason);
    this.wakeDrained();
    this.stateListeners.emit(state);
  }

  private emitChange(e: CacheEvent): void {
    this.changeListeners.emit(e);
  }
}

/**
 * One node, cached and kept current with a `persistent` watch (Curator's
 * NodeCache, CuratorCache's SINGLE_NODE_CACHE): `current` is its entry, or
 * undefined while it does not exist.
 */
export class NodeCache extends TreeCache {
  constructor(source: SessionSource, path: string) {
    super(source, path, { maxDepth: 0 }, 'persistent');
  }

  /** The node's entry now, or undefined when it does not exist. */
  get current(): CacheEntry | undefined {
    return this.get(this.root);
  }
}

export interface ConfigWatcherOptions<T> {
  /** Text to value (default `JSON.parse`); throw to reject a value (reported; the last good one stays). */
  parse?: (text: string) => T;
  /** Value to text (default `JSON.stringify`), for `set` and `update`. */
  serialize?: (value: T) => string;
  /** The value while the node does not exist (default undefined). */
  defaultValue?: T;
}

/**
 * Typed configuration at one znode, pushed to every watcher as it changes:
 * `value` is always the latest good value, `onChange` hears each new one, and
 * `set`/`update` write it (`update` is a compare-and-set on the version,
 * retried, so concurrent updaters never lose each other's changes).
 *
 * ```ts
 * const cfg = new ConfigWatcher<{ port: number }>(() => ZooGateSession.connect(urls), '/app/config', { defaultValue: { port: 80 } });
 * cfg.onChange((value, old) => reconfigure(value));
 * await cfg.start();                        // the current value
 * await cfg.update((c) => ({ ...c!, port: c!.port + 1 }));
 * ```
 */
export class ConfigWatcher<T> {
  private readonly cache: NodeCache;
  private readonly parse: (text: string) => T;
  private readonly serialize: (value: T) => string;
  private _value: T | undefined;
  private _stat: Stat | null = null;
  private readonly listeners = new Listeners<(value: T | undefined, old: T | undefined, stat: Stat | null) => void>();
  private readonly errorListeners = new Listeners<(e: unknown) => void>();

  constructor(source: SessionSource, readonly path: string, private readonly opts: ConfigWatcherOptions<T> = {}) {
    this.parse = opts.parse ?? ((t) => JSON.parse(t) as T);
    this.serialize = opts.serialize ?? ((v) => JSON.stringify(v));
    this._value = opts.defaultValue;
    this.cache = new NodeCache(source, path);
    this.cache.onChange((e) => this.onCacheChange(e));
    this.cache.onError((e) => this.errorListeners.emit(e));
  }

  /** Reads the configuration and starts following it; resolves with the current value. */
  async start(): Promise<T | undefined> {
    await this.cache.start();
    return this._value;
  }

  /** The latest good value (the default while the node is absent). */
  get value(): T | undefined {
    return this._value;
  }

  /** The Stat of the node the value came from (null while absent). */
  get stat(): Stat | null {
    return this._stat;
  }

  /** Each new value, with the one before. Returns a function that removes the listener. */
  onChange(fn: (value: T | undefined, old: T | undefined, stat: Stat | null) => void): () => void {
    return this.listeners.add(fn);
  }

  /** Values that did not parse, failed reads, a session factory that fails. */
  onError(fn: (e: unknown) => void): () => void {
    return this.errorListeners.add(fn);
  }

  /** Resolves once `value` reflects at least the state at the time of the call. */
  catchUp(): Promise<void> {
    return this.cache.catchUp();
  }

  /** Writes a value (creating the node and its parents if absent). */
  set(value: T): Promise<Stat> {
    return this.update(() => value);
  }

  /**
   * Read-modify-write: `fn` gets the current value and returns the next;
   * written only if the node has not changed since it was read (else it is
   * read again and `fn` runs on the newer value). A write whose outcome is
   * unknown (ConnectionLoss) is resolved by reading the node again: a new
   * version holding exactly the text written means done, else `fn` runs again
   * on what is there (so `fn` should not depend on how often it runs).
   */
  async update(fn: (current: T | undefined) => T, maxAttempts = 50): Promise<Stat> {
    await this.cache.start();
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const s = await this.cache.openSession();
      const read = await this.read(s);
      const text = this.serialize(fn(read === null ? this.opts.defaultValue : this.parse(read.text)));
      try {
        if (read === null) return (await s.create(this.path, text, { parents: true })).stat;
        return (await s.set(this.path, text, { version: read.stat.version })).stat;
      } catch (e) {
        const code = errorCode(e);
        if (code === 'ConnectionLoss' || code === 'OperationTimeout') {
          await s.sync(this.path);
          const now = await this.read(s);
          if (now !== null && now.text === text && (read === null || now.stat.version > read.stat.version)) return now.stat;
          continue;
        }
        if (code !== 'BadVersion' && code !== 'NodeExists' && code !== 'NoNode' && code !== 'NoQuorum' && code !== 'Throttled') throw e;
        await sleep(backoffMs(attempt, 5, 200));
      }
    }
    throw new ZooGateError('BadVersion', `${this.path}: still contended after ${maxAttempts} attempts`, { path: this.path });
  }

  private async read(s: ZooGateSession): Promise<{ text: string; stat: Stat } | null> {
    try {
      const r = await s.get(this.path, { as: 'utf8' });
      return { text: r.data, stat: r.stat };
    } catch (e) {
      if (isNoNode(e)) return null;
      throw e;
    }
  }

  /** Stops following the configuration. */
  close(): Promise<void> {
    return this.cache.close();
  }

  private onCacheChange(e: CacheEvent): void {
    const old = this._value;
    if (e.type === 'deleted') {
      this._stat = null;
      this._value = this.opts.defaultValue;
    } else {
      let v: T;
      try {
        v = this.parse(e.entry.text);
      } catch (err) {
        this.errorListeners.emit(new ZooGateError('BadArguments', `${this.path}: a value that does not parse was ignored (version ${e.entry.stat.version}): ${(err as Error).message}`, { path: this.path }));
        return;
      }
      this._stat = e.entry.stat;
      this._value = v;
    }
    this.listeners.emit(this._value, old, this._stat);
  }
}
