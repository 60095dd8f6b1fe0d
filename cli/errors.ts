/**
 * Exit codes scripts can rely on, and the one place errors become a line on
 * stderr (or, with --json, the API's error object on stderr).
 */
import { ZooGateError, type ZooGateErrorCode } from '../client/errors.ts';

/** The exit codes (docs/cli.md has the table; a test keeps the two equal). */
export const EXIT = {
  ok: 0,
  /** Bad command line, or arguments the server refused (BadArguments, InvalidACL). */
  usage: 1,
  /** NoNode: like `test -e`. */
  noNode: 2,
  nodeExists: 3,
  badVersion: 4,
  /** NoAuth, AuthFailed. */
  notAuthorized: 5,
  /** No quorum, connection lost, timed out, session expired, throttled: try again later. */
  unavailable: 6,
  /** Any other error the server reported. */
  other: 7,
} as const;

/**
 * Every code the client can raise, with its exit code. A Record over the
 * whole union, so a code added to the spec does not compile until it is
 * placed here.
 */
const EXIT_OF: Record<ZooGateErrorCode, number> = {
  BadArguments: EXIT.usage,
  InvalidACL: EXIT.usage,
  NoNode: EXIT.noNode,
  NodeExists: EXIT.nodeExists,
  BadVersion: EXIT.badVersion,
  NoAuth: EXIT.notAuthorized,
  AuthFailed: EXIT.notAuthorized,
  NoQuorum: EXIT.unavailable,
  NotReadOnly: EXIT.unavailable,
  OperationTimeout: EXIT.unavailable,
  Throttled: EXIT.unavailable,
  SessionExpired: EXIT.unavailable,
  ConnectionLoss: EXIT.unavailable,
  SessionClosed: EXIT.unavailable,
  StaleServer: EXIT.unavailable,
  Compacted: EXIT.unavailable,
  SlowConsumer: EXIT.unavailable,
  NoWatcher: EXIT.other,
  NotEmpty: EXIT.other,
  NoChildrenForEphemerals: EXIT.other,
  QuotaExceeded: EXIT.other,
  PayloadTooLarge: EXIT.other,
  SystemError: EXIT.other,
  Unimplemented: EXIT.other,
  RuntimeInconsistency: EXIT.other,
};

export function exitCodeOf(code: string): number {
  return (EXIT_OF as Record<string, number | undefined>)[code] ?? EXIT.other;
}

/** A command line the CLI refuses before sending anything (exit 1). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

/** An error of the CLI's own with a contract code (say, NoNode for a node deleted while `get --watch` waited). */
export function cliError(code: ZooGateErrorCode, message: string, path?: string): ZooGateError {
  return new ZooGateError(code, message, path === undefined ? {} : { path });
}

/** The body printed with --json: the API's error object (multi details and outcomeUnknown when there are any). */
export function errorJson(e: unknown): Record<string, unknown> {
  if (e instanceof UsageError) return { error: { code: 'BadArguments', message: e.message } };
  if (e instanceof ZooGateError) {
    const out: Record<string, unknown> = { error: { code: e.code, message: e.message, ...(e.path === undefined ? {} : { path: e.path }) } };
    if (e.failedOp !== undefined) out.failedOp = e.failedOp;
    if (e.results !== undefined) out.results = e.results;
    if (e.outcomeUnknown) out.outcomeUnknown = true;
    return out;
  }
  return { error: { code: 'SystemError', message: e instanceof Error ? e.message : String(e) } };
}

/** The one human line: `zoogate: CODE: message (path)`, or a usage line pointing at the command's help. */
export function errorLine(e: unknown): string {
  if (e instanceof UsageError) {
    const help = e.command ? `zoogate ${e.command} --help` : 'zoogate help';
    return `zoogate: ${e.command ? `${e.command}: ` : ''}${e.message} (see '${help}')`;
  }
  if (e instanceof ZooGateError) {
    const where = e.path !== undefined && !e.message.includes(e.path) ? ` (${e.path})` : '';
    let line = `zoogate: ${e.code}: ${e.message}${where}`;
    if (e.failedOp !== undefined) line += `; op ${e.failedOp} of the multi (counting from 0) failed, nothing was applied`;
    return line;
  }
  return `zoogate: SystemError: ${e instanceof Error ? e.message : String(e)}`;
}

export function exitCodeOfError(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof ZooGateError) return exitCodeOf(e.code);
  return EXIT.other;
}
