/**
 * Running the COMMAND of `lock` and `elect` while the lock (or leadership) is
 * held: its stdio is this process's, its exit code becomes ours, signals we
 * get are passed on, and if what protects it is lost, it is stopped.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { ZooGateError } from '../../client/errors.ts';
import type { Context } from '../context.ts';

export type CommandEnd =
  | { kind: 'exited'; code: number }
  | { kind: 'lost'; reason: ZooGateError; code: number };

/** The exit code a shell reports for a child: its code, or 128 + the signal's number. */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
}

/**
 * Runs `argv` (no shell) with `env` added. Resolves when it exits, or, when
 * `lost` fires first, once it has been stopped (SIGTERM, then SIGKILL after
 * 5 s). Signals that reach this process (Ctrl-C, SIGTERM) are passed on and
 * the command decides when to end. A command that cannot be started is
 * exit 127 (not found) or 126 (not executable), as in a shell.
 */
export function runCommand(ctx: Context, argv: readonly string[], env: Record<string, string>, lost: Promise<ZooGateError>): Promise<CommandEnd> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: { ...process.env, ...env } });
    let lostReason: ZooGateError | null = null;
    let settled = false;
    const finish = (end: CommandEnd) => {
      if (settled) return;
      settled = true;
      resolve(end);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(`zoogate: cannot run ${argv[0]}: ${e.code ?? e.message}\n`);
      finish({ kind: 'exited', code: e.code === 'ENOENT' ? 127 : 126 });
    });
    child.on('exit', (code, signal) => {
      const c = exitCodeOf(code, signal);
      finish(lostReason === null ? { kind: 'exited', code: c } : { kind: 'lost', reason: lostReason, code: c });
    });
    const forward = (sig: string) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig as NodeJS.Signals);
      // a second signal is handled by run.ts (it leaves at once)
    };
    void ctx.stopped().then(forward);
    void lost.then((reason) => {
      if (settled || child.exitCode !== null) return;
      lostReason = reason;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  });
}
