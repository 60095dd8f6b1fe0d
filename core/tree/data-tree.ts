import { type Acl, AclCache, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE } from '../acl.ts';
import { invariant } from '../errors.ts';
import type { SessionId, Zxid } from '../ids.ts';
import { NodeKind } from '../txn.ts';
import { EMPTY_DATA, ZNode } from './znode.ts';

export interface SessionInfo {
  readonly sessionId: SessionId;
  readonly timeoutMs: number;
  /** Paths of the session's ephemeral nodes. */
  readonly ephemerals: Set<string>;
}

/** The fields a snapshot in progress keeps of a node before it changes (copy on write). */
export interface NodeImage {
  data: Uint8Array;
  acl: Acl;
  mzxid: number;
  pzxid: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
}

const QUOTA_ROOT = '/zookeeper/quota';
const QUOTA_LIMITS = 'zookeeper_limits';
const QUOTA_STATS = 'zookeeper_stats';

/** StatsTrack's text form, "count=2,bytes=5[,key=value…]", as an ordered map. */
function parseStatsTrack(data: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const text = new TextDecoder().decode(data);
  if (text === '') return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const v = Number(part.slice(eq + 1));
    if (Number.isFinite(v)) out.set(part.slice(0, eq), v);
  }
  return out;
}

/** StatsTrack.toString: count first, bytes second, the rest after. */
function formatStatsTrack(track: Map<string, number>): Uint8Array {
  const keys = [...track.keys()].filter((k) => k !== 'count' && k !== 'bytes');
  if (track.has('bytes')) keys.unshift('bytes');
  if (track.has('count')) keys.unshift('count');
  return new TextEncoder().encode(keys.map((k) => `${k}=${track.get(k)}`).join(','));
}

export interface SnapshotImages {
  readonly zxid: Zxid;
  readonly generation: number;
  readonly images: Map<ZNode, NodeImage>;
}

export interface RestoredNode extends NodeImage {
  czxid: number;
  ctime: number;
  ephemeralOwner: SessionId | null;
  kind: NodeKind;
  ttlMs: number;
}

/**
 * The replicated state: the znode tree, the session table and the last applied
 * zxid. Mutated only through the primitives below, which applyTxn calls in
 * zxid order (ZooKeeper's DataTree). Everything here is deterministic: times
 * and zxids come from the transactions.
 */
export class DataTree {
  root: ZNode;
  sessions = new Map<SessionId, SessionInfo>();
  /** Paths of container and TTL nodes: the candidates the leader checks for removal (DataTree.containers/ttls). */
  containers = new Set<string>();
  ttls = new Set<string>();
  acls = new AclCache();
  lastProcessedZxid: Zxid = 0;
  nodeCount = 0;
  /** Paths with a quota (a /zookeeper/quota/<path>/zookeeper_limits node): their zookeeper_stats are kept current. */
  quotaPaths = new Set<string>();
  /** Bumped when the whole tree is replaced (reload after TRUNC, SNAP from the leader). */
  generation = 0;
  /** Snapshots being written: images of nodes as they were at each one's zxid. */
  private snapshots: SnapshotImages[] = [];

  constructor() {
    this.root = new ZNode('', null, EMPTY_DATA, OPEN_ACL_UNSAFE, 0, 0, null, NodeKind.PERSISTENT, 0);
    this.nodeCount = 1;
    // As ZooKeeper's DataTree constructor: /zookeeper, /zookeeper/quota, /zookeeper/config
    // are attached as children without counting as creates (their parents' internal cversion stays 0).
    const zk = this.attach(this.root, new ZNode('zookeeper', this.root, EMPTY_DATA, OPEN_ACL_UNSAFE, 0, 0, null, NodeKind.PERSISTENT, 0));
    this.attach(zk, new ZNode('quota', zk, EMPTY_DATA, OPEN_ACL_UNSAFE, 0, 0, null, NodeKind.PERSISTENT, 0));
    const config = this.attach(zk, new ZNode('config', zk, EMPTY_DATA, READ_ACL_UNSAFE, 0, 0, null, NodeKind.PERSISTENT, 0));
    config.aversion = -1;
  }

  private attach(parent: ZNode, child: ZNode): ZNode {
    (parent.children ??= new Map()).set(child.name, child);
    this.nodeCount++;
    return child;
  }

  /** The node at a valid absolute path, or undefined. */
  get(path: string): ZNode | undefined {
    if (path === '/') return this.root;
    let node: ZNode | undefined = this.root;
    let start = 1;
    while (node !== undefined) {
      const end = path.indexOf('/', start);
      const children: Map<string, ZNode> | null = node.children;
      if (children === null) return undefined;
      if (end < 0) return children.get(path.slice(start));
      node = children.get(path.slice(start, end));
      start = end + 1;
    }
    return undefined;
  }

  /** Children names, sorted as ZooKeeper clients show them. */
  childNames(node: ZNode): string[] {
    return node.children === null ? [] : [...node.children.keys()].sort();
  }

