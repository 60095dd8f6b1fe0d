/**
 * Leader election, as ZooKeeper's recipes page describes it and Curator's
 * LeaderLatch implements it: every candidate creates an
 * `ephemeral_sequential` node `_c_<guid>-latch-N` under the election path
 * (its data: the candidate's id); the lowest node leads; every other watches
 * only the node just below its own (no herd: when the leader goes, only the
 * next candidate wakes), and re-checks when it goes.
 *
 * ```ts
 * const latch = new LeaderLatch(session, '/election/orders', { id: 'worker-7' });
 * latch.addListener({ isLeader: () => startLeading(), notLeader: () => stopLeading() });
 * await latch.start();
 * await latch.await();                       // resolves true once this candidate leads
 * await getLeader(session, '/election/orders');   // { id, node, isLeader: true } | null
 * await latch.close();                       // gives up (the next candidate takes over)
 * ```
 *
 * **When leadership is lost.** A leader whose session expires (or is closed)
 * reports `notLeader` and the latch ends in state `lost`: its node is gone, so
 * it cannot lead again; build a new session and a new latch, as after
 * ZooKeeper's Expired. Curator reports `notLeader` already on SUSPENDED (the
 * connection dropped), because a ZooKeeper client cannot tell a brief drop
 * from the start of an expiry. With ZooGate a session moves to another node
 * in well under its timeout when its node dies, keeping its ephemerals, so by
 * default a Disconnected session keeps leading and only Expired ends it. The
 * price: a leader that is itself cut off (paused, partitioned) hears of the
 * expiry about when the server decides it, so for a moment two processes can
 * think they lead. `loseOnDisconnect: true` closes that gap as Curator does:
 * the leader steps down (`notLeader`) as soon as its socket is lost, which
 * the client notices after 2/3 of the session timeout of silence, before the
 * server can expire the session; once the session is back (`Reconnected`)
 * the latch re-checks and, if its node is still the lowest, leads again
 * (`isLeader`). Unlike Curator it keeps its place in the queue (the node
 * survived with the session). A leader also watches its own node, so if
 * someone deletes it (an operator, say) the leader steps down and queues
 * again rather than lead beside the next candidate.
 */
import { ZooGateError } from '../errors.ts';
import type { ZooGateSession } from '../session.ts';
import {
  awaitChangeOf, backoffMs, checkBasePath, createProtected, deleteOwned, errorCode, join, Listeners, nameOf, sessionEnded, sessionEndedError, sleep,
  sortedBySequence, untilOf, waitUntil, type WaitOptions,
} from './lock-internals.ts';

export interface LeaderLatchListener {
  /** This candidate now leads. */
  isLeader?(): void;
  /** This candidate no longer leads (closed, session lost, or suspended with `loseOnDisconnect`). */
  notLeader?(): void;
}

export interface LeaderLatchOptions {
  /** The candidate's id, stored as its node's data (default: the session id). */
  id?: string;
  /** Step down while the session is Disconnected (Curator's behaviour on SUSPENDED); default false. */
  loseOnDisconnect?: boolean;
}

/** `latent`: not started; `started`: a candidate; `closed`: gave up; `lost`: its session ended. */
export type LatchState = 'latent' | 'started' | 'closed' | 'lost';

export interface Participant {
  readonly id: string;
  readonly node: string;
  readonly isLeader: boolean;
}

/** What `getLeader` / `getParticipants` read with: a session or a REST client. */
export interface ElectionReader {
  children(path: string): Promise<{ children: string[] }>;
  get(path: string, opts: { as: 'utf8' }): Promise<{ data: string }>;
}

const LATCH = 'latch-';

