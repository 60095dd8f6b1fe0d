import type { AuthId } from './acl.ts';
import type { Epoch, ServerId, SessionId, Zxid } from './ids.ts';
import type { WriteRequest } from './request/requests.ts';
import type { ErrorCode } from './errors.ts';
import type { LoggedTxn } from './txn.ts';

/** A server's role (ZooKeeper's ServerState). */
export type PeerState = 'LOOKING' | 'FOLLOWING' | 'LEADING';

/** A failed request, as the leader tells the follower that forwarded it. */
export interface RemoteError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly path: string | null;
  /** Set for a failed multi: which op failed, of how many. */
  readonly failedOp: number | null;
  readonly opCount: number | null;
}

/**
 * Everything servers say to each other, one discriminated union, named as in
 * the ZAB paper and Zab.tla (CEPOCH, NEWEPOCH, ACKEPOCH, NEWLEADER, ACKLD,
 * UPTODATE, PROPOSAL, ACK, COMMIT) and ZooKeeper (VOTE, DIFF, TRUNC, SNAP,
 * PING, REQUEST, SYNC). Every message after election carries the epoch of
 * the leader it belongs to; a server drops messages of another epoch.
 */
export type PeerMessage =
  /** Fast leader election notification: the sender's current vote and round. */
  | { readonly type: 'VOTE'; readonly leader: ServerId; readonly zxid: Zxid; readonly peerEpoch: Epoch; readonly electionEpoch: number; readonly state: PeerState }
  /** Phase 1, follower → leader: the follower's acceptedEpoch (ZooKeeper's FOLLOWERINFO). */
  | { readonly type: 'CEPOCH'; readonly acceptedEpoch: Epoch; readonly lastZxid: Zxid }
  /** Phase 1, leader → follower: the new epoch (LEADERINFO). */
  | { readonly type: 'NEWEPOCH'; readonly epoch: Epoch }
  /** Phase 1, follower → leader, once acceptedEpoch is durable: its currentEpoch and history. */
  | { readonly type: 'ACKEPOCH'; readonly epoch: Epoch; readonly currentEpoch: Epoch; readonly lastZxid: Zxid }
  /** Phase 2: the follower's log is a prefix of the leader's; proposals after it follow. */
  | { readonly type: 'DIFF'; readonly epoch: Epoch; readonly zxid: Zxid }
  /** Phase 2: drop everything after zxid (proposals the new leader never committed), then proposals follow. */
  | { readonly type: 'TRUNC'; readonly epoch: Epoch; readonly zxid: Zxid }
  /** Phase 2: the leader's tree at zxid; the transport fills `chunks` (snapshot-codec format). */
  | { readonly type: 'SNAP'; readonly epoch: Epoch; readonly zxid: Zxid; readonly chunks: readonly Uint8Array[] }
  /** Phase 2: end of the leader's history; the follower makes currentEpoch durable, then ACKLD. */
  | { readonly type: 'NEWLEADER'; readonly epoch: Epoch }
  /** Phase 2, follower → leader: history accepted and durable up to zxid. */
  | { readonly type: 'ACKLD'; readonly epoch: Epoch; readonly zxid: Zxid }
  /** The leader is established: the follower may serve clients. */
  | { readonly type: 'UPTODATE'; readonly epoch: Epoch }
  /** Phase 3: a transaction to log; origin names the forwarded request it carries out, if any. */
  | { readonly type: 'PROPOSAL'; readonly epoch: Epoch; readonly txn: LoggedTxn; readonly origin: Origin | null }
  | { readonly type: 'ACK'; readonly epoch: Epoch; readonly zxid: Zxid }
  | { readonly type: 'COMMIT'; readonly epoch: Epoch; readonly zxid: Zxid }
  /**
   * Leader → follower, sent once the leader's own log holds everything up to
   * zxid durably, only where the leader and that follower alone are a quorum
   * (a 3-server ensemble): the follower commits up to zxid as its own log
   * holds it, without waiting for the leader to count its ACK and send
   * COMMIT. Not in ZooKeeper: see Leader.selfLogged.
   */
  | { readonly type: 'LOGGED'; readonly epoch: Epoch; readonly zxid: Zxid }
  /**
   * Leader → follower heartbeat with a round number and the leader's view of
   * the ensemble; the reply echoes the round with the sessions touched at the
   * follower and the zxid it has applied.
   */
  | { readonly type: 'PING'; readonly epoch: Epoch; readonly round: number; readonly touched: readonly SessionId[]; readonly lastZxid: Zxid; readonly view: readonly MemberView[] }
  /** Follower → leader: a client's write, forwarded. */
  | { readonly type: 'REQUEST'; readonly epoch: Epoch; readonly incarnation: number; readonly reqId: number; readonly req: WriteRequest; readonly sessionId: SessionId | null; readonly auth: readonly AuthId[] }
  /** Leader → follower: the forwarded request failed; answer once everything up to afterZxid is applied. */
  | { readonly type: 'REPLY'; readonly epoch: Epoch; readonly reqId: number; readonly error: RemoteError; readonly afterZxid: Zxid }
  /** Follower → leader: a client's sync. */
  | { readonly type: 'SYNC'; readonly epoch: Epoch; readonly reqId: number }
  /** Leader → follower: still leading after a quorum round; applying up to zxid makes a read linearizable. */
  | { readonly type: 'SYNCED'; readonly epoch: Epoch; readonly reqId: number; readonly zxid: Zxid };

/** The forwarded request a proposal carries out: its server, that server's run, and its request id there. */
/** One member as the leader sees it (GET /cluster). */
export interface MemberView {
  readonly id: ServerId;
  readonly state: PeerState;
  readonly lastZxid: Zxid;
}

export interface Origin {
  readonly server: ServerId;
  readonly incarnation: number;
  readonly reqId: number;
}

export type PeerMessageType = PeerMessage['type'];
