// Test support: histories of versioned registers generated from a real sequential
// execution, so they are linearizable by construction. Each op gets a random
// interval [invoke, complete] per process, a linearization point inside it, and its
// output from executing all ops in linearization-point order. Some ops end 'unknown'
// (applied or not, at random) or 'fail' (not applied).

import type { RegisterOp, RegisterState } from './register-model.ts';

/** mulberry32: a small seeded PRNG, so failures replay. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenOptions {
  seed: number;
  ops: number;
  processes: number;
  keys?: string[];
  /** Latest completion after invocation, in ms (default 10); some ops take 5x longer. */
  maxLatencyMs?: number;
  pUnknown?: number;
  pFail?: number;
  pRead?: number;
  pCas?: number;
}

export interface Generated {
  history: RegisterOp[];
  /** Per key, the value at each version (index = version), as executed. */
  values: Map<string, string[]>;
  /** Per op index, its linearization point (for applied ops). */
  linAt: Map<number, number>;
}

export const PRECREATED: RegisterState = { value: '', version: 0 };

export function generateRegisterHistory(o: GenOptions): Generated {
  const rnd = prng(o.seed);
  const keys = o.keys ?? ['/r'];
  const maxLat = o.maxLatencyMs ?? 10;
  const pUnknown = o.pUnknown ?? 0.02;
  const pFail = o.pFail ?? 0.02;
  const pRead = o.pRead ?? 0.5;
  const pCas = o.pCas ?? 0.25;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;

  type Draft = { op: RegisterOp; lin: number; applied: boolean };
  const drafts: Draft[] = [];
  const clock = Array.from({ length: o.processes }, () => rnd() * 3);
  const procId = Array.from({ length: o.processes }, (_, i) => i);
  let nextProc = o.processes;
  for (let n = 0; n < o.ops; n++) {
    // The process whose clock is earliest issues the next op.
    let p = 0;
    for (let q = 1; q < o.processes; q++) if (clock[q]! < clock[p]!) p = q;
    const invoke = clock[p]! + rnd() * 2;
    const lat = (rnd() < 0.05 ? 5 : 1) * (0.2 + rnd() * maxLat);
    const complete = invoke + lat;
    const lin = invoke + rnd() * lat;
    const r = rnd();
    const f = r < pRead ? 'read' : r < pRead + pCas ? 'cas' : 'write';
    const u = rnd();
    const outcome = u < pUnknown ? 'unknown' : u < pUnknown + pFail ? 'fail' : 'ok';
    const applied = outcome === 'ok' || (outcome === 'unknown' && rnd() < 0.5);
    const op: RegisterOp = { process: procId[p]!, f, key: pick(keys), input: null, invokeMs: invoke, completeMs: outcome === 'unknown' ? (rnd() < 0.5 ? null : complete) : complete, outcome };
    drafts.push({ op, lin, applied });
    clock[p] = complete;
    if (outcome === 'unknown') procId[p] = nextProc++; // the process is retired
  }

  // Execute in linearization-point order.
  const state = new Map(keys.map((k) => [k, { ...PRECREATED }]));
  const values = new Map(keys.map((k) => [k, [PRECREATED.value!]]));
  const linAt = new Map<number, number>();
  let counter = 0;
  const order = drafts.map((d, i) => i).sort((a, b) => drafts[a]!.lin - drafts[b]!.lin);
  for (const i of order) {
    const d = drafts[i]!;
    const s = state.get(d.op.key!)!;
    const value = `v${counter++}`;
    if (d.op.f === 'write') d.op.input = { value };
    if (d.op.f === 'cas') {
      const x = rnd();
      d.op.input = { expected: x < 0.6 ? s.version : Math.max(0, s.version - 1 - Math.floor(rnd() * 3)), value };
    }
    if (d.op.outcome === 'fail') {
      d.op.output = { error: 'NoQuorum' } as never;
      continue;
    }
    if (!d.applied) continue;
    linAt.set(i, d.lin);
    let out: RegisterOp['output'];
    if (d.op.f === 'read') out = { value: s.value, version: s.version };
    else if (d.op.f === 'write' || (d.op.input as { expected: number }).expected === s.version) {
      s.version++;
      s.value = value;
      values.get(d.op.key!)!.push(value);
      out = { version: s.version };
    } else out = { error: 'BadVersion' };
    if (d.op.outcome === 'ok') d.op.output = out;
  }
  return { history: drafts.map((d) => d.op), values, linAt };
}
