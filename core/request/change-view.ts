import type { Acl } from '../acl.ts';
import type { SessionId, Zxid } from '../ids.ts';
import type { DataTree } from '../tree/data-tree.ts';
import type { NodeKind } from '../txn.ts';

/** What preparation needs to know of a node (ZooKeeper's ChangeRecord). */
export interface NodeRecord {
  readonly version: number;
  readonly aversion: number;
  /** Internal child counter: creates ever (the next sequential suffix). */
  readonly cversion: number;
  readonly childCount: number;
  readonly ephemeralOwner: SessionId | null;
  readonly kind: NodeKind;
  readonly ttlMs: number;
  readonly acl: Acl;
  readonly mtime: number;
}

interface Change<T> {
  readonly value: T;
  readonly zxid: Zxid;
}

/**
 * The tree as it will be once every outstanding proposal commits: the
 * committed tree plus the changes proposed but not yet applied (ZooKeeper's
 * outstandingChanges). The leader prepares each request against this view, so
 * two pipelined creates of one path cannot both succeed.
 */
export class ChangeView {
  // A change stays in its map after the tree has applied it (it is then ignored: its zxid is at or
  // below `applied`); the maps are replaced, keeping only the pending changes, once they grow.
  // Deleting each change as it is applied rehashed these maps thousands of times a second, and V8
  // links each replaced hash table to its successor: once one was promoted, every later table and
  // what it held was promoted too (see api/token-table.ts for the measurement).
  private nodes = new Map<string, Change<NodeRecord | null>>();
  private sessions = new Map<SessionId, Change<boolean>>();
  /** The tree reflects every change up to this zxid. */
  private applied: Zxid;
  /** The highest zxid of a change recorded (so far nothing pending once applied reaches it). */
  private latest: Zxid;
  /** Size at which the maps are rebuilt with only their pending changes. */
  private rebuildAt = 1024;
  /** Undo log of the multi being prepared: previous entries, restored if it fails. */
  private undo: Array<() => void> | null = null;

  constructor(private readonly tree: DataTree) {
    this.applied = tree.lastProcessedZxid;
    this.latest = this.applied;
  }

  node(path: string): NodeRecord | null {
    const c = this.nodes.get(path);
    if (c !== undefined && c.zxid > this.applied) return c.value;
    const n = this.tree.get(path);
    if (n === undefined) return null;
    return {
      version: n.version, aversion: n.aversion, cversion: n.cversion, childCount: n.numChildren,
      ephemeralOwner: n.ephemeralOwner, kind: n.kind, ttlMs: n.ttlMs, acl: n.acl, mtime: n.mtime,
    };
  }

  sessionOpen(sessionId: SessionId): boolean {
    const c = this.sessions.get(sessionId);
    return c !== undefined && c.zxid > this.applied ? c.value : this.tree.sessions.has(sessionId);
  }

  setNode(path: string, value: NodeRecord | null, zxid: Zxid): void {
    this.remember(this.nodes, path);
    this.nodes.set(path, { value, zxid });
    if (zxid > this.latest) this.latest = zxid;
  }

  setSession(sessionId: SessionId, open: boolean, zxid: Zxid): void {
    this.remember(this.sessions, sessionId);
    this.sessions.set(sessionId, { value: open, zxid });
    if (zxid > this.latest) this.latest = zxid;
  }

  private remember<K, V>(map: Map<K, V>, key: K): void {
    if (this.undo === null) return;
    const prev = map.get(key);
    this.undo.push(prev === undefined ? () => map.delete(key) : () => map.set(key, prev));
  }

  /** Starts a group of changes (a multi) that rollback() can take back whole. */
  begin(): void {
    this.undo = [];
  }
  commitGroup(): void {
    this.undo = null;
  }
  rollback(): void {
    const undo = this.undo ?? [];
    this.undo = null;
    for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
  }

  /** The tree now reflects everything up to `zxid`: the changes it covers are ignored from now on, and dropped with the maps when they are replaced. */
  appliedUpTo(zxid: Zxid): void {
    if (zxid > this.applied) this.applied = zxid;
    if (this.undo !== null) return; // never while a multi is being prepared (its undo log holds these maps)
    if (this.applied >= this.latest) {
      // nothing pending: start over (empty maps are not replaced, to allocate nothing when idle)
      if (this.nodes.size > 0) this.nodes = new Map();
      if (this.sessions.size > 0) this.sessions = new Map();
      this.rebuildAt = 1024;
      return;
    }
    if (this.nodes.size + this.sessions.size < this.rebuildAt) return;
    this.nodes = pending(this.nodes, this.applied);
    this.sessions = pending(this.sessions, this.applied);
    this.rebuildAt = Math.max(1024, 2 * (this.nodes.size + this.sessions.size));
  }
}

function pending<K, T>(m: Map<K, Change<T>>, applied: Zxid): Map<K, Change<T>> {
  const out = new Map<K, Change<T>>();
  for (const [k, c] of m) if (c.zxid > applied) out.set(k, c);
  return out;
}
