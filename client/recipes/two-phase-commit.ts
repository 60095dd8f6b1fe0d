/**
 * Two-phase commit, after ZooKeeper's recipes page: a coordinator asks a
 * fixed set of participants to vote on a transaction, and every one of them
 * learns the same outcome, even when some of them die.
 *
 * ## The protocol
 *
 * Nodes, under a root (default `/2pc`, a container):
 *
 * ```
 * /2pc/<tx>               persistent   {"participants":[...],"payload":"..."}
 * /2pc/<tx>/coordinator   ephemeral    the coordinator's session is alive (data: a token of the run)
 * /2pc/<tx>/joined/<p>    persistent   p has seen the transaction
 * /2pc/<tx>/alive/<p>     ephemeral    p's session is alive
 * /2pc/<tx>/votes/<p>     persistent   "commit" | "abort"
 * /2pc/<tx>/outcome       persistent   "commit" | "abort": THE decision
 * /2pc/<tx>/acks/<p>      persistent   p has learned the outcome
 * ```
 *
 * 1. The coordinator creates the transaction, its `coordinator` marker and
 *    the empty directories in one multi (so no one sees a transaction without
 *    its live coordinator), and watches the transaction's subtree (one
 *    persistent recursive watch).
 * 2. A participant waits for the transaction (exists watch), creates
 *    `joined/<p>` and `alive/<p>` in one multi, decides, and creates
 *    `votes/<p>`. It then watches `outcome` (exists watch) and the
 *    coordinator's marker (data watch).
 * 3. The outcome is decided by **creating `outcome`**: the first create wins,
 *    a create that finds it there (NodeExists) reads it instead, and everyone
 *    acts on what the node says, never on what they meant to write. So there
 *    is exactly one outcome, whoever writes it. The rules for who may write
 *    what:
 *    - `commit` is written only by the coordinator, and only after it has
 *      read a `commit` vote from every participant;
 *    - `abort` may be written by anyone while there is no outcome: the
 *      coordinator when a participant votes `abort`, when a participant that
 *      joined is no longer alive and has not voted (its session ended before
 *      it voted), or when its timeout passes; a participant when the
 *      coordinator's marker is gone (its session ended) and no outcome was
 *      written, or when the participant's own timeout (if it set one) passes.
 * 4. Each participant, once it knows the outcome, creates `acks/<p>` and
 *    deletes `alive/<p>`. The coordinator can wait for every ack
 *    (`awaitAcks`) and then `forget` the transaction (deletes its subtree).
 *
 * Because the decision lives in the ensemble (replicated by ZAB) rather than
 * in the coordinator's memory, this 2PC does not block when the coordinator
 * dies, as the classic protocol does: the participants abort it, unless the
 * coordinator had already committed, in which case they find `commit`.
 * A participant that voted `commit` must be ready to commit until it learns
 * the outcome; it learns it from the node, also after a restart
 * (`readOutcome`).
 *
 * The coordinator reads in the order outcome, joined, alive, votes: a
 * participant seen in `joined` and then missing from `alive` has really gone
 * (the two are created together), and a vote it made before dying is in the
 * votes read after that.
 *
 * ```ts
 * const coordinator = new TwoPhaseCommitCoordinator(session);
 * const { outcome } = await coordinator.run('tx-42', ['billing', 'stock'], { payload: '{"order":42}', timeoutMs: 5000 });
 *
 * const billing = new TwoPhaseCommitParticipant(session2, 'billing');
 * const outcome2 = await billing.vote('tx-42', (tx) => canCharge(JSON.parse(tx.payload)));  // 'commit' | 'abort'
 * ```
 */
import { randomUUID } from 'node:crypto';
import { ZooGateError } from '../errors.ts';
import type { ZooGateSession } from '../session.ts';
import type { MultiOpInput } from '../types.ts';
import {
  awaitWatch, backoffMs, checkBasePath, checkAbort, deleteQuietly, ensureContainers, errorCode, expired, join, outcomeUnknown, retryable,
  sessionEnded, sessionEndedError, sleep, untilOf, waitUntil, type Until, type WaitOptions,
} from './lock-internals.ts';

