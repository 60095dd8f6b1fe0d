import { createHash } from 'node:crypto';
import { ZkError } from '../../core/errors.ts';
import type { DataTree } from '../../core/tree/data-tree.ts';
import type { ZNode } from '../../core/tree/znode.ts';
import type { Exchange } from '../exchange.ts';
import { checkQuery } from '../http-util.ts';

/**
 * A digest of the whole replicated state (every node's fields, children in
 * sorted order, and the session table): two servers at the same zxid must
 * have the same digest. Costs a walk of the tree.
 */
export function treeDigest(tree: DataTree): string {
  const h = createHash('sha256');
  const visit = (path: string, n: ZNode) => {
    h.update(`${path}\u0000${n.czxid},${n.mzxid},${n.pzxid},${n.ctime},${n.mtime},${n.version},${n.cversion},${n.aversion},${n.ephemeralOwner},${n.kind},${n.ttlMs}\u0000`);
    h.update(n.acl.map((a) => `${a.scheme}:${a.id}:${a.perms}`).join(','));
    h.update(n.data);
    if (n.children === null) return;
    for (const name of [...n.children.keys()].sort()) visit(path === '/' ? `/${name}` : `${path}/${name}`, n.children.get(name)!);
  };
  visit('/', tree.root);
  for (const s of [...tree.sessions.values()].sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1))) h.update(`session ${s.sessionId} ${s.timeoutMs}\u0000`);
  return h.digest('hex');
}

/** GET /commands/{name}: ZooKeeper AdminServer-style JSON. */
export async function command(x: Exchange, name: string): Promise<void> {
  checkQuery(x.query, []);
  const n = x.node;
  switch (name) {
    case 'ruok':
      return x.json(200, { command: 'ruok', error: null });
    case 'hash':
      return x.json(200, { command: 'hash', error: null, zxid: n.lastZxid, digest: treeDigest(n.tree), nodeCount: n.tree.nodeCount });
    default:
      throw new ZkError('NoNode', `no such command: ${name}`);
  }
}