/** The candidates of the election at `path`, the leader first (Curator's getParticipants). */
export async function getParticipants(reader: ElectionReader, path: string): Promise<Participant[]> {
  let names: string[];
  try {
    names = sortedBySequence((await reader.children(path)).children, [LATCH]);
  } catch (e) {
    if (errorCode(e) === 'NoNode') return [];
    throw e;
  }
  const out: Participant[] = [];
  for (const name of names) {
    const node = join(path, name);
    try {
      out.push({ id: (await reader.get(node, { as: 'utf8' })).data, node, isLeader: out.length === 0 });
    } catch (e) {
      if (errorCode(e) !== 'NoNode') throw e; // gone meanwhile: not a candidate any more
    }
  }
  return out;
}

/** The leader of the election at `path`, or null if there are no candidates. */
export async function getLeader(reader: ElectionReader, path: string): Promise<Participant | null> {
  return (await getParticipants(reader, path))[0] ?? null;
}

/**
 * A candidate in the election at `path` (Curator's LeaderLatch). See the
 * module comment for what losing the session means.
 */
export class LeaderLatch {
  readonly path: string;
  readonly id: string;
  private readonly loseOnDisconnect: boolean;
  private _state: LatchState = 'latent';
  private leading = false;
  private suspended = false;
  private ourPath: string | null = null;
  private readonly listeners = new Listeners<(lead: boolean) => void>();
  private readonly awaiting = new Set<{ resolve: (v: boolean) => void; reject: (e: unknown) => void }>();
  private readonly stopping = new AbortController();
  private poke: (() => void) | null = null;
  /** One function for every watch on our own node, so the session holds it once however often it is set. */
  private readonly pokeFn = () => this.poke?.();
  private offState: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(readonly session: ZooGateSession, path: string, opts: LeaderLatchOptions = {}) {
    this.path = checkBasePath(path);
    this.id = opts.id ?? session.sessionId;
    this.loseOnDisconnect = opts.loseOnDisconnect ?? false;
  }

  get state(): LatchState {
    return this._state;
  }

  /** This candidate's node (null before start and after the end). */
  get node(): string | null {
    return this.ourPath;
  }

  /** Leads now, as far as this client knows. */
  hasLeadership(): boolean {
    return this.leading;
  }

  /** Listens for isLeader / notLeader; returns the function that removes the listener. */
  addListener(listener: LeaderLatchListener): () => void {
    return this.listeners.add((lead) => (lead ? listener.isLeader?.() : listener.notLeader?.()));
  }

  /**
   * Joins the election: creates the candidate's node and resolves once it
   * knows whether it leads (`hasLeadership()` tells).
   */
  start(): Promise<void> {
    if (this._state !== 'latent') return Promise.reject(new ZooGateError('BadArguments', `the latch is ${this._state}: a latch starts once`));
    if (sessionEnded(this.session)) return Promise.reject(sessionEndedError(this.session));
    this._state = 'started';
    this.offState = this.session.onState((c) => {
      if (c.state === 'Disconnected' && this.loseOnDisconnect) {
        this.suspended = true;
        this.setLeader(false);
      } else if (c.state === 'Reconnected' && this.suspended) {
        this.suspended = false;
        this.poke?.();
      } else if (c.state === 'Expired' || c.state === 'Closed') {
        this.lose(sessionEndedError(this.session));
      }
    });
    return new Promise((resolve, reject) => {
      let first = true;
      const settled = (e?: unknown) => {
        if (!first) return;
        first = false;
        if (e === undefined) resolve();
        else reject(e);
      };
      // a session that ended before the first check rejects start (the loop itself just stops)
      this.loop = this.run(() => settled()).then(() => settled(this._state === 'lost' ? sessionEndedError(this.session) : undefined), (e: unknown) => settled(e));
    });
  }

  /**
   * Resolves true once this candidate leads (at once if it does), false if
   * `timeoutMs` passes first or the latch is closed; rejects on abort or when
   * the session ends.
   */
  await(opts: WaitOptions = {}): Promise<boolean> {
    if (this.leading) return Promise.resolve(true);
    if (this._state === 'closed' || this._state === 'latent') return Promise.resolve(false);
    if (this._state === 'lost') return Promise.reject(sessionEndedError(this.session));
    const until = untilOf(opts);
    const w = { resolve: (_: boolean) => {}, reject: (_: unknown) => {} };
    const lead = new Promise<boolean>((resolve, reject) => Object.assign(w, { resolve, reject }));
    this.awaiting.add(w);
    return waitUntil(this.session, lead, until).then(
      (fired) => (fired ? lead : false),
    ).finally(() => this.awaiting.delete(w));
  }

