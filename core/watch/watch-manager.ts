import { ZkError } from '../errors.ts';
import type { SessionId, Zxid } from '../ids.ts';
import { parentOf } from '../paths.ts';
import type { DataTree } from '../tree/data-tree.ts';
import type { WatchEvent } from '../tree/txn-events.ts';

/** Kinds of watch a client registers (API.md): one-shot data/exists/children, and the persistent ones (addWatch). */
export const WATCH_KINDS = ['data', 'exists', 'children', 'persistent', 'persistent_recursive'] as const;
export type WatchKind = (typeof WATCH_KINDS)[number];

/** What removeWatches takes. */
export const REMOVE_KINDS = ['data', 'children', 'persistent', 'persistent_recursive', 'any'] as const;
export type RemoveKind = (typeof REMOVE_KINDS)[number];

const DATA = 1;
const EXISTS = 2;
const CHILDREN = 4;
const PERSISTENT = 8;
const RECURSIVE = 16;

const BIT: Record<WatchKind, number> = { data: DATA, exists: EXISTS, children: CHILDREN, persistent: PERSISTENT, persistent_recursive: RECURSIVE };
const REMOVE_BITS: Record<RemoveKind, number> = {
  data: DATA | EXISTS, children: CHILDREN, persistent: PERSISTENT, persistent_recursive: RECURSIVE, any: DATA | EXISTS | CHILDREN | PERSISTENT | RECURSIVE,
};

export interface Registration {
  readonly path: string;
  readonly kind: WatchKind;
}

/**
 * The watches set on one server, by path and session (ZooKeeper's
 * WatchManager, with its WatcherMode). Not replicated: a watch fires on the
 * server where it was set, when that server applies the change. For each
 * change, a session is notified at most once however many of its watches the
 * change triggers; one-shot watches are consumed, persistent ones stay, and
 * recursive ones see NodeCreated/NodeDeleted/NodeDataChanged at or below their
 * path but never NodeChildrenChanged.
 */
export class WatchManager {
  private readonly byPath = new Map<string, Map<SessionId, number>>();
  private readonly bySession = new Map<SessionId, Set<string>>();
  private recursiveCount = 0;

  add(sessionId: SessionId, path: string, kind: WatchKind): void {
    let sessions = this.byPath.get(path);
    if (sessions === undefined) this.byPath.set(path, (sessions = new Map()));
    const bits = sessions.get(sessionId) ?? 0;
    const bit = BIT[kind];
    if (bit === RECURSIVE && (bits & RECURSIVE) === 0) this.recursiveCount++;
    sessions.set(sessionId, bits | bit);
    let paths = this.bySession.get(sessionId);
    if (paths === undefined) this.bySession.set(sessionId, (paths = new Set()));
    paths.add(path);
  }

  /** removeWatches: NoWatcher when the session has no such watch on the path. */
  remove(sessionId: SessionId, path: string, kind: RemoveKind): void {
    const sessions = this.byPath.get(path);
    const bits = sessions?.get(sessionId) ?? 0;
    const drop = bits & REMOVE_BITS[kind];
    if (drop === 0) throw new ZkError('NoWatcher', `no ${kind} watch on ${path}`, path);
    this.setBits(sessionId, path, bits & ~drop);
  }

  /** Every watch of a session goes (its socket closed or it expired). */
  removeSession(sessionId: SessionId): void {
    const paths = this.bySession.get(sessionId);
    if (paths === undefined) return;
    for (const p of [...paths]) this.setBits(sessionId, p, 0);
  }

  private setBits(sessionId: SessionId, path: string, bits: number): void {
    const sessions = this.byPath.get(path);
    if (sessions === undefined) return;
    const prev = sessions.get(sessionId) ?? 0;
    if ((prev & RECURSIVE) !== 0 && (bits & RECURSIVE) === 0) this.recursiveCount--;
    if (bits === 0) {
      sessions.delete(sessionId);
      if (sessions.size === 0) this.byPath.delete(path);
      const paths = this.bySession.get(sessionId);
      paths?.delete(path);
      if (paths?.size === 0) this.bySession.delete(sessionId);
    } else sessions.set(sessionId, bits);
  }

  /** The watches a session has, as it would re-register them on another server. */
  watchesOf(sessionId: SessionId): Registration[] {
    const out: Registration[] = [];
    for (const path of this.bySession.get(sessionId) ?? []) {
      const bits = this.byPath.get(path)?.get(sessionId) ?? 0;
      for (const kind of WATCH_KINDS) if (bits & BIT[kind]) out.push({ path, kind });
    }
    return out;
  }

  get size(): number {
    let n = 0;
    for (const s of this.byPath.values()) n += s.size;
    return n;
  }

