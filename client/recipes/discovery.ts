/**
 * Service registry and discovery, after Apache Curator's x-discovery: each
 * instance of a service registers itself as an ephemeral node
 * `<basePath>/<service>/<id>` holding JSON (`{name, id, address, port,
 * metadata, registeredAt}`); clients keep a live cache of a service's
 * instances and choose one by a strategy.
 *
 * - `ServiceRegistry`: register, update (say, the `load` in the metadata),
 *   unregister. An instance lives as long as its session: a process that dies
 *   disappears once its session expires. Given a session factory, the
 *   registry opens a new session after an expiry and registers everything
 *   again (Curator's ServiceDiscoveryImpl re-registers on reconnection).
 * - `ServiceDiscovery`: the instances of one service in a `TreeCache` (one
 *   persistent recursive watch; reloaded after the session moves or is
 *   renewed), with listeners for instances that come, go or change.
 *   `provider(strategy)` gives a `ServiceProvider` whose `getInstance()`
 *   chooses by `roundRobin`, `random`, `sticky`, `leastLoaded` (lowest number
 *   in a metadata field) or a function of the caller's, from the cache, with
 *   no round trip.
 *
 * The service directories are containers (Curator's
 * creatingParentContainersIfNeeded): once a service's last instance is gone,
 * the server removes its node.
 */
import { randomUUID } from 'node:crypto';
import { ZooGateError } from '../errors.ts';
import type { ZooGateSession } from '../session.ts';
import { SessionKeeper, TreeCache, type CacheEvent, type SessionSource } from './cache.ts';
import { backoffMs, createInContainer, errorCode, join, Listeners, outcomeUnknown, retryable, sleep } from './lock-internals.ts';

/** One registered instance of a service, as its node holds it. */
export interface ServiceInstance {
  readonly name: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** Anything the instance publishes about itself: a `load`, a zone, a version, … */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** When it (last) registered, epoch ms. */
  readonly registeredAt: number;
}

/** What to register: an id is made up (a UUID) when absent. */
export interface InstanceSpec {
  id?: string;
  address: string;
  port: number;
  metadata?: Record<string, unknown>;
}

export interface DiscoveryOptions {
  /** Where services live (default `/services`). */
  basePath?: string;
}

export interface RegistryOptions extends DiscoveryOptions {
  /** Replace a node of the same id held by another live session (default false: NodeExists). */
  replaceExisting?: boolean;
}

const DEFAULT_BASE = '/services';

function checkName(what: string, s: string): void {
  if (typeof s !== 'string' || s === '' || s.includes('/') || s === '.' || s === '..') {
    throw new ZooGateError('BadArguments', `a ${what} is one path segment, not ${JSON.stringify(s)}`);
  }
}

function basePathOf(opts: DiscoveryOptions): string {
  const base = opts.basePath ?? DEFAULT_BASE;
  if (!base.startsWith('/') || base === '/' || base.endsWith('/')) throw new ZooGateError('BadArguments', `a base path is an absolute znode path other than /: ${JSON.stringify(base)}`);
  return base;
}

/** What a registry tells its listeners. */
export type RegistryEvent =
  | { readonly type: 'reregistered'; readonly instances: readonly ServiceInstance[]; readonly sessionId: string }
  | { readonly type: 'lost'; readonly reason: ZooGateError };

/**
 * Registers service instances, each an ephemeral node of the registry's
 * session.
 *
 * ```ts
 * const registry = new ServiceRegistry(() => ZooGateSession.connect(urls, { timeoutMs: 10_000 }));
 * const me = await registry.register('web', { address: '10.0.0.5', port: 8080, metadata: { load: 0.2 } });
 * await registry.update('web', me.id, { metadata: { load: 0.7 } });
 * await registry.close();                    // unregisters, closes its session
 * ```
 */
export class ServiceRegistry {
  private readonly keeper: SessionKeeper;
  private readonly basePath: string;
  /** What is registered, by path: registered again, as it is now, after the session expires. */
  private readonly mine = new Map<string, ServiceInstance>();
  /** Sessions this registry used (a node one of them left behind is ours to replace). */
  private readonly pastSessions = new Set<string>();
  private readonly listeners = new Listeners<(e: RegistryEvent) => void>();
  private readonly errorListeners = new Listeners<(e: unknown) => void>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly replaceExisting: boolean;

