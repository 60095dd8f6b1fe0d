// The model of one znode used as a versioned register, for checkLinearizable.
//
// State: { value, version } with ZooKeeper's Stat.version: 0 after create, +1 on
// every set (whatever the data). An absent node is { value: null, version: -1 }.
// By default a key starts absent; registerModel({ initial: { value: '', version: 0 } })
// says the runner pre-created every key (before the history began) with data ''.
//
// Ops (key = the znode path; the runner records them exactly so):
//
//   f: 'read'    input: anything (ignored)
//                output: { value: string | null, version: number }
//                        a GET's data and stat.version; a 404 NoNode is recorded
//                        as outcome 'ok' with { value: null, version: -1 }.
//   f: 'write'   a set with version -1 (unconditional). input: { value: string }
//                output: { version: number }   the new stat.version
//                      | { error: 'NoNode' }   (404: the node does not exist)
//   f: 'cas'     a set with ?version=expected. input: { expected: number, value: string }
//                output: { version: number }   applied: the new stat.version (= expected + 1)
//                      | { error: 'BadVersion' } (412: the node's version was not `expected`;
//                                                 nothing changed, but the op happened and
//                                                 observed that: outcome 'ok', not 'fail')
//                      | { error: 'NoNode' }
//   f: 'create'  input: { value: string }
//                output: { version: 0 } (201) | { error: 'NodeExists' } (409)
//
// Reads must be linearizable ones (`?sync=true`, or POST /sync first): a plain read on
// a follower is only sequentially consistent and may legally lag, which this model
// would report as a violation.
//
// Values are compared as strings and kept in the search's memo: record short values
// (unique per write, e.g. `p3-17`), or a digest of large data, not megabytes.
//
// outcome 'fail' (503 NoQuorum, 429, refused connection): not applied; the checker drops it.
// outcome 'unknown' (timeout, 504, connection lost): write/cas/create may have been
// applied at any point after the call; a cas applied where the version differs is a
// BadVersion and changes nothing. Unknown reads are dropped.

import type { Op } from './history.ts';
import type { Model } from './linearizability.ts';

export interface RegisterState {
  value: string | null;
  /** Stat.version; -1 while the node does not exist. */
  version: number;
}

export type RegisterInput = undefined | null | { value: string } | { expected: number; value: string };
export type RegisterOutput = { value: string | null; version: number } | { version: number } | { error: 'BadVersion' | 'NoNode' | 'NodeExists' };
export type RegisterOp = Op<RegisterInput, RegisterOutput>;

export const ABSENT: RegisterState = Object.freeze({ value: null, version: -1 }) as RegisterState;

export function registerModel(options: { initial?: RegisterState } = {}): Model<RegisterState, RegisterInput, RegisterOutput> {
  const initial = options.initial ?? ABSENT;
  return {
    init: () => initial,
    key: (s) => `${s.version}:${s.value === null ? '-' : `"${s.value}`}`,
    describe: (s) =>
      s.version < 0 ? 'absent' : `{ value: ${s.value === UNOBSERVED ? '(a value no read saw, from an unknown op)' : JSON.stringify(s.value)}, version: ${s.version} }`,
    prepare: (ops) => hideUnobservedValues(ops),
    readOnly: (op) => op.f === 'read',
    step: (s, op) => stepRegister(s, op),
    impossible: (s, op) => impossibleRegister(s, op),
  };
}

/** Stands for any value written by an unknown op that no read returned. */
const UNOBSERVED = '\u0000unobserved';

/**
 * The value an unknown write/cas/create wrote matters only if a read returned it.
 * Giving all the others one placeholder keeps the history linearizable or not
 * (no read can tell them apart) and makes such ops interchangeable, so the search
 * does not try each of them in turn to fill a version nobody read.
 */
function hideUnobservedValues(ops: ReadonlyArray<RegisterOp>): RegisterOp[] {
  const seen = new Set<string>();
  for (const op of ops) {
    if (op.f !== 'read' || op.outcome !== 'ok') continue;
    const v = (op.output as { value?: unknown } | undefined)?.value;
    if (typeof v === 'string') seen.add(v);
  }
  if (seen.has(UNOBSERVED)) return [...ops];
  return ops.map((op) => {
    if (op.outcome !== 'unknown' || op.f === 'read') return op;
    const input = op.input as { value?: unknown } | null;
    if (!input || typeof input.value !== 'string' || seen.has(input.value)) return op;
    return { ...op, input: { ...input, value: UNOBSERVED } as RegisterInput };
  });
}

