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
  private readonly nodes = new Map<string, Change<NodeRecord | null>>();
  private readonly sessions = new Map<SessionId, Change<boolean>>();
  /** Undo log of the multi being prepared: previous entries, restored if it fails. */
  private undo: Array<() => void> | null = null;

  constructor(private readonly tree: DataTree) {}

  get outstanding(): number {
    return this.nodes.size + this.sessions.size;
  }

  node(path: string): NodeRecord | null {
    const c = this.nodes.get(path);
    if (c !== undefined) return c.value;
    const n = this.tree.get(path);
    if (n === undefined) return null;
    return {
      version: n.version, aversion: n.aversion, cversion: n.cversion, childCount: n.numChildren,
      ephemeralOwner: n.ephemeralOwner, kind: n.kind, ttlMs: n.ttlMs, acl: n.acl, mtime: n.mtime,
    };
  }

  sessionOpen(sessionId: SessionId): boolean {
    const c = this.sessions.get(sessionId);
    return c !== undefined ? c.value : this.tree.sessions.has(sessionId);
  }

  setNode(path: string, value: NodeRecord | null, zxid: Zxid): void {
    this.remember(this.nodes, path);
    this.nodes.set(path, { value, zxid });
  }

  setSession(sessionId: SessionId, open: boolean, zxid: Zxid): void {
    this.remember(this.sessions, sessionId);
    this.sessions.set(sessionId, { value: open, zxid });
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

  /** The tree now reflects everything up to `zxid`: drop the changes it covers. */
  appliedUpTo(zxid: Zxid): void {
    for (const [k, c] of this.nodes) if (c.zxid <= zxid) this.nodes.delete(k);
    for (const [k, c] of this.sessions) if (c.zxid <= zxid) this.sessions.delete(k);
  }
}
