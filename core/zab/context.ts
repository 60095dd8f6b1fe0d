import { ZkError } from '../errors.ts';
import type { Epoch, ServerId, SessionId, Zxid } from '../ids.ts';
import type { PeerMessage } from '../messages.ts';
import type { LogStore } from '../ports.ts';
import type { DataTree } from '../tree/data-tree.ts';
import type { LoggedTxn } from '../txn.ts';

export interface ZabConfig {
  readonly serverId: ServerId;
  readonly voters: ReadonlySet<ServerId>;
  readonly tickMs: number;
  /** Ticks a follower may take to connect and sync (ZooKeeper's initLimit). */
  readonly initLimitTicks: number;
  /** Ticks without hearing from the other side before giving up on it (syncLimit). */
  readonly syncLimitTicks: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
  readonly maxExpiredDeletesPerTick: number;
  /** Beyond this many transactions a follower gets a snapshot instead of a DIFF. */
  readonly maxDiffTxns: number;
  readonly finalizeWaitMs: number;
  readonly maxNotifyIntervalMs: number;
  /** Leader: send LOGGED where it and one follower are a quorum (selfLogged). */
  readonly directCommit: boolean;
  /** Distinguishes this run of the server from earlier ones in request origins. */
  readonly incarnation: number;
}

/** The driver's handle for a request waiting for its answer. */
export type Token = number;

export type Reply =
  | { readonly token: Token; readonly error: ZkError }
  /** A sync: the node has applied `zxid`, everything the leader had when it confirmed its quorum. */
  | { readonly token: Token; readonly zxid: Zxid };

/** What the roles (leader, follower) need of the replica they run in. */
export interface ZabContext {
  readonly cfg: ZabConfig;
  readonly tree: DataTree;
  readonly log: Pick<LogStore, 'readAfter' | 'has' | 'purgedUpTo' | 'lastZxidAtOrBefore' | 'lastZxid'>;
  /** The time of the current input (ms, from tick or message delivery). */
  readonly now: number;
  acceptedEpoch: Epoch;
  currentEpoch: Epoch;
  /** Highest zxid handed to the log (durable once this output is performed). */
  lastLogged: Zxid;
  send(to: ServerId, msg: PeerMessage): void;
  persistEpochs(): void;
  append(txn: LoggedTxn): void;
  /** Apply `logged` (in zxid order); `token` is the local request it answers. */
  commit(logged: LoggedTxn, token: Token | null): void;
  reply(r: Reply): void;
  /** Drop log entries after zxid and reload the tree from storage. */
  truncate(zxid: Zxid): void;
  /** Replace history with the leader's snapshot. */
  installSnapshot(zxid: Zxid, chunks: readonly Uint8Array[]): void;
  /**
   * What follows goes into a new output, performed after everything emitted
   * before it (its commits applied first): a SNAP is the tree as of its send.
   */
  barrier(): void;
  /** Go back to LOOKING. */
  lookForLeader(reason: string): void;
  /** The server starts (or stops) serving clients. */
  setServing(serving: boolean): void;
  sessionTouched(id: SessionId): void;
  note(event: string, detail?: Record<string, unknown>): void;
  /** Test instrumentation (the simulator's invariant checks); never set in production. */
  readonly observer: ZabObserver | null;
}

export interface ZabObserver {
  /** A leader committed this transaction with a quorum. */
  committed(server: ServerId, logged: LoggedTxn): void;
  /** A leader is established: its whole history up to zxid is committed. */
  established(server: ServerId, epoch: Epoch, zxid: Zxid): void;
}

/** The answer for a reply deferred behind proposals whose fate is unknown when the leader goes: not applied, retry. */
export function unsettled(reply: Reply): ZkError {
  return 'error' in reply
    ? new ZkError('NoQuorum', `lost the leader before the state this request was refused against (${reply.error.code}) was committed; it was not applied; retry`)
    : new ZkError('NoQuorum', 'lost the leader before the sync completed; retry');
}
