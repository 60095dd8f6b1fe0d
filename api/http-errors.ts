import type { ErrorCode } from '../core/errors.ts';
import { assertNever } from '../core/errors.ts';

/** The one place where an error code becomes an HTTP status (API.md "Errors"). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'BadArguments':
    case 'InvalidACL':
      return 400;
    case 'AuthFailed':
      return 401;
    case 'NoAuth':
      return 403;
    case 'NoNode':
    case 'NoWatcher':
      return 404;
    case 'NodeExists':
    case 'NotEmpty':
    case 'NoChildrenForEphemerals':
    case 'QuotaExceeded':
      return 409;
    case 'BadVersion':
      return 412;
    case 'SessionExpired':
      return 410;
    case 'PayloadTooLarge':
      return 413;
    case 'Throttled':
      return 429;
    case 'SystemError':
    case 'RuntimeInconsistency':
      return 500;
    case 'Unimplemented':
      return 501;
    case 'NoQuorum':
    case 'NotReadOnly':
      return 503;
    case 'OperationTimeout':
      return 504;
    default:
      return assertNever(code);
  }
}

/** Seconds a client should wait before retrying, for the statuses that carry Retry-After. */
export function retryAfterOf(code: ErrorCode): number | null {
  return code === 'Throttled' || code === 'NoQuorum' || code === 'NotReadOnly' ? 1 : null;
}
