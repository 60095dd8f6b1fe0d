/**
 * The one error type of ZooGate and its code registry. Codes are ZooKeeper's
 * KeeperException names (API.md "Errors"); the HTTP status for each lives in
 * exactly one place, api/http-errors.ts, and a test keeps this registry equal
 * to openapi.yaml's ErrorCode enum.
 */
export const ERROR_CODES = [
  'BadArguments',
  'InvalidACL',
  'AuthFailed',
  'NoAuth',
  'NoNode',
  'NoWatcher',
  'NodeExists',
  'NotEmpty',
  'NoChildrenForEphemerals',
  'QuotaExceeded',
  'BadVersion',
  'SessionExpired',
  'PayloadTooLarge',
  'Throttled',
  'SystemError',
  'Unimplemented',
  'NoQuorum',
  'NotReadOnly',
  'OperationTimeout',
  'RuntimeInconsistency',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class ZkError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  constructor(code: ErrorCode, message?: string, path?: string) {
    super(message ?? defaultMessage(code, path));
    this.name = 'ZkError';
    this.code = code;
    this.path = path;
  }
}

function defaultMessage(code: ErrorCode, path: string | undefined): string {
  const at = path === undefined ? '' : ` for ${path}`;
  switch (code) {
    case 'BadArguments': return `bad arguments${at}`;
    case 'InvalidACL': return `invalid ACL${at}`;
    case 'AuthFailed': return 'authentication failed';
    case 'NoAuth': return `not authorized${at}`;
    case 'NoNode': return `no node${at}`;
    case 'NoWatcher': return `no watcher${at}`;
    case 'NodeExists': return `node exists${at}`;
    case 'NotEmpty': return `node has children${at}`;
    case 'NoChildrenForEphemerals': return `ephemeral nodes may not have children${at}`;
    case 'QuotaExceeded': return `quota exceeded${at}`;
    case 'BadVersion': return `version mismatch${at}`;
    case 'SessionExpired': return 'session expired or unknown';
    case 'PayloadTooLarge': return 'data exceeds the size limit';
    case 'Throttled': return 'too many requests';
    case 'SystemError': return 'system error';
    case 'Unimplemented': return 'not implemented';
    case 'NoQuorum': return 'no quorum';
    case 'NotReadOnly': return 'server is read-only';
    case 'OperationTimeout': return 'operation timed out';
    case 'RuntimeInconsistency': return 'operation not applied because an earlier one failed';
    default: return assertNever(code);
  }
}

/** Exhaustiveness check for switches over discriminated unions (DESIGN.md habit 1). */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}

/**
 * A broken internal invariant: the process must stop rather than go on in a
 * wrong state (DESIGN.md "Errors"). Never mapped to a client error.
 */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = 'InvariantViolation';
  }
}

export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new InvariantViolation(message);
}