  /**
   * @param source the session that owns the instances (they go when it ends),
   *   or a factory: then the registry owns its session and registers
   *   everything again in a new one after it expires.
   */
  constructor(source: SessionSource, opts: RegistryOptions = {}) {
    this.basePath = basePathOf(opts);
    this.replaceExisting = opts.replaceExisting ?? false;
    this.keeper = new SessionKeeper(source, {
      renewed: (s) => this.reregister(s),
      lost: (reason) => this.listeners.emit({ type: 'lost', reason }),
      error: (e) => this.errorListeners.emit(e),
    });
  }

  /** Registers an instance (an ephemeral node); resolves with what was registered. */
  register(name: string, spec: InstanceSpec): Promise<ServiceInstance> {
    checkName('service name', name);
    const id = spec.id ?? randomUUID();
    checkName('instance id', id);
    if (typeof spec.address !== 'string' || spec.address === '') return Promise.reject(new ZooGateError('BadArguments', 'an instance needs an address'));
    if (!Number.isInteger(spec.port) || spec.port < 0 || spec.port > 65535) return Promise.reject(new ZooGateError('BadArguments', `not a port: ${spec.port}`));
    const inst: ServiceInstance = { name, id, address: spec.address, port: spec.port, metadata: { ...(spec.metadata ?? {}) }, registeredAt: Date.now() };
    return this.exclusive(async () => {
      const path = this.pathOf(name, id);
      if (this.mine.has(path)) throw new ZooGateError('NodeExists', `${name}/${id} is registered here already (update it instead)`, { path });
      const s = await this.keeper.open();
      this.mine.set(path, inst);
      try {
        await this.write(s, inst);
      } catch (e) {
        this.mine.delete(path);
        throw e;
      }
      return inst;
    });
  }

  /**
   * Changes a registered instance: `metadata` is merged into what it has
   * (a key set to undefined is removed); `address` and `port` replace.
   */
  update(name: string, id: string, change: { address?: string; port?: number; metadata?: Record<string, unknown> }): Promise<ServiceInstance> {
    return this.exclusive(async () => {
      const path = this.pathOf(name, id);
      const old = this.mine.get(path);
      if (old === undefined) throw new ZooGateError('NoNode', `${name}/${id} is not registered here`, { path });
      const metadata: Record<string, unknown> = { ...old.metadata, ...(change.metadata ?? {}) };
      for (const [k, v] of Object.entries(metadata)) if (v === undefined) delete metadata[k];
      const inst: ServiceInstance = { ...old, address: change.address ?? old.address, port: change.port ?? old.port, metadata };
      this.mine.set(path, inst);
      // no session now (being replaced after an expiry): the new one registers the updated instance
      const s = this.keeper.current;
      if (s !== null) await this.write(s, inst);
      return inst;
    });
  }

  /** Removes an instance (its node goes at once). */
  unregister(name: string, id: string): Promise<void> {
    return this.exclusive(async () => {
      const path = this.pathOf(name, id);
      if (!this.mine.delete(path)) return;
      const s = this.keeper.current;
      if (s === null) return;
      for (let attempt = 0; ; attempt++) {
        try {
          // only our own node: another session may hold the id by now
          const st = await s.exists(path);
          if (st === null || st.ephemeralOwner !== s.sessionId) return;
          await s.delete(path, { version: st.version });
          return;
        } catch (e) {
          const code = errorCode(e);
          if (code === 'NoNode' || code === 'SessionExpired' || code === 'SessionClosed') return;
          if ((!outcomeUnknown(e) && !retryable(e) && code !== 'BadVersion') || attempt >= 20) throw e;
          await sleep(backoffMs(attempt));
        }
      }
    });
  }

  /** The instances registered through this registry. */
  registered(): ServiceInstance[] {
    return [...this.mine.values()];
  }

  /** The session holding the instances (null while it is being replaced, or once lost). */
  get session(): ZooGateSession | null {
    return this.keeper.current;
  }

  /** Re-registration after an expiry, or the loss of a session it was given. */
  onEvent(fn: (e: RegistryEvent) => void): () => void {
    return this.listeners.add(fn);
  }

  /** Failures to re-register, a session factory that fails (retried). */
  onError(fn: (e: unknown) => void): () => void {
    return this.errorListeners.add(fn);
  }

