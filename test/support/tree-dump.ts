import type { DataTree } from '../../core/tree/data-tree.ts';
import type { ZNode } from '../../core/tree/znode.ts';

/** A canonical, comparable picture of a tree: every node's fields, the sessions and the candidate sets. */
export function dumpTree(t: DataTree): unknown {
  const nodes: unknown[] = [];
  const visit = (path: string, n: ZNode) => {
    nodes.push([path, Buffer.from(n.data).toString('hex'), n.acl.map((a) => `${a.scheme}:${a.id}:${a.perms}`).join(','),
      n.czxid, n.mzxid, n.pzxid, n.ctime, n.mtime, n.version, n.cversion, n.aversion, n.ephemeralOwner, n.kind, n.ttlMs]);
    for (const name of t.childNames(n)) visit(path === '/' ? `/${name}` : `${path}/${name}`, n.children!.get(name)!);
  };
  visit('/', t.root);
  const sessions = [...t.sessions.values()].map((s) => [s.sessionId, s.timeoutMs, [...s.ephemerals].sort()]).sort();
  return { zxid: t.lastProcessedZxid, count: t.nodeCount, nodes, sessions, containers: [...t.containers].sort(), ttls: [...t.ttls].sort() };
}