const same = (s: RegisterState, ok: boolean) => ({ ok, next: s });

/** The register's transition; exported for tests and for generators of expected outputs. */
export function stepRegister(s: RegisterState, op: RegisterOp): { ok: boolean; next: RegisterState } {
  const exists = s.version >= 0;
  const unknown = op.outcome === 'unknown';
  const out = op.output as Record<string, unknown> | undefined;
  const error = unknown ? undefined : errorOf(op, out);
  switch (op.f) {
    case 'read': {
      if (unknown) return same(s, true);
      const value = out?.value;
      const version = out?.version;
      if (typeof version !== 'number' || (value !== null && typeof value !== 'string')) throw badOutput(op);
      return same(s, version === s.version && value === (exists ? s.value : null));
    }
    case 'write': {
      const value = valueOf(op);
      const applied = { value, version: s.version + 1 };
      if (unknown) return exists ? { ok: true, next: applied } : same(s, true);
      if (error === 'NoNode') return same(s, !exists);
      if (error !== undefined) throw badOutput(op);
      return { ok: exists && versionOf(op, out) === applied.version, next: applied };
    }
    case 'cas': {
      const value = valueOf(op);
      const expected = (op.input as { expected?: unknown } | null)?.expected;
      if (typeof expected !== 'number') throw new TypeError(`register model: cas needs input.expected: ${JSON.stringify(op.input)}`);
      const applies = exists && s.version === expected;
      const applied = { value, version: s.version + 1 };
      if (unknown) return applies ? { ok: true, next: applied } : same(s, true);
      if (error === 'BadVersion') return same(s, exists && s.version !== expected);
      if (error === 'NoNode') return same(s, !exists);
      if (error !== undefined) throw badOutput(op);
      return { ok: applies && versionOf(op, out) === applied.version, next: applied };
    }
    case 'create': {
      const value = valueOf(op);
      const created = { value, version: 0 };
      if (unknown) return exists ? same(s, true) : { ok: true, next: created };
      if (error === 'NodeExists') return same(s, exists);
      if (error !== undefined) throw badOutput(op);
      return { ok: !exists && versionOf(op, out) === 0, next: created };
    }
    default:
      throw new TypeError(`register model: unknown op f=${JSON.stringify(op.f)}`);
  }
}

/**
 * True if the 'ok' op can never become legal from `s`: versions only grow and a node,
 * once created, stays (the model has no delete), so an op that observed an older
 * version, or absence, is dead once the state has moved past it.
 */
export function impossibleRegister(s: RegisterState, op: RegisterOp): boolean {
  if (op.outcome !== 'ok') return false;
  const out = op.output as Record<string, unknown> | undefined;
  const error = out?.error;
  const exists = s.version >= 0;
  if (error === 'NoNode') return exists;
  if (error !== undefined) return false; // BadVersion, NodeExists: a later state may fit
  const version = out?.version;
  if (typeof version !== 'number') return false; // step will say what is wrong
  switch (op.f) {
    case 'read':
      return s.version > version || (s.version === version && out?.value !== (exists ? s.value : null));
    case 'write':
    case 'create':
      return s.version >= version;
    case 'cas': {
      const expected = (op.input as { expected?: unknown } | null)?.expected;
      return typeof expected === 'number' && (s.version > expected || version !== expected + 1);
    }
    default:
      return false;
  }
}

function errorOf(op: RegisterOp, out: Record<string, unknown> | undefined): string | undefined {
  if (out === undefined || out === null || typeof out !== 'object') throw badOutput(op);
  const e = out.error;
  if (e === undefined) return undefined;
  if (e === 'BadVersion' || e === 'NoNode' || e === 'NodeExists') return e;
  throw new TypeError(`register model: error ${JSON.stringify(e)} is not an observation; record the op as 'fail' or 'unknown'`);
}

function valueOf(op: RegisterOp): string {
  const v = (op.input as { value?: unknown } | null)?.value;
  if (typeof v !== 'string') throw new TypeError(`register model: ${op.f} needs input.value (string): ${JSON.stringify(op.input)}`);
  return v;
}

function versionOf(op: RegisterOp, out: Record<string, unknown> | undefined): number {
  const v = out?.version;
  if (typeof v !== 'number') throw badOutput(op);
  return v;
}

function badOutput(op: RegisterOp): TypeError {
  return new TypeError(`register model: an 'ok' ${op.f} needs a recorded output, got ${JSON.stringify(op.output)}`);
}
