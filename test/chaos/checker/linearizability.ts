// A linearizability checker for histories of a sequential model, after Wing & Gong
// and Lowe ("Testing for linearizability", 2017) as Porcupine implements it:
//
//   - P-compositionality: a history is linearizable iff each key's sub-history is,
//     so each key is checked on its own.
//   - Just-in-time linearization over a doubly linked list of call and return events
//     in real-time order: only ops whose call comes before the first pending return
//     (the "minimal calls") may be linearized next; reaching a return whose op is not
//     yet linearized means backtracking.
//   - Memoisation of (set of linearized ops, model state): a configuration already
//     explored is never explored again. The set is a bitset over the key's ops,
//     indexed in invocation order, so it is encoded compactly as "highest set bit +
//     the few zeros below it" (the pending window), or raw when that is longer.
//
// Outcomes: 'fail' ops never took effect and are dropped. 'unknown' ops may or may
// not have taken effect: their return is at +infinity (they never force a
// backtrack), they may be linearized anywhere after their call with any output
// (the model is told through op.outcome), and the search succeeds as soon as every
// op with a known outcome is linearized, so those never placed count as omitted.
//
// Reductions, each exact (the verdict is the same as without it):
//   - an 'unknown' op the model calls read-only is dropped;
//   - an 'unknown' op is never placed where it leaves the state unchanged (omitting
//     it there is the same linearization);
//   - of pending 'unknown' ops with equal f and input, only the earliest invoked is
//     placed (they are interchangeable); model.prepare may make more of them equal;
//   - a known op that may come next, is legal and leaves the state unchanged (a read)
//     is placed at once with no alternative tried: it could be moved to the front
//     of any linearization from there;
//   - with model.impossible, a configuration is abandoned as soon as a pending op
//     can no longer become legal (e.g. a read of a version already overwritten).
// Without them, never-applied unknown ops and concurrent reads multiply the
// configurations exponentially; with them a linearizable 2,000-op register history
// takes about as many configurations as it has ops.
//
// The search is bounded by `maxStates` (configurations memoised per key); past it
// the answer is { ok: 'unknown' } rather than a hang.

import { formatOp, partitionByKey, validateHistory, type History, type Op } from './history.ts';

/** A sequential specification. Must be pure and deterministic. */
export interface Model<S, I = unknown, O = unknown> {
  /** The state of a key before any op. */
  init(): S;
  /**
   * Apply `op` to `state`. `ok` says whether the op's observed output is legal from
   * `state`; `next` is the state after it (ignored when !ok). For an op with
   * `outcome === 'unknown'` the output was not observed: return ok with the state
   * the op would have produced (or ok: false only if the op cannot happen at all
   * from `state`; omitting it is always possible); the result of such a step must
   * depend on `op.f` and `op.input` only. Must not mutate `state`.
   */
  step(state: S, op: Op<I, O>): { ok: boolean; next: S };
  /** A canonical string for a state: equal states give equal strings and vice versa. */
  key(state: S): string;
  /** Optional: true if the op never changes the state; 'unknown' ones are then dropped. */
  readOnly?(op: Op<I, O>): boolean;
  /**
   * Optional pruning: true if `op` (with its observed output) is not legal from
   * `state` nor from any state reachable from it. Must be sound (never true when some
   * sequence of ops could make it legal); the search then abandons a configuration
   * as soon as a pending op is impossible instead of exploring it to its deadline.
   */
  impossible?(state: S, op: Op<I, O>): boolean;
  /**
   * Optional: rewrite one key's ops (in invocation order; same length and order back)
   * before the search, provided the result is linearizable iff the input is. E.g. the
   * register gives every unobserved value written by an unknown op the same
   * placeholder, which makes those ops interchangeable.
   */
  prepare?(ops: ReadonlyArray<Op<I, O>>): Op<I, O>[];
  /** Optional: a readable form of a state for witnesses (default: key(state)). */
  describe?(state: S): string;
}

export interface LinearizabilityOptions {
  /** Configurations (set of linearized ops, state) memoised per key before giving up. Default 1,000,000. */
  maxStates?: number;
}

export interface PlacedOp {
  /** Index of the op in the history given to the checker. */
  index: number;
  op: Op;
}