  /** Unregisters everything and closes the session if the registry opened it. */
  async close(): Promise<void> {
    for (const inst of [...this.mine.values()]) await this.unregister(inst.name, inst.id).catch((e: unknown) => this.errorListeners.emit(e));
    await this.keeper.close();
  }

  private pathOf(name: string, id: string): string {
    return join(this.basePath, name, id);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  /**
   * Makes the instance's node hold `inst`, owned by `s`. A create whose answer
   * was lost is simply sent again: NodeExists with our session as the owner
   * means the first one went through. A node left by one of our past sessions
   * (expired, its ephemerals not deleted yet) is replaced.
   */
  private async write(s: ZooGateSession, inst: ServiceInstance): Promise<void> {
    const path = this.pathOf(inst.name, inst.id);
    const json = JSON.stringify(inst);
    this.pastSessions.add(s.sessionId);
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await createInContainer(s, path, json, 'ephemeral');
        return;
      } catch (e) {
        if (outcomeUnknown(e)) {
          await sleep(backoffMs(attempt));
          continue;
        }
        if (errorCode(e) !== 'NodeExists') throw e;
      }
      try {
        const st = await s.exists(path);
        if (st === null) continue;
        if (st.ephemeralOwner === s.sessionId) {
          await s.set(path, json, { version: st.version });
          return;
        }
        if (st.ephemeralOwner === null || (!this.pastSessions.has(st.ephemeralOwner) && !this.replaceExisting)) {
          throw new ZooGateError('NodeExists', `${path} is registered by another ${st.ephemeralOwner === null ? 'client (a persistent node)' : `session (${st.ephemeralOwner})`}`, { path });
        }
        await s.delete(path, { version: st.version });
      } catch (e) {
        const code = errorCode(e);
        if (outcomeUnknown(e) || retryable(e) || code === 'NoNode' || code === 'BadVersion') {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw e;
      }
    }
    throw new ZooGateError('SystemError', `${path}: could not register after 50 attempts`, { path });
  }

  private async reregister(s: ZooGateSession): Promise<void> {
    await this.exclusive(async () => {
      for (const [path, inst] of this.mine) {
        for (let attempt = 0; ; attempt++) {
          if (this.keeper.current !== s) return; // this one ended too: the next session starts over
          try {
            const again = { ...inst, registeredAt: Date.now() };
            await this.write(s, again);
            this.mine.set(path, again);
            break;
          } catch (e) {
            if (this.keeper.current !== s) return;
            this.errorListeners.emit(e);
            if (errorCode(e) === 'NodeExists' || attempt >= 20) break;
            await sleep(backoffMs(attempt, 100, 2000));
          }
        }
      }
      this.listeners.emit({ type: 'reregistered', instances: [...this.mine.values()], sessionId: s.sessionId });
    });
  }
}

/** A change of the instances a `ServiceDiscovery` sees. */
export type InstanceChange =
  | { readonly type: 'added'; readonly instance: ServiceInstance }
  | { readonly type: 'updated'; readonly instance: ServiceInstance; readonly old: ServiceInstance }
  | { readonly type: 'removed'; readonly old: ServiceInstance };

/** What reads the services under a base path: a session or a REST client. */
export interface ChildrenReader {
  children(path: string): Promise<{ children: string[] }>;
}

/**
 * The live instances of one service, cached and kept current by a persistent
 * recursive watch on `<basePath>/<name>` (see `TreeCache`).
 *
 * ```ts
 * const web = new ServiceDiscovery(() => ZooGateSession.connect(urls), 'web');
 * await web.start();
 * const provider = web.provider('leastLoaded');
 * const inst = provider.getInstance();    // { address, port, metadata, … } or null
 * ```
 */
export class ServiceDiscovery {
  readonly path: string;
  private readonly cache: TreeCache;
  private readonly byId = new Map<string, ServiceInstance>();
  private readonly listeners = new Listeners<(instances: readonly ServiceInstance[], change: InstanceChange) => void>();
  private readonly errorListeners = new Listeners<(e: unknown) => void>();

  constructor(source: SessionSource, readonly name: string, opts: DiscoveryOptions = {}) {
    checkName('service name', name);
    this.path = join(basePathOf(opts), name);
    this.cache = new TreeCache(source, this.path, { maxDepth: 1 });
    this.cache.onChange((e) => this.onCacheChange(e));
    this.cache.onError((e) => this.errorListeners.emit(e));
  }