  /**
   * Gives up: a leader reports `notLeader` first, then the node is deleted
   * and the next candidate takes over. Idempotent.
   */
  async close(): Promise<void> {
    if (this._state !== 'started') {
      if (this._state === 'latent') this._state = 'closed';
      return;
    }
    this._state = 'closed';
    this.end();
    this.setLeader(false);
    for (const w of this.awaiting) w.resolve(false);
    await this.loop?.catch(() => {});
    const node = this.ourPath;
    this.ourPath = null;
    if (node !== null) await deleteOwned(this.session, node);
  }

  /** The current leader of this election (maybe this one). */
  getLeader(): Promise<Participant | null> {
    return getLeader(this.session, this.path);
  }

  /** Every candidate, the leader first. */
  getParticipants(): Promise<Participant[]> {
    return getParticipants(this.session, this.path);
  }

  private end(): void {
    this.offState?.();
    this.offState = null;
    this.stopping.abort(new ZooGateError('SessionClosed', 'the latch is closed'));
    this.poke?.();
  }

  /** The session is over: its node is gone with it; the latch cannot lead again. */
  private lose(reason: unknown): void {
    if (this._state !== 'started') return;
    this._state = 'lost';
    this.ourPath = null;
    this.end();
    this.setLeader(false);
    for (const w of this.awaiting) w.reject(reason);
  }

  private setLeader(lead: boolean): void {
    if (this.leading === lead) return;
    this.leading = lead;
    this.listeners.emit(lead);
    if (lead) for (const w of this.awaiting) w.resolve(true);
  }

  /** The candidate's loop: take a place, then lead or watch the one candidate ahead; again on every change. */
  private async run(checked: () => void): Promise<void> {
    const until = { deadline: null, signal: this.stopping.signal };
    for (let failures = 0; this._state === 'started'; ) {
      try {
        if (this.ourPath === null) {
          const created = await createProtected(this.session, this.path, LATCH, this.id, 'ephemeral_sequential');
          if (this._state !== 'started') {
            await deleteOwned(this.session, created.path);
            return;
          }
          this.ourPath = created.path;
        }
        const ours = this.ourPath;
        const sorted = sortedBySequence((await this.session.children(this.path)).children, [LATCH]);
        const i = sorted.indexOf(nameOf(ours));
        if (i < 0) {
          // our node went while the session lives (someone deleted it): queue again at the back
          this.ourPath = null;
          this.setLeader(false);
          continue;
        }
        if (i === 0) {
          const wake = new Promise<void>((r) => (this.poke = r));
          // our own node: if it is deleted under us, step down at once (a data watch, so a node
          // already gone leaves no watch behind)
          try {
            await this.session.get(ours, { watch: this.pokeFn });
          } catch (e) {
            if (errorCode(e) === 'NoNode') continue;
            throw e;
          }
          if (!this.suspended) this.setLeader(true);
          checked();
          await waitUntil(this.session, wake, until);
        } else {
          this.setLeader(false);
          checked();
          const ahead = join(this.path, sorted[i - 1]!);
          await awaitChangeOf(this.session, ahead, until);
        }
        failures = 0;
      } catch (e) {
        if (this._state !== 'started') return;
        if (sessionEnded(this.session)) {
          this.lose(e);
          return;
        }
        // a passing failure (no quorum, say): try again, a little later each time
        if (++failures > 50) {
          const node = this.ourPath;
          this.lose(e);
          if (node !== null) await deleteOwned(this.session, node).catch(() => {});
          throw e;
        }
        await sleep(backoffMs(failures));
      }
    }
  }
}
