// The recorded history of a chaos run: one record per client operation, as the
// client saw it. Pure data; the checkers in this directory read it and never do I/O.
//
// How the runner fills a record:
//   - `invokeMs` just before the request is sent, `completeMs` when its answer came.
//     Any monotonic clock shared by all processes of one run (performance.now()
//     in one runner process is ideal); only the order of times matters, and two
//     equal times are taken as concurrent.
//   - `outcome`:
//       'ok'      the server answered and the answer is recorded in `output`.
//                 An answer that reports a *semantic* refusal which is itself an
//                 observation of the state (412 BadVersion for a conditional set,
//                 404 NoNode, 409 NodeExists) is 'ok' too: the operation took place
//                 and its output says it was refused (e.g. `{ error: 'BadVersion' }`).
//       'fail'    the operation certainly did not take effect and observed nothing:
//                 503 NoQuorum, 429 Throttled, connection refused before sending,
//                 410 SessionExpired. Checkers drop these.
//       'unknown' no answer: a timeout, a connection lost after sending, 504
//                 OperationTimeout. The operation may or may not have taken effect,
//                 at any time after `invokeMs` (possibly after `completeMs`, the time
//                 the client gave up, or null). `output` is absent or ignored.
//   - `process` identifies the client (logical thread) that issued the op. A process
//     normally has one op in flight; after an 'unknown' op Jepsen retires the
//     process and continues under a fresh number, and so should the runner (the
//     checkers do not rely on it, but it keeps histories readable).
//   - `key` names the object the op is about (a znode path for the register). The
//     linearizability checker checks each key on its own (P-compositionality).

export type Outcome = 'ok' | 'fail' | 'unknown';

export interface Op<I = unknown, O = unknown> {
  /** The client (logical thread) that issued the op. */
  process: number;
  /** The operation's name, interpreted by the model or checker ('read', 'write', 'cas', 'add', ...). */
  f: string;
  /** The object the op is about (znode path); ops without a key form one object. */
  key?: string;
  /** The op's arguments. */
  input: I;
  /** When the client invoked it. */
  invokeMs: number;
  /** When the answer came ('ok'/'fail'), or when the client gave up / null ('unknown'). */
  completeMs: number | null;
  outcome: Outcome;
  /** The answer, for 'ok' ops (and optionally 'fail' ones, for the record). */
  output?: O;
}

export type History<I = unknown, O = unknown> = ReadonlyArray<Op<I, O>>;

/** Problems that make a history unusable (a runner bug, not a server bug); empty if fine. */
export function validateHistory(history: History): string[] {
  const problems: string[] = [];
  history.forEach((op, i) => {
    const where = `op #${i} (${formatOp(op)})`;
    if (!Number.isInteger(op.process)) problems.push(`${where}: process must be an integer`);
    if (typeof op.f !== 'string') problems.push(`${where}: f must be a string`);
    if (op.key !== undefined && typeof op.key !== 'string') problems.push(`${where}: key must be a string`);
    if (!Number.isFinite(op.invokeMs)) problems.push(`${where}: invokeMs must be a finite number`);
    if (op.outcome !== 'ok' && op.outcome !== 'fail' && op.outcome !== 'unknown') problems.push(`${where}: outcome must be ok, fail or unknown`);
    if (op.outcome !== 'unknown' && (op.completeMs === null || !Number.isFinite(op.completeMs))) {
      problems.push(`${where}: an '${op.outcome}' op needs a finite completeMs`);
    }
    if (op.completeMs !== null && Number.isFinite(op.completeMs) && op.completeMs < op.invokeMs) {
      problems.push(`${where}: completeMs before invokeMs`);
    }
  });
  return problems;
}

/** One op on one line: `#12 p3 cas /k {"expected":4,"value":"x"} → ok {"version":5} [100, 104.25]` (times to the µs). */
export function formatOp(op: Op, index?: number): string {
  const id = index === undefined ? '' : `#${index} `;
  const key = op.key === undefined ? '' : ` ${op.key}`;
  const input = op.input === undefined ? '' : ` ${short(op.input)}`;
  const out = op.outcome === 'ok' ? ` ${short(op.output)}` : '';
  const end = op.completeMs === null ? '∞' : time(op.completeMs);
  return `${id}p${op.process} ${op.f}${key}${input} → ${op.outcome}${out} [${time(op.invokeMs)}, ${end}]`;
}

const time = (ms: number): string => String(Math.round(ms * 1000) / 1000);

function short(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Ops grouped by key, each group in history order, with their indexes in the whole history. */
export function partitionByKey<T extends Op>(history: ReadonlyArray<T>): Map<string, { op: T; index: number }[]> {
  const parts = new Map<string, { op: T; index: number }[]>();
  history.forEach((op, index) => {
    const k = op.key ?? '';
    let part = parts.get(k);
    if (!part) parts.set(k, (part = []));
    part.push({ op, index });
  });
  return parts;
}