export type Vote = 'commit' | 'abort';
export type Outcome = 'commit' | 'abort';

/** A transaction as participants see it. */
export interface Transaction {
  readonly id: string;
  readonly participants: readonly string[];
  readonly payload: string;
}

export interface TwoPhaseResult {
  readonly outcome: Outcome;
  /** Why, as the coordinator saw it (`all voted commit`, `stock voted abort`, `timeout: …`, …). */
  readonly reason: string;
  /** The votes read when the outcome was decided (a participant that did not vote is absent). */
  readonly votes: Readonly<Record<string, Vote>>;
}

export interface CoordinatorOptions extends WaitOptions {
  /** Handed to the participants (say, JSON of what to do). */
  payload?: string;
}

const DEFAULT_ROOT = '/2pc';

function checkName(what: string, name: string): string {
  if (typeof name !== 'string' || name === '' || name.includes('/') || name === '.' || name === '..') {
    throw new ZooGateError('BadArguments', `a ${what} is one path segment: ${JSON.stringify(name)}`);
  }
  return name;
}

function asOutcome(data: string, path: string): Outcome {
  if (data === 'commit' || data === 'abort') return data;
  throw new ZooGateError('BadArguments', `${path} holds ${JSON.stringify(data)}, not commit or abort`, { path });
}

/** The outcome of a transaction, or null while undecided (NoNode if there is no such transaction). */
export async function readOutcome(session: ZooGateSession, txId: string, root = DEFAULT_ROOT): Promise<Outcome | null> {
  const txPath = join(checkBasePath(root), checkName('transaction id', txId));
  try {
    const path = join(txPath, 'outcome');
    return asOutcome((await session.get(path, { as: 'utf8' })).data, path);
  } catch (e) {
    if (errorCode(e) !== 'NoNode') throw e;
  }
  if ((await session.exists(txPath)) === null) throw new ZooGateError('NoNode', `no transaction ${txId}`, { path: txPath });
  return null;
}

/**
 * Writes the outcome if there is none yet and returns the one that stands
 * (ours, or the one someone wrote first). A lost answer is resolved by
 * reading the node after a sync.
 */
async function decide(session: ZooGateSession, txPath: string, want: Outcome): Promise<Outcome> {
  const path = join(txPath, 'outcome');
  for (let attempt = 0; ; attempt++) {
    try {
      await session.create(path, want);
      return want;
    } catch (e) {
      const code = errorCode(e);
      if (code !== 'NodeExists' && !outcomeUnknown(e) && !retryable(e)) throw e;
      if (attempt >= 20) throw e;
      if (code !== 'NodeExists') {
        await sleep(backoffMs(attempt));
        await session.sync(txPath);
      }
    }
    try {
      return asOutcome((await session.get(path, { as: 'utf8' })).data, path);
    } catch (e) {
      if (errorCode(e) !== 'NoNode') throw e; // not there: our create was not applied; again
    }
  }
}

async function childrenOrEmpty(session: ZooGateSession, path: string): Promise<string[]> {
  try {
    return (await session.children(path)).children;
  } catch (e) {
    if (errorCode(e) === 'NoNode') return [];
    throw e;
  }
}

/** The coordinator of two-phase commits under `root`. */
export class TwoPhaseCommitCoordinator {
  readonly root: string;

  constructor(readonly session: ZooGateSession, root = DEFAULT_ROOT) {
    this.root = checkBasePath(root);
  }

