/**
 * Reading a subtree (for tree and ls -R): one children call per node, a few
 * in flight at once, nodes deleted meanwhile left out. Then `tree`, which
 * prints it as tree(1) does.
 */
import { ZooGateError } from '../../client/errors.ts';
import type { Stat } from '../../client/types.ts';
import { noMoreArgs, type Invocation } from '../command.ts';
import { znodePath, type Context } from '../context.ts';

export interface TreeNode {
  readonly path: string;
  readonly name: string;
  stat: Stat;
  children: TreeNode[];
}

/** Children calls in flight at once: enough to hide the round trips, few enough not to crowd a server. */
const CONCURRENCY = 16;
/** Progress shows once this many nodes are read (small trees come back before anyone would look). */
const PROGRESS_AFTER = 200;
const PROGRESS_EVERY_MS = 100;

const childPath = (parent: string, name: string) => (parent === '/' ? `/${name}` : `${parent}/${name}`);

/**
 * The subtree at `path`, `depth` levels deep (0: the node alone). Throws
 * NoNode if `path` itself does not exist. With stderr on a terminal, the
 * count of nodes read shows there as it goes (for large trees).
 */
export async function walk(ctx: Context, path: string, depth: number): Promise<TreeNode> {
  const rest = ctx.rest();
  const first = await rest.children(path);
  const root: TreeNode = { path, name: path, stat: first.stat, children: [] };
  let read = 1;
  let lastShown = 0;
  const progress = process.stderr.isTTY === true;
  const show = (final: boolean) => {
    if (!progress || read < PROGRESS_AFTER) return;
    const now = Date.now();
    if (!final && now - lastShown < PROGRESS_EVERY_MS) return;
    lastShown = now;
    process.stderr.write(final ? '\r\x1b[K' : `\rreading ${path}: ${read} znodes…`);
  };

  const pending: { node: TreeNode; level: number }[] = [];
  const expand = (node: TreeNode, names: readonly string[], level: number) => {
    if (level >= depth) return;
    node.children = names.map((name) => ({ path: childPath(node.path, name), name, stat: first.stat, children: [] }));
    for (const c of node.children) pending.push({ node: c, level: level + 1 });
  };
  expand(root, first.children, 0);

  const gone = new Set<TreeNode>();
  // a pool of CONCURRENCY calls in flight, fed from one stack (depth first keeps it short)
  await new Promise<void>((resolve, reject) => {
    let active = 0;
    let failed = false;
    const pump = () => {
      if (failed) return;
      if (pending.length === 0 && active === 0) return resolve();
      while (active < CONCURRENCY && pending.length > 0) {
        const next = pending.pop()!;
        active++;
        rest.children(next.node.path).then((r) => {
          next.node.stat = r.stat;
          read++;
          show(false);
          expand(next.node, r.children, next.level);
        }, (e: unknown) => {
          if (e instanceof ZooGateError && e.code === 'NoNode') gone.add(next.node); // deleted while we read
          else throw e;
        }).then(() => {
          active--;
          pump();
        }, (e: unknown) => {
          failed = true;
          reject(e);
        });
      }
    };
    pump();
  });
  show(true);
  if (gone.size > 0) prune(root, gone);
  sortTree(root);
  return root;
}

function prune(node: TreeNode, gone: ReadonlySet<TreeNode>): void {
  node.children = node.children.filter((c) => !gone.has(c));
  for (const c of node.children) prune(c, gone);
}

function sortTree(node: TreeNode): void {
  node.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const c of node.children) sortTree(c);
}

/** Every path of the tree, depth first, the root first (zkCli's ls -R order). */
export function flatten(root: TreeNode): string[] {
  const out: string[] = [];
  const visit = (n: TreeNode) => {
    out.push(n.path);
    for (const c of n.children) visit(c);
  };
  visit(root);
  return out;
}

function count(n: TreeNode): number {
  return 1 + n.children.reduce((s, c) => s + count(c), 0);
}

/** tree(1)'s drawing. */
export function drawTree(root: TreeNode): string {
  const lines = [root.path];
  const visit = (n: TreeNode, prefix: string) => {
    n.children.forEach((c, i) => {
      const last = i === n.children.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${c.name}`);
      visit(c, prefix + (last ? '    ' : '│   '));
    });
  };
  visit(root, '');
  const n = count(root);
  return `${lines.join('\n')}\n\n${n} znode${n === 1 ? '' : 's'}\n`;
}

interface JsonTree {
  path: string;
  children: JsonTree[];
}

function toJson(n: TreeNode): JsonTree {
  return { path: n.path, children: n.children.map(toJson) };
}

export async function tree(inv: Invocation): Promise<void> {
  const { ctx, opts } = inv;
  const path = inv.args[0] === undefined ? '/' : znodePath(inv.args[0], 'tree');
  noMoreArgs(inv, 1);
  const root = await walk(ctx, path, opts.int('depth', 0) ?? Infinity);
  if (ctx.json) ctx.printJson(toJson(root));
  else ctx.print(drawTree(root));
}
