/**
 * Barriers, as ZooKeeper's recipes page describes them and Curator
 * implements them (DistributedBarrier, DistributedDoubleBarrier), on a
 * `ZooGateSession`.
 *
 * ```ts
 * // a barrier one process raises and lowers, others wait on
 * const gate = new Barrier(session, '/barriers/deploy');
 * await gate.setBarrier();                        // raised (the node exists)
 * await gate.waitOnBarrier({ timeoutMs: 10_000 }); // elsewhere: true once removed
 * await gate.removeBarrier();                      // lowered: every waiter goes on
 *
 * // N processes start together and finish together
 * const round = new DoubleBarrier(session, '/barriers/round-1', 5);
 * await round.enter();   // returns once all 5 have entered
 * await compute();
 * await round.leave();   // returns once all 5 have left
 * ```
 *
 * `Barrier`: the barrier is up while its node exists (a persistent node, so
 * it stays up if the process that raised it dies; its parents are
 * containers). A waiter syncs (so it sees a barrier raised before it came,
 * whichever node it reads from), holds a data watch on the node and returns
 * when it is deleted.
 *
 * `DoubleBarrier` (ZooKeeper's "Double Barriers"): under the barrier path
 * (a container) each member creates an ephemeral node named by its id.
 * `enter`: a member that counts `memberCount` members creates the persistent
 * `ready` node; the others wait for it with an exists watch (they all must
 * wake, so one event each). `leave`: the member with the lowest name waits
 * for the highest to go, every other deletes its own node and waits for the
 * lowest to go; the lowest deletes its node last and then `ready`, which
 * empties the container, so the server removes it. Each waiter watches one
 * node. A member whose session ends counts as having left (its node is
 * ephemeral), so a dead member never holds the others in `leave`; one that
 * dies before the count is reached means the rest wait until their timeout
 * (`enter` then resolves false and withdraws the member). Reuse a barrier
 * path only after everyone has left it.
 */
import { randomUUID } from 'node:crypto';
import { ZooGateError } from '../errors.ts';
import type { ZooGateSession } from '../session.ts';
import {
  awaitChangeOf,
  awaitWatch, backoffMs, checkBasePath, createInContainer, deleteOwned, deleteQuietly, errorCode, expired, join, outcomeUnknown, retryable,
  sleep, untilOf, type WaitOptions,
} from './lock-internals.ts';

export type { WaitOptions } from './lock-internals.ts';

/** Curator's DistributedBarrier: up while its node exists. */
export class Barrier {
  readonly path: string;

  constructor(readonly session: ZooGateSession, path: string) {
    this.path = checkBasePath(path);
  }

  /** Raises the barrier (creates its node; already up is fine). */
  async setBarrier(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await createInContainer(this.session, this.path, undefined, 'persistent');
        return;
      } catch (e) {
        if (errorCode(e) === 'NodeExists') return; // up already (or our lost create was applied)
        if (!outcomeUnknown(e) || attempt >= 20) throw e;
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** Lowers the barrier (deletes its node; already down is fine): every waiter goes on. */
  async removeBarrier(): Promise<void> {
    await deleteOwned(this.session, this.path);
  }

  /**
   * Resolves true once the barrier is down (at once if it is), false if
   * `timeoutMs` passes first. It syncs first, so a barrier raised (by anyone)
   * before the call is seen even if this session's node lags behind.
   */
  async waitOnBarrier(opts: WaitOptions = {}): Promise<boolean> {
    const until = untilOf(opts);
    await this.session.sync(this.path);
    for (;;) {
      let up = false;
      const fired = await awaitWatch(this.session, async (fire) => {
        try {
          await this.session.get(this.path, { watch: fire });
          up = true;
        } catch (e) {
          if (errorCode(e) !== 'NoNode') throw e;
        }
        return up;
      }, until);
      if (!up) return true;
      if (!fired) return false;
      // the node changed (deleted, or its data set): look again
    }
  }
}

export interface DoubleBarrierOptions {
  /** This member's id: its node's name under the barrier path (default: a random UUID). */
  id?: string;
}

const READY = 'ready';

/** ZooKeeper's double barrier: `memberCount` members enter together and leave together. */
export class DoubleBarrier {
  readonly path: string;
  readonly id: string;
  private readonly ourPath: string;
  private readonly readyPath: string;