  /**
   * Runs one transaction: publishes it, waits for the votes, decides and
   * writes the outcome. `timeoutMs` (default 30 s) bounds the wait for the
   * votes: then it aborts. Rejects if the transaction exists already, on
   * abort of `signal` (no outcome is written: the participants abort once
   * this session ends, or call `abort`), or if the session ends.
   */
  async run(txId: string, participants: readonly string[], opts: CoordinatorOptions = {}): Promise<TwoPhaseResult> {
    checkName('transaction id', txId);
    if (participants.length === 0) throw new ZooGateError('BadArguments', 'a transaction needs participants');
    for (const p of participants) checkName('participant name', p);
    if (new Set(participants).size !== participants.length) throw new ZooGateError('BadArguments', 'participant names must differ');
    const until = untilOf({ timeoutMs: opts.timeoutMs ?? 30_000, signal: opts.signal });
    const txPath = join(this.root, txId);
    let poke: () => void = () => {};
    await this.publish(txPath, participants, opts.payload ?? '');
    await this.session.addWatch(txPath, 'persistent_recursive', () => poke());
    try {
      const votes: Record<string, Vote> = {};
      for (;;) {
        checkAbort(until);
        // armed before reading, so a change during the reads is not missed
        const changed = new Promise<void>((r) => (poke = r));
        const verdict = await this.verdict(txPath, participants, votes, until);
        if (verdict !== null) {
          const outcome = await decide(this.session, txPath, verdict.outcome);
          const reason = outcome === verdict.outcome ? verdict.reason : `someone else decided ${outcome} first`;
          return { outcome, reason, votes: { ...votes } };
        }
        await waitUntil(this.session, changed, until);
      }
    } finally {
      await this.session.removeWatches(txPath, 'persistent_recursive').catch(() => {});
    }
  }

  /** What to decide now, or null to wait: reads outcome, joined, alive, votes in that order (see the module comment). */
  private async verdict(txPath: string, participants: readonly string[], votes: Record<string, Vote>, until: Until): Promise<{ outcome: Outcome; reason: string } | null> {
    try {
      const o = join(txPath, 'outcome');
      const outcome = asOutcome((await this.session.get(o, { as: 'utf8' })).data, o);
      return { outcome, reason: `${outcome} was written by a participant` };
    } catch (e) {
      if (errorCode(e) !== 'NoNode') throw e;
    }
    const joined = new Set(await childrenOrEmpty(this.session, join(txPath, 'joined')));
    const alive = new Set(await childrenOrEmpty(this.session, join(txPath, 'alive')));
    for (const p of await childrenOrEmpty(this.session, join(txPath, 'votes'))) {
      if (p in votes || !participants.includes(p)) continue;
      const path = join(txPath, 'votes', p);
      votes[p] = asOutcome((await this.session.get(path, { as: 'utf8' })).data, path);
    }
    const no = participants.find((p) => votes[p] === 'abort');
    if (no !== undefined) return { outcome: 'abort', reason: `${no} voted abort` };
    if (participants.every((p) => votes[p] === 'commit')) return { outcome: 'commit', reason: 'all voted commit' };
    const gone = participants.find((p) => joined.has(p) && !alive.has(p) && votes[p] === undefined);
    if (gone !== undefined) return { outcome: 'abort', reason: `${gone}'s session ended before it voted` };
    if (expired(until)) {
      const missing = participants.filter((p) => votes[p] === undefined);
      return { outcome: 'abort', reason: `timeout: no vote from ${missing.join(', ')}` };
    }
    return null;
  }

