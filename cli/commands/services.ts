/**
 * `services register|list|pick`: service discovery (the ServiceRegistry and
 * ServiceDiscovery recipes, client/recipes/discovery.ts). An instance is an
 * ephemeral node `/services/NAME/ID` holding JSON, registered for as long as
 * `services register` runs.
 */
import { ZooGateError } from '../../client/errors.ts';
import { ServiceProvider, ServiceRegistry, type ProviderStrategy, type ServiceInstance, type StrategyFn } from '../../client/recipes/discovery.ts';
import { noMoreArgs, type Invocation } from '../command.ts';
import { znodePath, type Context } from '../context.ts';
import { UsageError } from '../errors.ts';
import { table } from '../format.ts';

const ACTIONS = ['register', 'list', 'pick'] as const;
type Action = (typeof ACTIONS)[number];

/** The options that mean something to one action only (given to another, they are a mistake worth saying). */
const ONLY_FOR: Readonly<Record<string, Action>> = {
  id: 'register', meta: 'register', 'session-timeout': 'register', strategy: 'pick', field: 'pick', count: 'pick',
};

/** `KEY=VALUE`: the value as JSON when it parses (numbers, booleans), else the text. */
function parseMeta(items: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--meta wants KEY=VALUE, not ${JSON.stringify(item)}`, 'services');
    const raw = item.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // plain text
    }
    out[item.slice(0, eq)] = value;
  }
  return out;
}

/** `HOST:PORT` (the host may be an IPv6 address in brackets). */
function parseAddress(s: string | undefined): { address: string; port: number } {
  const m = s === undefined ? null : /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s);
  if (m === null || Number(m[2]) > 65535) throw new UsageError(`want HOST:PORT, not ${JSON.stringify(s ?? '')}`, 'services');
  return { address: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Round robin starting at a random place: one-shot processes picking one each spread over the instances. */
const roundRobinFromRandom = (): StrategyFn => {
  let i = -1;
  return (xs) => {
    if (xs.length === 0) return null;
    if (i < 0) i = Math.floor(Math.random() * xs.length);
    return xs[i++ % xs.length];
  };
};

function strategyOf(name: string, field: string | undefined): ProviderStrategy {
  switch (name) {
    case 'round-robin': return roundRobinFromRandom();
    case 'random': return 'random';
    case 'least-loaded': return { kind: 'leastLoaded', field: field ?? 'load' };
    default: throw new UsageError(`--strategy is round-robin, random or least-loaded, not ${JSON.stringify(name)}`, 'services');
  }
}

const hostPort = (i: ServiceInstance) => (i.address.includes(':') ? `[${i.address}]:${i.port}` : `${i.address}:${i.port}`);

export async function services(inv: Invocation): Promise<number | void> {
  const action = inv.args[0] as Action | undefined;
  if (action === undefined || !ACTIONS.includes(action)) throw new UsageError(`want register, list or pick, not ${JSON.stringify(action ?? '')}`, 'services');
  const base = znodePath(inv.opts.string('base') ?? '/services', 'services', '--base');
  if (base === '/') throw new UsageError('--base wants a node of its own, not /', 'services');
  for (const [option, only] of Object.entries(ONLY_FOR)) {
    if (inv.opts.has(option) && only !== action) throw new UsageError(`--${option} is for ${only}, not ${action}`, 'services');
  }
  switch (action) {
    case 'register': return register(inv, base);
    case 'list': return list(inv, base);
    case 'pick': return pick(inv, base);
    default: {
      const never: never = action;
      throw new UsageError(`unknown action ${String(never)}`, 'services');
    }
  }
}

async function register(inv: Invocation, base: string): Promise<number> {
  const { ctx, opts } = inv;
  const name = inv.args[1];
  if (name === undefined) throw new UsageError('missing NAME', 'services');
  const { address, port } = parseAddress(inv.args[2]);
  noMoreArgs(inv, 3);
  const metadata = parseMeta(opts.list('meta'));
  const sessionTimeout = opts.durationMs('session-timeout');
  // a factory: after an expiry the registry opens a new session and registers the instance again
  const registry = new ServiceRegistry(() => ctx.session(sessionTimeout === undefined ? {} : { timeoutMs: sessionTimeout }), { basePath: base });
  registry.onEvent((e) => {
    if (e.type === 'reregistered') ctx.note(`session expired; registered again in session ${e.sessionId}`);
    else ctx.note(`session lost (${e.reason.message}); registering again`);
  });
  registry.onError((e) => ctx.note(`${e instanceof Error ? e.message : String(e)}`));
  try {
    const inst = await registry.register(name, { address, port, metadata, ...(opts.has('id') ? { id: opts.string('id')! } : {}) });
    if (ctx.json) ctx.printJson(inst);
    else ctx.print(`${base}/${name}/${inst.id}`);
    ctx.note(`registered ${name} ${hostPort(inst)} until Ctrl-C`);
    await ctx.stopped();
    return 0;
  } finally {
    await registry.close().catch(() => {});
  }
}

/**
 * The instances of a service now, read once over REST: a one-shot command
 * needs no session or live cache (ServiceDiscovery's), just the nodes as the
 * registry wrote them. Nodes that are not instances are skipped, as
 * ServiceDiscovery skips them.
 */
async function instancesOf(ctx: Context, name: string, base: string): Promise<ServiceInstance[]> {
  if (name.includes('/')) throw new UsageError(`a service name is one path segment, not ${JSON.stringify(name)}`, 'services');
  const rest = ctx.rest();
  const path = `${base}/${name}`;
  let ids: string[];
  try {
    ids = (await rest.children(path)).children;
  } catch (e) {
    if (e instanceof ZooGateError && e.code === 'NoNode') return [];
    throw e;
  }
  const read = await Promise.all(ids.map(async (id): Promise<ServiceInstance | null> => {
    try {
      const v = JSON.parse((await rest.get(`${path}/${id}`, { as: 'utf8' })).data) as Partial<ServiceInstance>;
      if (typeof v !== 'object' || v === null || typeof v.address !== 'string' || typeof v.port !== 'number') return null;
      return { name, id, address: v.address, port: v.port, metadata: typeof v.metadata === 'object' && v.metadata !== null ? v.metadata : {}, registeredAt: typeof v.registeredAt === 'number' ? v.registeredAt : 0 };
    } catch {
      return null; // gone since listed, or not an instance
    }
  }));
  return read.filter((i): i is ServiceInstance => i !== null).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function list(inv: Invocation, base: string): Promise<void> {
  const { ctx } = inv;
  const name = inv.args[1];
  noMoreArgs(inv, 2);
  if (name === undefined) {
    let names: string[] = [];
    try {
      names = (await ctx.rest().children(base)).children;
    } catch (e) {
      if (!(e instanceof ZooGateError && e.code === 'NoNode')) throw e;
    }
    if (ctx.json) ctx.printJson({ path: base, services: names });
    else ctx.print(names.join('\n'));
    return;
  }
  const xs = await instancesOf(ctx, name, base);
  if (ctx.json) return ctx.printJson(xs);
  ctx.print(table(['ID', 'ADDRESS', 'METADATA'], xs.map((i) => [i.id, hostPort(i), JSON.stringify(i.metadata)])));
}

async function pick(inv: Invocation, base: string): Promise<void> {
  const { ctx, opts } = inv;
  const name = inv.args[1];
  if (name === undefined) throw new UsageError('missing NAME', 'services');
  noMoreArgs(inv, 2);
  const strategyName = opts.string('strategy') ?? 'round-robin';
  if (opts.has('field') && strategyName !== 'least-loaded') throw new UsageError('--field is for --strategy least-loaded', 'services');
  const strategy = strategyOf(strategyName, opts.string('field'));
  const count = opts.int('count', 1) ?? 1;
  const xs = await instancesOf(ctx, name, base);
  const provider = new ServiceProvider(() => xs, { strategy });
  for (let i = 0; i < count; i++) {
    const inst = provider.getInstance();
    if (inst === null) throw new ZooGateError('NoNode', `no instance of ${name} is registered`, { path: `${base}/${name}` });
    if (ctx.json) ctx.printJson(inst);
    else ctx.print(hostPort(inst));
  }
}