export interface Witness<S> {
  /** Ops of this key the search had to place ('fail' ops and 'unknown' reads are dropped). */
  opsConsidered: number;
  /**
   * Length of the longest linearizable prefix found: the one placing the most ops with
   * a known outcome, and of those the fewest unknown ones.
   */
  linearizedCount: number;
  /** That prefix, in linearization order, as history indexes. */
  linearized: number[];
  /** Its last few ops, formatted. */
  lastLinearized: string[];
  /** The model state after the prefix. */
  state: S;
  /**
   * The ops with a known outcome that could come next in real time (invoked before
   * the earliest pending completion): each is illegal from `state`, or legal but
   * nothing linearizable follows it.
   */
  unplaceable: PlacedOp[];
  /** The pending op with the earliest completion: it had to be placed, and could not be. */
  deadline: PlacedOp | null;
  /** The above in a few lines. */
  explanation: string;
}

export interface LinearizabilityStats {
  keys: number;
  /** Ops considered over all keys (after dropping 'fail' ops and 'unknown' reads). */
  ops: number;
  /** Configurations memoised over all keys, and the most for one key. */
  states: number;
  maxStatesPerKey: number;
}

export type LinearizabilityResult<S> =
  | { ok: true; stats: LinearizabilityStats }
  | { ok: false; key: string; witness: Witness<S>; stats: LinearizabilityStats }
  | { ok: 'unknown'; key: string; reason: string; stats: LinearizabilityStats };

/**
 * Check `history` against `model`, key by key (ops without a key form the key '').
 * Stops at the first key found not linearizable; a key whose search exceeds
 * `maxStates` makes the answer 'unknown' unless another key is found not
 * linearizable. Throws on a malformed history (see validateHistory).
 */
export function checkLinearizable<S, I = unknown, O = unknown>(
  history: History<I, O>,
  model: Model<S, I, O>,
  options: LinearizabilityOptions = {},
): LinearizabilityResult<S> {
  const problems = validateHistory(history as History);
  if (problems.length > 0) throw new Error(`malformed history:\n  ${problems.slice(0, 10).join('\n  ')}`);
  const maxStates = options.maxStates ?? 1_000_000;
  const stats: LinearizabilityStats = { keys: 0, ops: 0, states: 0, maxStatesPerKey: 0 };
  let unknown: { key: string; reason: string } | null = null;
  for (const [key, part] of partitionByKey(history)) {
    stats.keys++;
    const r = checkKey(model, part, maxStates);
    stats.ops += r.ops;
    stats.states += r.states;
    stats.maxStatesPerKey = Math.max(stats.maxStatesPerKey, r.states);
    if (r.kind === 'fail') return { ok: false, key, witness: r.witness, stats };
    if (r.kind === 'unknown' && !unknown) unknown = { key, reason: r.reason };
  }
  if (unknown) return { ok: 'unknown', key: unknown.key, reason: unknown.reason, stats };
  return { ok: true, stats };
}

const LOOKAHEAD = 32;

/** An op as the search runs it (after model.prepare) and as the witness shows it. */
type Run<I, O> = { op: Op<I, O>; index: number; shown: Op<I, O> };

/** JSON with object keys sorted, so equal inputs give equal strings. */
function stableJson(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'undefined';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}

type KeyResult<S> = { ops: number; states: number } & (
  | { kind: 'ok' }
  | { kind: 'fail'; witness: Witness<S> }
  | { kind: 'unknown'; reason: string }
);

