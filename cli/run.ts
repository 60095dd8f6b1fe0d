/**
 * The client half of `zoogate`: finds the command, parses its options with
 * the global ones, runs it, and turns what it threw into one line on stderr
 * and an exit code (errors.ts). bin/zoogate.mjs sends every command but
 * `server` and `cluster` here.
 */
import { Options, parseArgs } from './args.ts';
import type { CommandRun } from './command.ts';
import { Context } from './context.ts';
import { errorJson, errorLine, exitCodeOfError, UsageError, EXIT } from './errors.ts';
import { clientCommandsHelp, commandHelp, findCommand, GLOBAL_OPTIONS } from './specs.ts';
import { create, get, getacl, ls, rm, set, setacl, stat, sync } from './commands/znodes.ts';
import { tree } from './commands/tree.ts';
import { watch } from './commands/watch.ts';
import { members } from './commands/ensemble.ts';
import { multi } from './commands/multi.ts';
import { digest } from './commands/digest.ts';
import { lock } from './commands/lock.ts';
import { elect } from './commands/elect.ts';
import { queue } from './commands/queue.ts';
import { services } from './commands/services.ts';

/** Each spec's implementation, by the spec's name (a test checks that every spec has one). */
export const RUNNERS: Readonly<Record<string, CommandRun>> = {
  get, set, create, ls, stat, rm, sync, getacl, setacl, watch, tree, members, multi, digest, lock, elect, queue, services,
  help: async ({ args }) => {
    const c = args[0] === undefined ? undefined : findCommand(args[0]);
    if (args[0] !== undefined && c === undefined) throw new UsageError(`no command ${JSON.stringify(args[0])}`);
    process.stdout.write(c === undefined ? generalHelp() : commandHelp(c));
  },
};

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Splits off the global options written before the command name (`zoogate --server X get /a`). */
function splitCommand(argv: readonly string[]): { name: string | undefined; before: string[]; after: string[] } {
  const before: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-' || a === '--') break;
    before.push(a);
    const spec = GLOBAL_OPTIONS.find((o) => `--${o.name}` === a || (o.short !== undefined && `-${o.short}` === a));
    if (spec?.value !== undefined && i + 1 < argv.length) before.push(argv[++i]!);
  }
  let name = argv[i];
  let after = argv.slice(i + 1);
  // `zoogate cluster` starts a local ensemble (api/main.ts); `zoogate cluster status` is the members table
  if (name === 'cluster' && after[0] === 'status') {
    name = 'members';
    after = after.slice(1);
  }
  return { name, before, after };
}

/** Runs one command line; resolves with the exit code. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let ctx: Context | null = null;
  let json = argv.includes('--json');
  let signals = 0;
  const onSignal = (name: string) => {
    signals++;
    if (signals === 1 && ctx?.handlesStop) return ctx.signal(name);
    // nobody waits for a stop (or a second Ctrl-C): close sessions (their ephemerals go now) and leave
    if (signals === 1 && ctx !== null) {
      ctx.signal(name);
      void ctx.closeSessions().finally(() => process.exit(SIGNAL_EXIT[name] ?? 1));
      return;
    }
    process.exit(SIGNAL_EXIT[name] ?? 1);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const { name, before, after } = splitCommand(argv);
    if (name === undefined) {
      if (before.includes('--help') || before.includes('-h')) {
        process.stdout.write(generalHelp());
        return EXIT.ok;
      }
      throw new UsageError('missing command');
    }
    const spec = findCommand(name);
    if (spec === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    const parsed = parseArgs([...before, ...after], [...spec.options, ...GLOBAL_OPTIONS], spec.name);
    const opts = new Options(parsed, spec.name);
    json = opts.flag('json');
    if (opts.flag('help')) {
      process.stdout.write(commandHelp(spec));
      return EXIT.ok;
    }
    // `--` ends the options; what follows is a command to run (lock, elect) or more positionals (`set /x -- -data-`)
    const args = spec.runsCommand ? parsed.positionals : [...parsed.positionals, ...(parsed.rest ?? [])];
    const runner = RUNNERS[spec.name];
    if (runner === undefined) throw new Error(`no implementation for ${spec.name}`);
    ctx = new Context(spec.name, opts, env, spec.timeoutIsWait);
    const code = await runner({ ctx, opts, spec, args, rest: spec.runsCommand ? parsed.rest : null });
    return code ?? EXIT.ok;
  } catch (e) {
    process.stderr.write(json ? JSON.stringify(errorJson(e)) + '\n' : errorLine(e) + '\n');
    return exitCodeOfError(e);
  } finally {
    await ctx?.closeSessions();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

/** The client commands alone (`zoogate help` through bin/zoogate.mjs shows them under the server's commands). */
function generalHelp(): string {
  return `usage: zoogate <command> [options]\n\n${clientCommandsHelp()}`;
}

/** The process entry: runs argv, waits for stdout and stderr to drain, exits with the code. */
export async function main(argv: readonly string[]): Promise<never> {
  // a reader that went away (`zoogate ls -R / | head`) is no error of ours
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
      throw e;
    });
  }
  const code = await run(argv, process.env);
  await new Promise<void>((r) => process.stdout.write('', () => r()));
  await new Promise<void>((r) => process.stderr.write('', () => r()));
  process.exit(code);
}
