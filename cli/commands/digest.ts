/** `digest`: ZooKeeper's digest id of a user and password (DigestAuthenticationProvider.generateDigest), computed here. */
import { createHash } from 'node:crypto';
import { noMoreArgs, type Invocation } from '../command.ts';
import { UsageError } from '../errors.ts';

export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

export async function digest(inv: Invocation): Promise<void> {
  const { ctx } = inv;
  const arg = inv.args[0];
  noMoreArgs(inv, 1);
  const colon = arg?.indexOf(':') ?? -1;
  if (arg === undefined || colon <= 0) throw new UsageError('want USER:PASSWORD', 'digest');
  const user = arg.slice(0, colon);
  const id = digestId(user, arg.slice(colon + 1));
  if (ctx.json) ctx.printJson({ user, id });
  else ctx.print(id);
}