  /** Paths watched and by how many sessions, and sessions with how many watched paths (the wchc/wchp commands). */
  byPathCounts(): Map<string, SessionId[]> {
    return new Map([...this.byPath].map(([p, s]) => [p, [...s.keys()]]));
  }

  /**
   * The notifications a batch of changes causes, per session in event order,
   * consuming the one-shot watches that fire. `belowOnly` holds the events a
   * session gets only through a recursive watch on an ancestor: the caller
   * checks that session may read the parent before telling it (a recursive
   * watch must not reveal names a child listing would refuse; ZooKeeper's
   * CVE-2024-23944).
   */
  trigger(events: readonly WatchEvent[], into = new Map<SessionId, WatchEvent[]>(), belowOnly?: Set<WatchEvent>): Map<SessionId, WatchEvent[]> {
    for (const ev of events) {
      const notified = new Set<SessionId>();
      const viaAncestor = new Set<SessionId>();
      const sessions = this.byPath.get(ev.path);
      if (sessions !== undefined) {
        const fires = ev.type === 'NodeChildrenChanged' ? CHILDREN : ev.type === 'NodeDeleted' ? DATA | EXISTS | CHILDREN : DATA | EXISTS;
        for (const [sid, bits] of [...sessions]) {
          const oneShot = bits & fires;
          if (oneShot !== 0) this.setBits(sid, ev.path, bits & ~oneShot);
          if (oneShot !== 0 || (bits & PERSISTENT) !== 0) notified.add(sid);
        }
      }
      if (ev.type !== 'NodeChildrenChanged' && this.recursiveCount > 0) {
        for (let p = ev.path; ; p = parentOf(p)) {
          const s = this.byPath.get(p);
          if (s !== undefined) {
            for (const [sid, bits] of s) {
              if ((bits & RECURSIVE) === 0 || notified.has(sid)) continue;
              notified.add(sid);
              if (p !== ev.path) viaAncestor.add(sid);
            }
          }
          if (p === '/') break;
        }
      }
      for (const sid of notified) {
        let list = into.get(sid);
        if (list === undefined) into.set(sid, (list = []));
        if (belowOnly !== undefined && viaAncestor.has(sid)) {
          const copy = { ...ev };
          belowOnly.add(copy);
          list.push(copy);
        } else list.push(ev);
      }
    }
    return into;
  }

  /**
   * Re-registers a resuming session's watches (ZooKeeper's SetWatches): a
   * one-shot watch whose change happened after `lastZxid` fires at once instead
   * (NodeDeleted if the node is gone, NodeDataChanged / NodeChildrenChanged if
   * its mzxid / pzxid moved past lastZxid, NodeCreated for an exists watch on a
   * node that now exists); persistent watches are registered, and the events
   * they missed are in `missed` (the log after lastZxid), delivered in order.
   */
  resume(sessionId: SessionId, lastZxid: Zxid, regs: readonly Registration[], tree: DataTree, missed: readonly WatchEvent[]): WatchEvent[] {
    const now: WatchEvent[] = [];
    const at = tree.lastProcessedZxid;
    const persistent: Registration[] = [];
    for (const r of regs) {
      const node = tree.get(r.path);
      switch (r.kind) {
        case 'data':
          if (node === undefined) now.push({ type: 'NodeDeleted', path: r.path, zxid: at });
          else if (node.mzxid > lastZxid) now.push({ type: 'NodeDataChanged', path: r.path, zxid: node.mzxid });
          else this.add(sessionId, r.path, 'data');
          break;
        case 'exists':
          if (node !== undefined) now.push({ type: 'NodeCreated', path: r.path, zxid: node.czxid > lastZxid ? node.czxid : at });
          else this.add(sessionId, r.path, 'exists');
          break;
        case 'children':
          if (node === undefined) now.push({ type: 'NodeDeleted', path: r.path, zxid: at });
          else if (node.pzxid > lastZxid) now.push({ type: 'NodeChildrenChanged', path: r.path, zxid: node.pzxid });
          else this.add(sessionId, r.path, 'children');
          break;
        case 'persistent':
        case 'persistent_recursive':
          persistent.push(r);
          break;
      }
    }
    if (persistent.length > 0) {
      const probe = new WatchManager();
      for (const r of persistent) probe.add(sessionId, r.path, r.kind);
      now.push(...(probe.trigger(missed).get(sessionId) ?? []));
      for (const r of persistent) this.add(sessionId, r.path, r.kind);
    }
    // one notification per change: the same (type, path, zxid) once
    const seen = new Set<string>();
    return now
      .filter((e) => {
        const k = `${e.type}\u0000${e.path}\u0000${e.zxid}`;
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      })
      .sort((a, b) => a.zxid - b.zxid);
  }
}
