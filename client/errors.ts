import type { ErrorCode, MultiOpOutcome, StreamErrorCode } from './types.ts';

/**
 * Codes only the client raises, in ZooKeeper's names:
 * - `ConnectionLoss`: the node was lost before it answered. For a write,
 *   `outcomeUnknown` is true: it may or may not have been applied (read the
 *   state to find out; the client never re-sends it by itself).
 * - `SessionClosed`: the session was closed (by `close()`) before the request
 *   could be answered.
 */
export type ClientErrorCode = 'ConnectionLoss' | 'SessionClosed';

export type ZooGateErrorCode = ErrorCode | StreamErrorCode | ClientErrorCode;

export interface ZooGateErrorInit {
  status?: number;
  path?: string;
  outcomeUnknown?: boolean;
  failedOp?: number;
  results?: MultiOpOutcome[];
  retryAfterMs?: number;
  node?: string;
  cause?: unknown;
}

/**
 * Every failure of the client: `code` is the contract's error code (from the
 * error body, or from the status of a body-less HEAD answer) or one of the
 * client's own (`ConnectionLoss`, `SessionClosed`); `status` the HTTP status
 * when there was one; `path` the znode the error is about; `outcomeUnknown`
 * true when a write may or may not have been applied (ZooKeeper's
 * ConnectionLoss on a write, or 504 OperationTimeout). A failed multi carries
 * `failedOp` and `results`.
 */
export class ZooGateError extends Error {
  override readonly name = 'ZooGateError';
  readonly code: ZooGateErrorCode;
  readonly status: number | undefined;
  readonly path: string | undefined;
  readonly outcomeUnknown: boolean;
  readonly failedOp: number | undefined;
  readonly results: MultiOpOutcome[] | undefined;
  /** From `Retry-After` (429, 503), in ms. */
  readonly retryAfterMs: number | undefined;
  /** The node (base URL) that answered or was lost. */
  readonly node: string | undefined;

  constructor(code: ZooGateErrorCode, message: string, init: ZooGateErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.status = init.status;
    this.path = init.path;
    this.outcomeUnknown = init.outcomeUnknown ?? false;
    this.failedOp = init.failedOp;
    this.results = init.results;
    this.retryAfterMs = init.retryAfterMs;
    this.node = init.node;
  }
}

/** The code a body-less answer (HEAD) stands for, by status (each code has one status). */
export function codeOfStatus(status: number): ErrorCode {
  switch (status) {
    case 400: return 'BadArguments';
    case 401: return 'AuthFailed';
    case 403: return 'NoAuth';
    case 404: return 'NoNode';
    case 409: return 'NodeExists';
    case 410: return 'SessionExpired';
    case 412: return 'BadVersion';
    case 413: return 'PayloadTooLarge';
    case 429: return 'Throttled';
    case 501: return 'Unimplemented';
    case 503: return 'NoQuorum';
    case 504: return 'OperationTimeout';
    default: return 'SystemError';
  }
}