  /** The transaction, its live marker and its directories, in one multi. */
  private async publish(txPath: string, participants: readonly string[], payload: string): Promise<void> {
    // the marker's data tells our multi from anyone else's if an answer is lost
    const token = randomUUID();
    const marker = join(txPath, 'coordinator');
    const ops: MultiOpInput[] = [
      { op: 'create', path: txPath, data: JSON.stringify({ participants, payload }) },
      { op: 'create', path: marker, data: token, mode: 'ephemeral' },
      ...['joined', 'alive', 'votes', 'acks'].map((d): MultiOpInput => ({ op: 'create', path: join(txPath, d) })),
    ];
    let unknown = false;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.multi(ops);
        return;
      } catch (e) {
        const code = errorCode(e);
        if (code === 'NoNode' && attempt < 10) {
          await ensureContainers(this.session, txPath); // the root (a container) is missing, or went meanwhile
          continue;
        }
        if (outcomeUnknown(e)) unknown = true;
        else if (code !== 'NodeExists' && !retryable(e)) throw e;
        if (unknown || code === 'NodeExists') {
          // ours if the marker holds our token: a lost answer to a multi that was applied
          await this.session.sync(txPath);
          const found = await this.session.get(marker, { as: 'utf8' }).catch((x: unknown) => {
            if (errorCode(x) === 'NoNode') return null;
            throw x;
          });
          if (found?.data === token) return;
          if (code === 'NodeExists') throw new ZooGateError('NodeExists', `transaction ${txPath} exists already`, { path: txPath });
        }
        if (attempt >= 20) throw e;
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** Writes `abort` unless an outcome stands; returns the one that stands. */
  abort(txId: string): Promise<Outcome> {
    return decide(this.session, join(this.root, checkName('transaction id', txId)), 'abort');
  }

  /** Resolves true once every participant has acknowledged the outcome, false if `timeoutMs` passes first. */
  async awaitAcks(txId: string, participants: readonly string[], opts: WaitOptions = {}): Promise<boolean> {
    const until = untilOf(opts);
    const acks = join(this.root, checkName('transaction id', txId), 'acks');
    for (;;) {
      let done = false;
      const fired = await awaitWatch(this.session, async (fire) => {
        const have = new Set((await this.session.children(acks, { watch: fire })).children);
        done = participants.every((p) => have.has(p));
        return !done;
      }, until);
      if (done) return true;
      if (!fired) return false;
    }
  }

  /** Deletes the transaction's subtree (its outcome too): once everyone has acknowledged it. */
  async forget(txId: string): Promise<void> {
    const txPath = join(this.root, checkName('transaction id', txId));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.delete(txPath, { recursive: true });
        return;
      } catch (e) {
        if (errorCode(e) === 'NoNode') return;
        if ((outcomeUnknown(e) || retryable(e) || errorCode(e) === 'NotEmpty') && attempt < 20) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw e;
      }
    }
  }
}

/** When a participant stops waiting: `timeoutMs` (then it aborts an undecided transaction) and `signal`. */
export type ParticipantVoteOptions = WaitOptions;

/** A participant of two-phase commits under `root`, named `name` in the transactions' participant lists. */
export class TwoPhaseCommitParticipant {
  readonly root: string;

  constructor(readonly session: ZooGateSession, readonly name: string, root = DEFAULT_ROOT) {
    this.root = checkBasePath(root);
    checkName('participant name', name);
  }

  /**
   * Takes part in transaction `txId`: waits for it to be published, calls
   * `decide` (true or 'commit' votes commit; false, 'abort', or a throw
   * votes abort), votes, and resolves with the outcome once it stands.
   * `timeoutMs` bounds the whole: a transaction not published in time
   * rejects (ZooGateError NoNode); one undecided in time is aborted by this
   * participant (unless an outcome stands first). Rejects on abort of
   * `signal`, or if the session ends before the outcome is known.
   */
  async vote(txId: string, decideVote: (tx: Transaction) => Vote | boolean | Promise<Vote | boolean>, opts: ParticipantVoteOptions = {}): Promise<Outcome> {
    const until = untilOf(opts);
    const txPath = join(this.root, checkName('transaction id', txId));
    const tx = await this.awaitTransaction(txId, txPath, until);
    if (!tx.participants.includes(this.name)) throw new ZooGateError('BadArguments', `${this.name} is not a participant of ${txId}`, { path: txPath });
    await this.join(txPath);
    try {
      let outcome = await this.standingOutcome(txPath);
      if (outcome === null && !(await this.coordinatorAlive(txPath))) outcome = await decide(this.session, txPath, 'abort');
      if (outcome === null) {
        let mine: Vote;
        try {
          const v = await decideVote(tx);
          mine = v === true || v === 'commit' ? 'commit' : 'abort';
        } catch {
          mine = 'abort';
        }
        await this.castVote(txPath, mine);
        outcome = await this.awaitOutcome(txPath, until);
      }
      await this.acknowledge(txPath);
      return outcome;
    } catch (e) {
      if (!sessionEnded(this.session)) await deleteQuietly(this.session, join(txPath, 'alive', this.name));
      throw e;
    }
  }