  // ---- mutation primitives (called by applyTxn only) ----

  createNode(
    path: string, data: Uint8Array, acl: Acl, ephemeralOwner: SessionId | null, kind: NodeKind, ttlMs: number,
    parentCVersion: number, zxid: Zxid, time: number,
  ): ZNode {
    const slash = path.lastIndexOf('/');
    const parent = this.get(slash === 0 ? '/' : path.slice(0, slash));
    invariant(parent !== undefined, `create ${path} at ${zxid}: parent missing`);
    const name = path.slice(slash + 1);
    invariant(!parent.children?.has(name), `create ${path} at ${zxid}: exists`);
    invariant(parentCVersion === parent.cversion + 1, `create ${path} at ${zxid}: parent cversion ${parent.cversion} + 1 != ${parentCVersion}`);
    this.preserve(parent);
    parent.cversion = parentCVersion;
    parent.pzxid = zxid;
    const node = new ZNode(name, parent, data, this.acls.intern(acl), zxid, time, ephemeralOwner, kind, ttlMs);
    this.attach(parent, node);
    if (ephemeralOwner !== null) {
      const session = this.sessions.get(ephemeralOwner);
      invariant(session !== undefined, `create ${path} at ${zxid}: owner ${ephemeralOwner} has no session`);
      session.ephemerals.add(path);
    } else if (kind === NodeKind.CONTAINER) this.containers.add(path);
    else if (kind === NodeKind.TTL) this.ttls.add(path);
    // DataTree.createNode's quota bookkeeping
    const parentPath = slash === 0 ? '/' : path.slice(0, slash);
    if (parentPath.startsWith(QUOTA_ROOT + '/')) {
      if (name === QUOTA_LIMITS) this.quotaPaths.add(parentPath.slice(QUOTA_ROOT.length));
      if (name === QUOTA_STATS) this.recountQuota(parentPath.slice(QUOTA_ROOT.length));
    }
    this.updateQuotaStat(path, data.length, 1);
    return node;
  }

  deleteNode(path: string, zxid: Zxid): ZNode {
    const node = this.get(path);
    invariant(node !== undefined && node.parent !== null, `delete ${path} at ${zxid}: no such node`);
    invariant(node.numChildren === 0, `delete ${path} at ${zxid}: has children`);
    const parent = node.parent;
    this.preserve(parent);
    parent.children!.delete(node.name);
    if (parent.children!.size === 0) parent.children = null;
    // DataTree.deleteNode: only a larger zxid moves pzxid (the internal cversion is untouched).
    if (zxid > parent.pzxid) parent.pzxid = zxid;
    this.nodeCount--;
    if (node.ephemeralOwner !== null) this.sessions.get(node.ephemeralOwner)?.ephemerals.delete(path);
    else if (node.kind === NodeKind.CONTAINER) this.containers.delete(path);
    else if (node.kind === NodeKind.TTL) this.ttls.delete(path);
    const parentPath = parent.parent === null ? '/' : parent.path;
    if (node.name === QUOTA_LIMITS && parentPath.startsWith(QUOTA_ROOT + '/')) this.quotaPaths.delete(parentPath.slice(QUOTA_ROOT.length));
    this.updateQuotaStat(path, -node.data.length, -1);
    return node;
  }

  setData(node: ZNode, data: Uint8Array, version: number, zxid: Zxid, time: number): void {
    if (this.quotaPaths.size > 0) this.updateQuotaStat(node.path, data.length - node.data.length, 0);
    this.preserve(node);
    node.data = data;
    node.version = version;
    node.mzxid = zxid;
    node.mtime = time;
  }

  setAcl(node: ZNode, acl: Acl, aversion: number): void {
    this.preserve(node);
    node.acl = this.acls.intern(acl);
    node.aversion = aversion;
  }

  addSession(sessionId: SessionId, timeoutMs: number): void {
    invariant(!this.sessions.has(sessionId), `session ${sessionId} exists`);
    this.sessions.set(sessionId, { sessionId, timeoutMs, ephemerals: new Set() });
  }

  removeSession(sessionId: SessionId): void {
    const s = this.sessions.get(sessionId);
    invariant(s !== undefined && s.ephemerals.size === 0, `close ${sessionId}: unknown or still owns nodes`);
    this.sessions.delete(sessionId);
  }

  // ---- quotas (ZooKeeper's zookeeper_limits / zookeeper_stats; tracked, not enforced, as ZooKeeper by default) ----

  /** The longest path with a quota at or above `path` (PathTrie.findMaxPrefix), outside /zookeeper. */
  private quotaPrefixOf(path: string): string | null {
    if (this.quotaPaths.size === 0 || path === '/zookeeper' || path.startsWith('/zookeeper/')) return null;
    for (let p = path; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
      if (this.quotaPaths.has(p)) return p === '/' ? null : p;
      if (p === '/') return null;
    }
  }