  constructor(readonly session: ZooGateSession, path: string, readonly memberCount: number, opts: DoubleBarrierOptions = {}) {
    this.path = checkBasePath(path);
    if (!Number.isInteger(memberCount) || memberCount < 1) throw new ZooGateError('BadArguments', `memberCount must be a positive integer: ${memberCount}`);
    this.id = opts.id ?? randomUUID();
    if (this.id === READY || this.id.includes('/') || this.id === '') throw new ZooGateError('BadArguments', `a member id is one path segment other than "${READY}": ${JSON.stringify(this.id)}`);
    this.ourPath = join(this.path, this.id);
    this.readyPath = join(this.path, READY);
  }

  /**
   * Joins and waits until `memberCount` members have joined: true then, false
   * if `timeoutMs` passed first (the member withdraws); rejects on abort or
   * when the session ends.
   */
  async enter(opts: WaitOptions = {}): Promise<boolean> {
    const until = untilOf(opts);
    await this.join();
    try {
      for (;;) {
        let ready = false;
        let created = false;
        const fired = await awaitWatch(this.session, async (fire) => {
          if ((await this.members()).length >= this.memberCount) {
            await this.createReady();
            ready = true;
            return false;
          }
          ready = (await this.session.exists(this.readyPath, {
            watch: (e) => {
              if (e.event === 'NodeCreated') created = true;
              fire(e);
            },
          })) !== null;
          return !ready;
        }, until);
        if (ready || created) return true;
        if (!fired) {
          await deleteQuietly(this.session, this.ourPath);
          return false;
        }
      }
    } catch (e) {
      await deleteQuietly(this.session, this.ourPath);
      throw e;
    }
  }

  /**
   * Leaves and waits until every member has left: true then, false if
   * `timeoutMs` passed first (call it again to go on waiting); rejects on
   * abort or when the session ends.
   */
  async leave(opts: WaitOptions = {}): Promise<boolean> {
    const until = untilOf(opts);
    for (;;) {
      const members = (await this.members()).sort();
      const i = members.indexOf(this.id);
      if (members.length === 0) {
        // the last one out takes `ready` away; if it died first, whoever sees the room empty does
        await deleteQuietly(this.session, this.readyPath);
        return true;
      }
      if (members.length === 1 && i === 0) {
        await deleteOwned(this.session, this.ourPath);
        await deleteQuietly(this.session, this.readyPath);
        return true;
      }
      let waitFor: string;
      if (i === 0) {
        waitFor = members[members.length - 1]!; // the lowest goes last: it waits for the highest
      } else {
        if (i > 0) await deleteOwned(this.session, this.ourPath);
        waitFor = members[0]!; // everyone else waits for the lowest
      }
      if (expired(until)) return false;
      const fired = await awaitChangeOf(this.session, join(this.path, waitFor), until);
      if (!fired) return false;
    }
  }

  /** The members in the barrier now (their ids). */
  async members(): Promise<string[]> {
    try {
      return (await this.session.children(this.path)).children.filter((c) => c !== READY);
    } catch (e) {
      if (errorCode(e) === 'NoNode') return [];
      throw e;
    }
  }

  private async join(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await createInContainer(this.session, this.ourPath, undefined, 'ephemeral');
        return;
      } catch (e) {
        if (errorCode(e) === 'NodeExists' || outcomeUnknown(e)) {
          const stat = await this.session.exists(this.ourPath);
          if (stat?.ephemeralOwner === this.session.sessionId) return; // ours: a lost answer, or entered already
          if (stat !== null) throw new ZooGateError('NodeExists', `another member of ${this.path} has the id ${this.id}`, { path: this.ourPath });
          if (attempt < 20) continue;
        }
        throw e;
      }
    }
  }

  private async createReady(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await createInContainer(this.session, this.readyPath, undefined, 'persistent');
        return;
      } catch (e) {
        if (errorCode(e) === 'NodeExists') return;
        if ((outcomeUnknown(e) || retryable(e)) && attempt < 20) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw e;
      }
    }
  }
}
