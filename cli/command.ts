/**
 * What a command's implementation receives, and the helpers most of them use.
 */
import { ZooGateError } from '../client/errors.ts';
import type { ZooGateSession } from '../client/session.ts';
import type { Options } from './args.ts';
import type { Context } from './context.ts';
import { UsageError } from './errors.ts';
import type { CommandSpec } from './specs.ts';

export interface Invocation {
  readonly ctx: Context;
  readonly opts: Options;
  readonly spec: CommandSpec;
  /** The positional arguments. */
  readonly args: readonly string[];
  /** What followed `--`: the command of lock and elect. */
  readonly rest: readonly string[] | null;
}

/** Runs a command; resolves with its exit code (undefined: 0). Errors are thrown (ZooGateError, UsageError). */
export type CommandRun = (inv: Invocation) => Promise<number | void>;

/** Refuses positional arguments beyond the `max` the command takes. */
export function noMoreArgs(inv: Invocation, max: number): void {
  if (inv.args.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(inv.args[max])}`, inv.spec.name);
}

/**
 * Rejects when the session ends under the command (expired, or closed by the
 * server), and tells people on stderr when it moves between servers. The
 * promise never resolves; race the command's work against it.
 */
export function sessionLost(ctx: Context, s: ZooGateSession): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    s.onState((c) => {
      if (c.state === 'Disconnected') ctx.note(`lost ${c.node} (${c.reason}); moving to another server`);
      else if (c.state === 'Reconnected') ctx.note(`session moved to ${c.node}`);
      else if (c.state === 'Expired') reject(new ZooGateError('SessionExpired', `the session expired (${c.reason ?? 'server'})`));
      else if (c.state === 'Closed' && c.reason !== 'local') reject(new ZooGateError('SessionClosed', 'the server closed the session'));
    });
  });
  p.catch(() => {}); // observed by whoever races it; never an unhandled rejection
  return p;
}

/** The exit code of a signal, as shells report it (128 + number). */
export function signalExitCode(signal: string): number {
  return signal === 'SIGTERM' ? 143 : 130;
}