function checkKey<S, I, O>(model: Model<S, I, O>, part: { op: Op<I, O>; index: number }[], maxStates: number): KeyResult<S> {
  // The ops to place, in invocation order (bit i of the bitset is ops[i]).
  const kept = part
    .filter(({ op }) => op.outcome === 'ok' || (op.outcome === 'unknown' && !model.readOnly?.(op)))
    .sort((a, b) => a.op.invokeMs - b.op.invokeMs || a.index - b.index);
  const prepared = model.prepare ? model.prepare(kept.map(({ op }) => op)) : kept.map(({ op }) => op);
  if (prepared.length !== kept.length) throw new Error('linearizability: model.prepare must keep every op, in order');
  const ops: Run<I, O>[] = kept.map(({ op, index }, i) => ({ op: prepared[i]!, index, shown: op }));
  const n = ops.length;
  const known = ops.map(({ op }) => op.outcome === 'ok');
  const totalKnown = known.filter(Boolean).length;
  let knownLeft = totalKnown;
  if (knownLeft === 0) return { kind: 'ok', ops: n, states: 0 };

  // Unknown ops with the same f and input are interchangeable once invoked (no
  // output, no completion): of those pending, only the earliest invoked is ever
  // placed, so the search does not try every one of them in every role.
  const classOf = new Int32Array(n).fill(-1);
  const classPos = new Int32Array(n);
  const classIds = new Map<string, number>();
  const classSize: number[] = [];
  for (let i = 0; i < n; i++) {
    if (known[i]) continue;
    const ck = `${ops[i]!.op.f}\u0000${stableJson(ops[i]!.op.input)}`;
    let c = classIds.get(ck);
    if (c === undefined) {
      classIds.set(ck, (c = classSize.length));
      classSize.push(0);
    }
    classOf[i] = c;
    classPos[i] = classSize[c]!++;
  }
  const classUsed = new Int32Array(classSize.length);

  // Events: calls, and returns of known ops; unknown ops return at +infinity,
  // which is the same as no return event. Equal times: calls first (concurrent).
  const events: { t: number; ret: number; op: number }[] = [];
  for (let i = 0; i < n; i++) {
    events.push({ t: ops[i]!.op.invokeMs, ret: 0, op: i });
    if (known[i]) events.push({ t: ops[i]!.op.completeMs!, ret: 1, op: i });
  }
  events.sort((a, b) => a.t - b.t || a.ret - b.ret || a.op - b.op);
  // Entry ids: 0 = head, 1..E = events in order, E+1 = tail.
  const E = events.length;
  const HEAD = 0;
  const TAIL = E + 1;
  const next = new Int32Array(E + 2);
  const prev = new Int32Array(E + 2);
  const opOf = new Int32Array(E + 2).fill(-1);
  const isCall = new Uint8Array(E + 2);
  const retOf = new Int32Array(n).fill(-1); // op -> its return entry, or -1
  const match = new Int32Array(E + 2).fill(-1); // call entry -> return entry, or -1
  for (let e = 0; e <= E + 1; e++) {
    next[e] = e + 1;
    prev[e] = e - 1;
  }
  const callOf = new Int32Array(n);
  events.forEach((ev, i) => {
    const e = i + 1;
    opOf[e] = ev.op;
    if (ev.ret) retOf[ev.op] = e;
    else {
      isCall[e] = 1;
      callOf[ev.op] = e;
    }
  });
  for (let i = 0; i < n; i++) match[callOf[i]!] = retOf[i]!;

  const lift = (e: number): void => {
    next[prev[e]!] = next[e]!;
    prev[next[e]!] = prev[e]!;
    const m = match[e]!;
    if (m >= 0) {
      next[prev[m]!] = next[m]!;
      prev[next[m]!] = prev[m]!;
    }
  };
  const unlift = (e: number): void => {
    const m = match[e]!;
    if (m >= 0) {
      prev[next[m]!] = m;
      next[prev[m]!] = m;
    }
    prev[next[e]!] = e;
    next[prev[e]!] = e;
  };

  const bits = new Uint32Array(Math.ceil(n / 32));
  const cache = new Set<string>();
  const stackEntry = new Int32Array(n);
  const stackState: S[] = new Array(n);
  let depth = 0;
  // The witness's prefix: the most known ops placed, then the fewest unknown ones.
  let best = new Int32Array(0);
  let bestKnown = 0;

  // Is any known op still to be placed impossible from `s`? Every one of them must be
  // placed eventually, so one is enough to abandon `s`; looking at the next
  // LOOKAHEAD of them in real-time order catches nearly all dead ends at once.
  const impossible = model.impossible?.bind(model);
  const anyImpossible = (s: S, placing: number): boolean => {
    let seen = 0;
    for (let e = next[HEAD]!; e !== TAIL && seen < LOOKAHEAD; e = next[e]!) {
      const j = opOf[e]!;
      if (!isCall[e] || j === placing || !known[j]) continue;
      seen++;
      if (impossible!(s, ops[j]!.op)) return true;
    }
    return false;
  };

  let state = model.init();
  let stateKey = model.key(state);
  const stackKey: string[] = new Array(n);
  const stackForced = new Uint8Array(n);
  const budgetExceeded = (): KeyResult<S> => ({
    kind: 'unknown',
    ops: n,
    states: cache.size,
    reason: `search budget exceeded: more than ${maxStates} configurations for ${n} ops (longest linearizable prefix so far: ${best.length})`,
  });
  // Place the op of call entry `e`, leading to state `nextState` (key `nextKey`),
  // if that configuration is new; false if it was seen before.
  const place = (e: number, nextState: S, nextKey: string, forced: boolean): boolean => {
    const i = opOf[e]!;
    bits[i >>> 5]! |= 1 << (i & 31);
    const ck = `${nextKey.length}:${nextKey}${encodeBits(bits)}`;
    if (cache.has(ck)) {
      bits[i >>> 5]! &= ~(1 << (i & 31));
      return false;
    }
    cache.add(ck);
    stackEntry[depth] = e;
    stackState[depth] = state;
    stackKey[depth] = stateKey;
    stackForced[depth] = forced ? 1 : 0;
    depth++;
    state = nextState;
    stateKey = nextKey;
    lift(e);
    if (known[i]) knownLeft--;
    else classUsed[classOf[i]!]!++;
    if (totalKnown - knownLeft > bestKnown || (totalKnown - knownLeft === bestKnown && depth < best.length)) {
      bestKnown = totalKnown - knownLeft;
      best = stackEntry.slice(0, depth);
    }
    return true;
  };

  let entry = next[HEAD]!;
  let fresh = true; // a configuration just entered
  for (;;) {
    if (knownLeft === 0) return { kind: 'ok', ops: n, states: cache.size };
    if (cache.size > maxStates) return budgetExceeded();
    let backtrack = false;
    if (fresh) {
      fresh = false;
      // Greedy step: a known op that may come next, is legal here and leaves the state
      // as it is (a read, a refused cas) can be placed now without loss: in any
      // linearization from here it can be moved to the front, since nothing pending
      // completed before it was invoked and it changes nothing. So place it, and if
      // what follows fails, this configuration fails too (no alternatives to try).
      let forced = -1;
      for (let e = next[HEAD]!; e !== TAIL && isCall[e]; e = next[e]!) {
        const j = opOf[e]!;
        if (!known[j]) continue;
        const r = model.step(state, ops[j]!.op);
        if (r.ok && model.key(r.next) === stateKey) {
          forced = e;
          break;
        }
      }
      if (forced >= 0) {
        if (place(forced, state, stateKey, true)) {
          fresh = true;
          continue;
        }
        backtrack = true; // seen before, and it failed then
      } else entry = next[HEAD]!;
    }
    if (!backtrack) {
      if (entry === TAIL) throw new Error('linearizability: reached the end with known ops pending (bug)');
      if (isCall[entry]) {
        const i = opOf[entry]!;
        const r: { ok: boolean; next: S } = known[i] || classUsed[classOf[i]!] === classPos[i] ? model.step(state, ops[i]!.op) : { ok: false, next: state };
        if (r.ok) {
          const sk = model.key(r.next);
          // An unknown op that changes nothing here is as good as omitted here; one
          // that leaves a pending op impossible leads nowhere.
          if (known[i] || sk !== stateKey) {
            if (!(impossible && anyImpossible(r.next, i))) {
              if (place(entry, r.next, sk, false)) {
                fresh = true;
                continue;
              }
            } else {
              // A legal prefix all the same: the witness may show it and the op it dooms.
              const placedKnown = totalKnown - knownLeft + (known[i] ? 1 : 0);
              if (placedKnown > bestKnown || (placedKnown === bestKnown && depth + 1 < best.length)) {
                bestKnown = placedKnown;
                best = new Int32Array(depth + 1);
                best.set(stackEntry.subarray(0, depth));
                best[depth] = entry;
              }
            }
          }
        }
        entry = next[entry]!;
        continue;
      }
      // A return whose op is not linearized: nothing before it can be placed next.
    }
    // Backtrack: undo the last placement and try the next candidate after it; undo
    // forced placements through to the last free choice.
    let forcedUndone: boolean;
    do {
      if (depth === 0) {
        return { kind: 'fail', ops: n, states: cache.size, witness: buildWitness(model, ops, Array.from(best, (e) => opOf[e]!)) };
      }
      depth--;
      entry = stackEntry[depth]!;
      state = stackState[depth]!;
      stateKey = stackKey[depth]!;
      stackState[depth] = undefined as S; // let it be collected
      forcedUndone = stackForced[depth] === 1;
      const i = opOf[entry]!;
      bits[i >>> 5]! &= ~(1 << (i & 31));
      unlift(entry);
      if (known[i]) knownLeft++;
      else classUsed[classOf[i]!]!--;
    } while (forcedUndone);
    entry = next[entry]!;
  }
}