  /** The services registered under a base path (now, not cached). */
  static async services(reader: ChildrenReader, opts: DiscoveryOptions = {}): Promise<string[]> {
    try {
      return (await reader.children(basePathOf(opts))).children.sort();
    } catch (e) {
      if (errorCode(e) === 'NoNode') return [];
      throw e;
    }
  }

  /** Loads the instances and starts following them. */
  start(): Promise<void> {
    return this.cache.start();
  }

  /** The instances now, sorted by id. */
  instances(): ServiceInstance[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  instance(id: string): ServiceInstance | undefined {
    return this.byId.get(id);
  }

  /** Each change, with the instances after it. Returns the function that removes the listener. */
  onChange(fn: (instances: readonly ServiceInstance[], change: InstanceChange) => void): () => void {
    return this.listeners.add(fn);
  }

  /** Nodes that are not instances (bad JSON), failed reads, a session factory that fails. */
  onError(fn: (e: unknown) => void): () => void {
    return this.errorListeners.add(fn);
  }

  /** Resolves once the instances reflect at least the state at the time of the call. */
  catchUp(): Promise<void> {
    return this.cache.catchUp();
  }

  /** A provider choosing among the instances by a strategy (default round robin). */
  provider(strategy: ProviderStrategy | ProviderOptions = 'roundRobin'): ServiceProvider {
    return new ServiceProvider(() => this.instances(), strategy);
  }

  close(): Promise<void> {
    return this.cache.close();
  }

  private onCacheChange(e: CacheEvent): void {
    if (e.path === this.path) return; // the service's own node
    const id = e.path.slice(this.path.length + 1);
    const old = this.byId.get(id);
    const inst = e.type === 'deleted' ? null : this.parse(id, e.entry.text);
    let change: InstanceChange | null = null;
    if (inst === null) {
      if (old !== undefined) {
        this.byId.delete(id);
        change = { type: 'removed', old };
      }
    } else {
      this.byId.set(id, inst);
      change = old === undefined ? { type: 'added', instance: inst } : { type: 'updated', instance: inst, old };
    }
    if (change !== null) this.listeners.emit(this.instances(), change);
  }

  private parse(id: string, text: string): ServiceInstance | null {
    try {
      const v = JSON.parse(text) as Partial<ServiceInstance> | null;
      if (typeof v !== 'object' || v === null || typeof v.address !== 'string' || typeof v.port !== 'number') throw new Error('not {address, port, …}');
      const metadata = typeof v.metadata === 'object' && v.metadata !== null ? v.metadata : {};
      return { name: this.name, id, address: v.address, port: v.port, metadata, registeredAt: typeof v.registeredAt === 'number' ? v.registeredAt : 0 };
    } catch (err) {
      this.errorListeners.emit(new ZooGateError('BadArguments', `${this.path}/${id} is not a service instance: ${(err as Error).message}`, { path: `${this.path}/${id}` }));
      return null;
    }
  }
}

/**
 * A strategy of the caller's (Curator's ProviderStrategy): given the usable
 * instances (sorted by id, never empty) and the one it chose last time,
 * return one of them.
 */
export type StrategyFn = (instances: readonly ServiceInstance[], last: ServiceInstance | null) => ServiceInstance | null | undefined;

/**
 * How a provider chooses:
 * - `roundRobin`: each in turn (by id);
 * - `random`;
 * - `sticky`: the same instance for as long as it is usable, then another
 *   chosen by `fallback` (default round robin): Curator's StickyStrategy;
 * - `leastLoaded`: the lowest number in metadata `field` (default `load`;
 *   instances without a number come last), ties in turn;
 * - a function of the caller's.
 */
export type ProviderStrategy =
  | 'roundRobin'
  | 'random'
  | 'sticky'
  | 'leastLoaded'
  | { readonly kind: 'sticky'; readonly fallback?: ProviderStrategy }
  | { readonly kind: 'leastLoaded'; readonly field?: string }
  | StrategyFn;

export interface ProviderOptions {
  strategy: ProviderStrategy;
  /** Only instances for which this holds are chosen (Curator's additionalFilter). */
  filter?: (instance: ServiceInstance) => boolean;
  /**
   * Curator's DownInstancePolicy: an instance reported `errorThreshold` times
   * (default 2) by `noteError` is not chosen for `timeoutMs` (default 30 s).
   */
  downInstancePolicy?: { timeoutMs?: number; errorThreshold?: number };
}

function providerOptions(s: ProviderStrategy | ProviderOptions): ProviderOptions {
  return typeof s === 'object' && 'strategy' in s ? s : { strategy: s };
}

type Picker = (instances: readonly ServiceInstance[], last: ServiceInstance | null) => ServiceInstance | null;

function picker(strategy: ProviderStrategy): Picker {
  if (typeof strategy === 'function') {
    return (xs, last) => {
      const chosen = strategy(xs, last) ?? null;
      // a custom strategy may only choose among what it was given
      return chosen !== null && xs.some((x) => x.id === chosen.id) ? chosen : null;
    };
  }
  const kind = typeof strategy === 'string' ? strategy : strategy.kind;
  switch (kind) {
    case 'roundRobin': {
      let i = 0;
      return (xs) => xs[i++ % xs.length] ?? null;
    }
    case 'random':
      return (xs) => xs[Math.floor(Math.random() * xs.length)] ?? null;
    case 'sticky': {
      const fallback = picker((typeof strategy === 'object' && strategy.kind === 'sticky' ? strategy.fallback : undefined) ?? 'roundRobin');
      return (xs, last) => (last !== null ? xs.find((x) => x.id === last.id) : undefined) ?? fallback(xs, last);
    }
    case 'leastLoaded': {
      const field = (typeof strategy === 'object' && strategy.kind === 'leastLoaded' ? strategy.field : undefined) ?? 'load';
      const loadOf = (x: ServiceInstance) => {
        const v = x.metadata[field];
        return typeof v === 'number' && Number.isFinite(v) ? v : Infinity;
      };
      let turn = 0;
      return (xs) => {
        const min = Math.min(...xs.map(loadOf));
        const best = xs.filter((x) => loadOf(x) === min);
        return best[turn++ % best.length] ?? null;
      };
    }
    default:
      throw new ZooGateError('BadArguments', `unknown strategy ${JSON.stringify(kind)}`);
  }
}

/**
 * Chooses an instance of a service by a strategy, from a `ServiceDiscovery`'s
 * live cache (so `getInstance` is synchronous and costs no round trip).
 */
export class ServiceProvider {
  private readonly pick: Picker;
  private readonly filter: (instance: ServiceInstance) => boolean;
  private readonly downForMs: number;
  private readonly errorThreshold: number;
  private readonly errors = new Map<string, { count: number; downUntil: number }>();
  private last: ServiceInstance | null = null;

