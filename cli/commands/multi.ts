/** `multi`: the API's atomic multi-op, ops as JSON from a file or stdin. */
import { readFile } from 'node:fs/promises';
import type { MultiOpInput, MultiResult } from '../../client/index.ts';
import { noMoreArgs, type Invocation } from '../command.ts';
import { readStdin } from '../context.ts';
import { UsageError } from '../errors.ts';

const OPS = new Set(['create', 'set', 'delete', 'check']);

/** `{"ops":[…]}` or the bare list; each entry an object with a known `op` and a `path` (the server checks the rest). */
export function parseOps(text: string): MultiOpInput[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`the ops are not valid JSON: ${(e as Error).message}`, 'multi');
  }
  const ops = Array.isArray(v) ? v : typeof v === 'object' && v !== null && Array.isArray((v as { ops?: unknown }).ops) ? (v as { ops: unknown[] }).ops : null;
  if (ops === null) throw new UsageError('want {"ops":[…]} or a JSON list of ops', 'multi');
  ops.forEach((op, i) => {
    const o = op as { op?: unknown; path?: unknown };
    if (typeof op !== 'object' || op === null || typeof o.op !== 'string' || !OPS.has(o.op) || typeof o.path !== 'string') {
      throw new UsageError(`op ${i} is not {"op":"create"|"set"|"delete"|"check","path",…}: ${JSON.stringify(op)}`, 'multi');
    }
  });
  return ops as MultiOpInput[];
}

function describe(op: MultiOpInput, r: MultiResult): string {
  switch (r.op) {
    case 'create': return `create ${r.path}`;
    case 'set': return `set ${op.path} version ${r.stat.version}`;
    case 'delete': return `delete ${op.path}`;
    case 'check': return `check ${op.path}`;
    default: {
      const never: never = r;
      return JSON.stringify(never);
    }
  }
}

export async function multi(inv: Invocation): Promise<void> {
  const { ctx } = inv;
  const file = inv.args[0];
  noMoreArgs(inv, 1);
  let text: string;
  if (file === undefined || file === '-') text = Buffer.from(await readStdin()).toString('utf8');
  else {
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${file}: ${(e as Error).message}`, 'multi');
    }
  }
  const ops = parseOps(text);
  const r = await ctx.rest().multi(ops);
  if (ctx.json) return ctx.printJson(r);
  ctx.print(r.results.map((res, i) => describe(ops[i]!, res)).join('\n'));
}