/**
 * A canonical string for a bitset. Ops are indexed in invocation order, so a
 * linearized set is nearly always "everything up to the highest member, except a
 * few pending ops": encode it as that highest index and the zeros below it, or as
 * the raw words when there are many zeros (e.g. many unknown ops never placed).
 */
function encodeBits(bits: Uint32Array): string {
  let top = bits.length - 1;
  while (top >= 0 && bits[top] === 0) top--;
  if (top < 0) return 'e';
  const high = top * 32 + 31 - Math.clz32(bits[top]!);
  let ones = 0;
  for (let w = 0; w <= top; w++) ones += popcount(bits[w]!);
  const zeros = high + 1 - ones;
  if (zeros <= 16 && high < 0x10000) {
    const codes: number[] = [0x7a /* z */, high];
    for (let w = 0; w <= top; w++) {
      let inv = ~bits[w]! >>> 0;
      if (w === top) inv &= high % 32 === 31 ? 0xffffffff : (1 << (high % 32 + 1)) - 1;
      while (inv !== 0) {
        const b = 31 - Math.clz32(inv & -inv);
        codes.push(w * 32 + b);
        inv &= inv - 1;
      }
    }
    return String.fromCharCode(...codes);
  }
  const codes: number[] = [0x72 /* r */];
  for (let w = 0; w <= top; w++) codes.push(bits[w]! & 0xffff, bits[w]! >>> 16);
  let s = '';
  for (let k = 0; k < codes.length; k += 4096) s += String.fromCharCode(...codes.slice(k, k + 4096));
  return s;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function buildWitness<S, I, O>(model: Model<S, I, O>, ops: Run<I, O>[], prefix: number[]): Witness<S> {
  const describe = (s: S): string => (model.describe ? model.describe(s) : model.key(s));
  const fmt = (i: number): string => {
    const { shown, index } = ops[i]!;
    return formatOp(shown as Op, index) + (shown.outcome === 'unknown' ? ' (taken as applied)' : '');
  };
  let state = model.init();
  const placed = new Set<number>();
  for (const i of prefix) {
    state = model.step(state, ops[i]!.op).next;
    placed.add(i);
  }
  let deadline = -1;
  for (let i = 0; i < ops.length; i++) {
    if (placed.has(i) || ops[i]!.op.outcome !== 'ok') continue;
    if (deadline < 0 || ops[i]!.op.completeMs! < ops[deadline]!.op.completeMs!) deadline = i;
  }
  const horizon = deadline < 0 ? Infinity : ops[deadline]!.op.completeMs!;
  // Known ops that may come next: each is illegal here, or legal but leads to no
  // linearization (the search tried it).
  const unplaceable: number[] = [];
  const note = new Map<number, string>();
  for (let i = 0; i < ops.length; i++) {
    if (placed.has(i) || ops[i]!.op.outcome !== 'ok' || ops[i]!.op.invokeMs > horizon) continue;
    unplaceable.push(i);
    if (model.impossible?.(state, ops[i]!.op)) note.set(i, ' (and never again: the state has moved past what it saw)');
    else if (model.step(state, ops[i]!.op).ok) note.set(i, ' (legal here, but nothing linearizable follows)');
  }
  const toPlaced = (i: number): PlacedOp => ({ index: ops[i]!.index, op: ops[i]!.shown as Op });
  const lastLinearized = prefix.slice(-6).map(fmt);
  const lines = [
    `longest linearizable prefix: ${prefix.length} of ${ops.length} ops` +
      (prefix.length > 0 ? `, ending with:\n    ${lastLinearized.join('\n    ')}` : ''),
    `state after it: ${describe(state)}`,
    `none of the ops that may come next can be placed there:\n    ${unplaceable.slice(0, 10).map((i) => fmt(i) + (note.get(i) ?? '')).join('\n    ')}` +
      (unplaceable.length > 10 ? `\n    ... and ${unplaceable.length - 10} more` : ''),
  ];
  if (deadline >= 0) lines.push(`and ${fmt(deadline)} had to take effect before it completed`);
  const pendingUnknown = ops.filter(({ op }, i) => !placed.has(i) && op.outcome === 'unknown').length;
  if (pendingUnknown > 0) lines.push(`(${pendingUnknown} ops with unknown outcome were left out there; each was also tried as applied)`);
  return {
    opsConsidered: ops.length,
    linearizedCount: prefix.length,
    linearized: prefix.map((i) => ops[i]!.index),
    lastLinearized,
    state,
    unplaceable: unplaceable.map(toPlaced),
    deadline: deadline >= 0 ? toPlaced(deadline) : null,
    explanation: lines.join('\n'),
  };
}