  private async awaitTransaction(txId: string, txPath: string, until: Until): Promise<Transaction> {
    for (;;) {
      try {
        const { data } = await this.session.get(txPath, { as: 'utf8' });
        const parsed = JSON.parse(data) as { participants: string[]; payload: string };
        return { id: txId, participants: parsed.participants, payload: parsed.payload };
      } catch (e) {
        if (errorCode(e) !== 'NoNode') throw e;
      }
      // an exists watch: the node is expected to be created
      const fired = await awaitWatch(this.session, async (fire) => (await this.session.exists(txPath, { watch: fire })) === null, until);
      if (!fired) throw new ZooGateError('NoNode', `transaction ${txId} was not published in time`, { path: txPath });
    }
  }

  /** `joined/<p>` and `alive/<p>` together; after a restart (joined exists) `alive/<p>` alone. */
  private async join(txPath: string): Promise<void> {
    const joined = join(txPath, 'joined', this.name);
    const alive = join(txPath, 'alive', this.name);
    let both = true;
    for (let attempt = 0; ; attempt++) {
      try {
        if (both) await this.session.multi([{ op: 'create', path: joined }, { op: 'create', path: alive, mode: 'ephemeral' }]);
        else await this.session.create(alive, undefined, { mode: 'ephemeral' });
        return;
      } catch (e) {
        const code = errorCode(e);
        if (code === 'NoNode') throw new ZooGateError('NoNode', `transaction ${txPath} is gone`, { path: txPath });
        if (code === 'NodeExists' || outcomeUnknown(e)) {
          const stat = await this.session.exists(alive);
          if (stat?.ephemeralOwner === this.session.sessionId) return;
          if (stat !== null) throw new ZooGateError('NodeExists', `another ${this.name} is alive in ${txPath}`, { path: alive });
          if (code === 'NodeExists') both = false; // joined before (a restarted participant): alive again
        } else if (!retryable(e)) {
          throw e;
        }
        if (attempt >= 20) throw e;
        if (code !== 'NodeExists') await sleep(backoffMs(attempt));
      }
    }
  }

  private async standingOutcome(txPath: string): Promise<Outcome | null> {
    const path = join(txPath, 'outcome');
    try {
      return asOutcome((await this.session.get(path, { as: 'utf8' })).data, path);
    } catch (e) {
      if (errorCode(e) === 'NoNode') return null;
      throw e;
    }
  }

  private async coordinatorAlive(txPath: string): Promise<boolean> {
    return (await this.session.exists(join(txPath, 'coordinator'))) !== null;
  }

  private async castVote(txPath: string, vote: Vote): Promise<void> {
    const path = join(txPath, 'votes', this.name);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.create(path, vote);
        return;
      } catch (e) {
        // voted already (before a restart, or a lost answer that was applied): the first vote stands
        if (errorCode(e) === 'NodeExists') return;
        if (!(outcomeUnknown(e) || retryable(e)) || attempt >= 20) throw e;
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** Until an outcome stands; writes `abort` if the coordinator is gone first, or this participant's timeout passes. */
  private async awaitOutcome(txPath: string, until: Until): Promise<Outcome> {
    const outcomePath = join(txPath, 'outcome');
    const coordinatorPath = join(txPath, 'coordinator');
    for (;;) {
      checkAbort(until);
      if (sessionEnded(this.session)) throw sessionEndedError(this.session);
      let standing: Outcome | null = null;
      let coordinatorGone = false;
      const fired = await awaitWatch(this.session, async (fire) => {
        if ((await this.session.exists(outcomePath, { watch: fire })) !== null) {
          standing = await this.standingOutcome(txPath);
          return false;
        }
        try {
          await this.session.get(coordinatorPath, { watch: fire });
          return true;
        } catch (e) {
          if (errorCode(e) !== 'NoNode') throw e;
          coordinatorGone = true;
          return false;
        }
      }, until);
      if (standing !== null) return standing;
      // the coordinator's session ended with no outcome written: abort (unless it committed just before)
      if (coordinatorGone || !fired) return decide(this.session, txPath, 'abort');
    }
  }

  private async acknowledge(txPath: string): Promise<void> {
    try {
      await this.session.create(join(txPath, 'acks', this.name));
    } catch (e) {
      if (errorCode(e) !== 'NodeExists' && errorCode(e) !== 'NoNode' && !outcomeUnknown(e)) throw e;
    }
    await deleteQuietly(this.session, join(txPath, 'alive', this.name));
  }
}
