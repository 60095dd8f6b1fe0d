/**
 * `watch`: a persistent (or persistent recursive) watch over a session,
 * printed as it fires until Ctrl-C or --count events. The session moves
 * between servers by itself and persistent watches replay what they missed,
 * so a server dying loses no event.
 */
import type { WatchEvent } from '../../client/index.ts';
import { noMoreArgs, sessionLost, type Invocation } from '../command.ts';
import { znodePath } from '../context.ts';
import { hex } from '../format.ts';

export async function watch(inv: Invocation): Promise<number> {
  const { ctx, opts } = inv;
  const path = znodePath(inv.args[0], 'watch');
  noMoreArgs(inv, 1);
  const limit = opts.int('count', 1) ?? Infinity;
  const sessionTimeout = opts.durationMs('session-timeout');
  const s = await ctx.session(sessionTimeout === undefined ? {} : { timeoutMs: sessionTimeout });
  const lost = sessionLost(ctx, s);
  let seen = 0;
  let done!: () => void;
  const enough = new Promise<void>((r) => (done = r));
  const print = (e: WatchEvent) => {
    if (seen >= limit) return;
    seen++;
    if (ctx.json) ctx.printJson(e);
    else ctx.print(`${e.event} ${e.path} ${hex(e.zxid)}`);
    if (seen >= limit) done();
  };
  await s.addWatch(path, opts.flag('recursive') ? 'persistent_recursive' : 'persistent', print);
  ctx.note(`watching ${path}${opts.flag('recursive') ? ' and below' : ''}; Ctrl-C to stop`);
  await Promise.race([enough, lost, ctx.stopped()]);
  return 0;
}