  /** DataTree.updateQuotaStat: the stats node's data changes in place (its Stat does not, as in ZooKeeper). */
  private updateQuotaStat(path: string, bytesDiff: number, countDiff: number): void {
    const prefix = this.quotaPrefixOf(path);
    if (prefix === null) return;
    const stats = this.get(`${QUOTA_ROOT}${prefix}/${QUOTA_STATS}`);
    if (stats === undefined) return;
    const track = parseStatsTrack(stats.data);
    track.set('count', (track.get('count') ?? -1) + countDiff);
    track.set('bytes', (track.get('bytes') ?? -1) + bytesDiff);
    this.preserve(stats);
    stats.data = formatStatsTrack(track);
  }

  /** DataTree.updateQuotaForPath: count the subtree afresh into a new stats node. */
  private recountQuota(path: string): void {
    const stats = this.get(`${QUOTA_ROOT}${path}/${QUOTA_STATS}`);
    if (stats === undefined) return;
    let count = 0;
    let bytes = 0;
    const root = this.get(path);
    const stack = root === undefined ? [] : [root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      count++;
      bytes += n.data.length;
      if (n.children !== null) for (const c of n.children.values()) stack.push(c);
    }
    this.preserve(stats);
    stats.data = formatStatsTrack(new Map([['count', count], ['bytes', bytes]]));
  }

  /**
   * Puts a node read from a snapshot in place (parents come first). The root
   * and /zookeeper's nodes exist already and take the snapshot's fields.
   */
  restoreNode(path: string, parent: ZNode | undefined, f: RestoredNode): ZNode {
    const existing = this.get(path);
    let node: ZNode;
    if (existing !== undefined) {
      invariant(existing.czxid === f.czxid && existing.ctime === f.ctime, `restore ${path}: a different node exists`);
      node = existing;
    } else {
      invariant(parent !== undefined, `restore ${path}: no parent`);
      node = this.attach(parent, new ZNode(path.slice(path.lastIndexOf('/') + 1), parent, f.data, f.acl, f.czxid, f.ctime, f.ephemeralOwner, f.kind, f.ttlMs));
      if (f.ephemeralOwner !== null) {
        const session = this.sessions.get(f.ephemeralOwner);
        invariant(session !== undefined, `restore ${path}: owner ${f.ephemeralOwner} has no session`);
        session.ephemerals.add(path);
      } else if (f.kind === NodeKind.CONTAINER) this.containers.add(path);
      else if (f.kind === NodeKind.TTL) this.ttls.add(path);
      const pp = parent.parent === null ? '/' : parent.path;
      if (node.name === QUOTA_LIMITS && pp.startsWith(QUOTA_ROOT + '/')) this.quotaPaths.add(pp.slice(QUOTA_ROOT.length));
    }
    node.data = f.data;
    node.acl = this.acls.intern(f.acl);
    node.mzxid = f.mzxid;
    node.pzxid = f.pzxid;
    node.mtime = f.mtime;
    node.version = f.version;
    node.cversion = f.cversion;
    node.aversion = f.aversion;
    return node;
  }

  // ---- snapshot support: copy on write while a snapshot is written ----

  /**
   * Starts a consistent snapshot at the current zxid: returns every node (parents
   * before children) and keeps, from now until endSnapshot, the image of each
   * node as it was before its first change. The writer reads imageOf(node), so
   * the snapshot is exactly the state at this zxid however long writing takes.
   */
  beginSnapshot(): { nodes: ZNode[]; handle: SnapshotImages } {
    const handle: SnapshotImages = { zxid: this.lastProcessedZxid, generation: this.generation, images: new Map() };
    this.snapshots.push(handle);
    const nodes: ZNode[] = [];
    const stack: ZNode[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      nodes.push(n);
      if (n.children !== null) for (const c of n.children.values()) stack.push(c);
    }
    return { nodes, handle };
  }

  imageOf(node: ZNode, handle: SnapshotImages): NodeImage {
    return handle.images.get(node) ?? node;
  }

  endSnapshot(handle: SnapshotImages): void {
    this.snapshots = this.snapshots.filter((s) => s !== handle);
  }

  private preserve(node: ZNode): void {
    for (const s of this.snapshots) {
      // Nodes created after the snapshot's zxid are not in it and need no image.
      if (node.czxid > s.zxid || s.images.has(node)) continue;
      s.images.set(node, {
        data: node.data, acl: node.acl, mzxid: node.mzxid, pzxid: node.pzxid, mtime: node.mtime,
        version: node.version, cversion: node.cversion, aversion: node.aversion,
      });
    }
  }

  /**
   * Takes over another tree's whole state (ZKDatabase's reload after a TRUNC,
   * or the leader's snapshot). Snapshots in progress of the old state are void.
   */
  loadFrom(other: DataTree): void {
    this.root = other.root;
    this.sessions = other.sessions;
    this.containers = other.containers;
    this.ttls = other.ttls;
    this.quotaPaths = other.quotaPaths;
    this.acls = other.acls;
    this.lastProcessedZxid = other.lastProcessedZxid;
    this.nodeCount = other.nodeCount;
    this.snapshots = [];
    this.generation++;
  }
}
