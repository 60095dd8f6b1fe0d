/** `members` (also `cluster status`): the ensemble as the first server that answers sees it. */
import { noMoreArgs, type Invocation } from '../command.ts';
import { hex, table } from '../format.ts';

export async function members(inv: Invocation): Promise<void> {
  const { ctx } = inv;
  noMoreArgs(inv, 0);
  const c = await ctx.rest().cluster();
  if (ctx.json) return ctx.printJson(c);
  ctx.print(`server ${c.serverId} (${ctx.rest().node}): ${c.state}, leader ${c.leaderId ?? 'none'}, epoch ${c.epoch}, last zxid ${hex(c.lastZxid)}`);
  ctx.print(table(
    ['ID', 'ADDRESS', 'STATE', 'LAST ZXID'],
    c.members.map((m) => [`${m.id}${m.id === c.serverId ? '*' : ''}`, m.address, m.state ?? '-', hex(m.lastZxid)]),
  ));
}