  constructor(private readonly list: () => readonly ServiceInstance[], strategy: ProviderStrategy | ProviderOptions = 'roundRobin') {
    const opts = providerOptions(strategy);
    this.pick = picker(opts.strategy);
    this.filter = opts.filter ?? (() => true);
    this.downForMs = opts.downInstancePolicy?.timeoutMs ?? 30_000;
    this.errorThreshold = opts.downInstancePolicy?.errorThreshold ?? 2;
  }

  /** An instance by the strategy, or null when none is usable. */
  getInstance(): ServiceInstance | null {
    const usable = this.usable();
    const chosen = usable.length === 0 ? null : this.pick(usable, this.last);
    this.last = chosen;
    return chosen;
  }

  /** Every instance now (usable or not). */
  getAllInstances(): readonly ServiceInstance[] {
    return this.list();
  }

  /** Reports an instance that failed the caller; enough reports make it down for a while. */
  noteError(instance: ServiceInstance): void {
    const now = Date.now();
    const e = this.errors.get(instance.id) ?? { count: 0, downUntil: 0 };
    if (e.downUntil !== 0 && e.downUntil <= now) {
      e.count = 0;
      e.downUntil = 0;
    }
    e.count++;
    if (e.count >= this.errorThreshold) e.downUntil = now + this.downForMs;
    this.errors.set(instance.id, e);
  }

  private usable(): ServiceInstance[] {
    const now = Date.now();
    return this.list().filter((x) => {
      const e = this.errors.get(x.id);
      if (e !== undefined && e.downUntil > now) return false;
      return this.filter(x);
    });
  }
}
