/**
 * The command line's own argument parser. node:util's parseArgs refuses a
 * value that starts with a dash (`--version -1`, the "any version" of the
 * contract) and knows nothing of `-- COMMAND...`, so this one takes the
 * next word as an option's value whatever it looks like, lets options and
 * positionals mix (`get /a --stat` and `get --stat /a`), and keeps what
 * follows `--` apart for the commands that run a command (lock, elect).
 */
import { UsageError } from './errors.ts';

export interface OptionSpec {
  /** The long name, without dashes: `--stat`. */
  readonly name: string;
  /** A one-letter alias, as zkCli spells it: `-s`. */
  readonly short?: string;
  /** The value's placeholder in the help (`N`, `URL[,URL…]`); absent for a flag. */
  readonly value?: string;
  /** Given more than once, the values are all kept (in order). */
  readonly repeat?: boolean;
  readonly help: string;
}

export type OptionValue = string | boolean | string[];

export interface ParsedArgs {
  readonly options: ReadonlyMap<string, OptionValue>;
  readonly positionals: readonly string[];
  /** The words after `--`, or null when there was no `--`. */
  readonly rest: readonly string[] | null;
}

const NUMBER = /^-\d+(\.\d+)?$/;

/** Parses `argv` against `specs`; an unknown option or a missing value is a UsageError. */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], command: string): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short !== undefined).map((s) => [s.short!, s]));
  const options = new Map<string, OptionValue>();
  const positionals: string[] = [];
  let rest: string[] | null = null;

  const put = (spec: OptionSpec, value: string | true) => {
    if (spec.repeat) {
      const prev = options.get(spec.name);
      options.set(spec.name, [...(Array.isArray(prev) ? prev : []), String(value)]);
    } else {
      options.set(spec.name, value);
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest = argv.slice(i + 1);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byLong.get(name);
      if (spec === undefined) throw new UsageError(`unknown option --${name}`, command);
      if (spec.value === undefined) {
        if (eq >= 0) throw new UsageError(`--${name} takes no value`, command);
        put(spec, true);
      } else if (eq >= 0) {
        put(spec, arg.slice(eq + 1));
      } else {
        if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value (${spec.value})`, command);
        put(spec, argv[++i]!);
      }
      continue;
    }
    // "-" is stdin; "-1" a number (say, data), unless a digit is an option letter
    if (arg === '-' || !arg.startsWith('-') || (NUMBER.test(arg) && !byShort.has(arg[1]!))) {
      positionals.push(arg);
      continue;
    }
    // -s, -v N, -vN, or flags together: -Rs
    const letters = arg.slice(1);
    for (let j = 0; j < letters.length; j++) {
      const spec = byShort.get(letters[j]!);
      if (spec === undefined) throw new UsageError(`unknown option -${letters[j]}`, command);
      if (spec.value === undefined) {
        put(spec, true);
        continue;
      }
      const attached = letters.slice(j + 1);
      if (attached !== '') put(spec, attached);
      else if (i + 1 < argv.length) put(spec, argv[++i]!);
      else throw new UsageError(`-${spec.short} needs a value (${spec.value})`, command);
      break;
    }
  }
  return { options, positionals, rest };
}

/** Typed reads of parsed options, each refusing a malformed value as a usage error. */
export class Options {
  constructor(private readonly parsed: ParsedArgs, private readonly command: string) {}

  has(name: string): boolean {
    return this.parsed.options.has(name);
  }

  flag(name: string): boolean {
    return this.parsed.options.get(name) === true;
  }

  string(name: string): string | undefined {
    const v = this.parsed.options.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  list(name: string): string[] {
    const v = this.parsed.options.get(name);
    return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  }

  /** An integer option (`min` included). */
  int(name: string, min = Number.MIN_SAFE_INTEGER): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
      throw new UsageError(`--${name} wants an integer${min > Number.MIN_SAFE_INTEGER ? ` ≥ ${min}` : ''}, not ${JSON.stringify(v)}`, this.command);
    }
    return Number(v);
  }

  /** A duration in seconds (`2`, `0.5`, or with a unit: `500ms`, `2s`, `1m`), as ms; 0 only where it means "do not wait". */
  durationMs(name: string, zeroAllowed = false): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const ms = zeroAllowed && /^0+(\.0*)?(ms|s|m)?$/.test(v.trim()) ? 0 : parseDurationMs(v);
    if (ms === null) throw new UsageError(`--${name} wants a duration in seconds (2, 0.5, 500ms, 1m), not ${JSON.stringify(v)}`, this.command);
    return ms;
  }
}

/** `2` and `2s` are 2000 ms, `0.5` is 500, `500ms` is 500, `1m` is 60000; null if malformed or not positive. */
export function parseDurationMs(v: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (m === null) return null;
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  return n > 0 && Number.isFinite(n) ? Math.round(n) : null;
}
