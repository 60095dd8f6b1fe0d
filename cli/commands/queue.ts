/**
 * `queue put|take|peek|size PATH`: a FIFO queue (the DistributedQueue
 * recipe, client/recipes/queue.ts): each item taken exactly once, however
 * many consumers compete.
 */
import { ZooGateError } from '../../client/errors.ts';
import { DistributedQueue, type QueueItem } from '../../client/recipes/queue.ts';
import { noMoreArgs, sessionLost, signalExitCode, type Invocation } from '../command.ts';
import { dataArg, znodePath } from '../context.ts';
import { UsageError } from '../errors.ts';
import { encodeData } from '../format.ts';

const ACTIONS = ['put', 'take', 'peek', 'size'] as const;
type Action = (typeof ACTIONS)[number];

export async function queue(inv: Invocation): Promise<number | void> {
  const { ctx, opts } = inv;
  const action = inv.args[0] as Action | undefined;
  if (action === undefined || !ACTIONS.includes(action)) throw new UsageError(`want put, take, peek or size, not ${JSON.stringify(action ?? '')}`, 'queue');
  const path = znodePath(inv.args[1], 'queue');
  if (path === '/') throw new UsageError('a queue needs a node of its own, not /', 'queue');
  if (action === 'put' && inv.args[2] === undefined) throw new UsageError('missing DATA (or - for stdin)', 'queue');
  noMoreArgs(inv, action === 'put' ? 3 : 2);
  if (opts.has('timeout') && action !== 'take') throw new UsageError('--timeout is how long take waits for an item', 'queue');
  const waitMs = action === 'take' ? opts.durationMs('timeout', true) : undefined;

  // the wait for an item is --timeout; reaching the ensemble takes the default
  const s = await ctx.session();
  const lost = sessionLost(ctx, s);
  const q = new DistributedQueue(s, path);
  const show = (item: QueueItem) => {
    if (ctx.json) ctx.printJson({ path: item.path, ...encodeData(item.data) });
    else ctx.printData(item.data);
  };
  switch (action) {
    case 'put': {
      const name = await Promise.race([q.put(await dataArg(inv.args[2])), lost]);
      if (ctx.json) ctx.printJson({ path: name });
      else if (name !== null) ctx.print(name);
      else ctx.note('the item was added, but the answer naming it was lost');
      return;
    }
    case 'size': {
      const n = await Promise.race([q.size(), lost]);
      if (ctx.json) ctx.printJson({ path, size: n });
      else ctx.print(String(n));
      return;
    }
    case 'peek': {
      const item = await Promise.race([q.peek(), lost]);
      if (item === null) throw new ZooGateError('NoNode', `queue ${path} is empty`, { path });
      return show(item);
    }
    case 'take': {
      const abort = new AbortController();
      void ctx.stopped().then((sig) => abort.abort(new ZooGateError('SessionClosed', `stopped by ${sig}`)));
      const deadline = waitMs === undefined ? null : Date.now() + waitMs;
      let item: QueueItem | null;
      try {
        // first without waiting, so that people see when it does wait
        item = await Promise.race([q.take({ signal: abort.signal, timeoutMs: 0 }), lost]);
        if (item === null && waitMs !== 0) {
          ctx.note(`waiting for an item in ${path}${waitMs === undefined ? '' : ` (at most ${waitMs / 1000} s)`}`);
          item = await Promise.race([q.take({ signal: abort.signal, ...(deadline === null ? {} : { timeoutMs: Math.max(0, deadline - Date.now()) }) }), lost]);
        }
      } catch (e) {
        if (ctx.stopSignal !== null) return signalExitCode(ctx.stopSignal);
        throw e;
      }
      if (item === null) throw new ZooGateError('NoNode', `queue ${path} is empty${waitMs ? ` (waited ${waitMs / 1000} s)` : ''}`, { path });
      return show(item);
    }
    default: {
      const never: never = action;
      throw new UsageError(`unknown action ${String(never)}`, 'queue');
    }
  }
}
