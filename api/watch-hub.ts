import { type AuthId, Perms } from '../core/acl.ts';
import { canAccess } from '../core/auth.ts';
import type { SessionId } from '../core/ids.ts';
import { parentOf } from '../core/paths.ts';
import type { DataTree } from '../core/tree/data-tree.ts';
import type { Applied } from '../core/tree/apply-txn.ts';
import type { WatchEvent } from '../core/tree/txn-events.ts';
import { WatchManager } from '../core/watch/watch-manager.ts';
import type { ServerNode } from './server-node.ts';

/** A session's live connection (its WebSocket): where its watch events and session state go. */
export interface SessionChannel {
  readonly sessionId: SessionId;
  /** Who the connection authenticated as, for the read checks on recursive watch events. */
  readonly auth: readonly AuthId[];
  /** The client's address, for the cons command. */
  readonly remote: string;
  readonly connectedAt: number;
  sendEvent(ev: WatchEvent): void;
  /** The session ended: tell the client, then close. */
  endSession(state: 'Expired' | 'Closed'): void;
  /** Another connection took the session over. */
  displace(): void;
  /** This server stopped serving (lost its leader or quorum): the client should move to another server. */
  abandon(reason: string): void;
}

/** A stream that sees every change (Server-Sent Events); it filters by path itself. */
export interface ChangeStream {
  offer(events: readonly WatchEvent[]): void;
  abandon(reason: string): void;
}

/**
 * Routes applied changes to watchers on this server: one-shot and persistent
 * watches through the WatchManager to each session's live channel, and every
 * change to the SSE streams. Runs synchronously inside the apply step, so
 * events leave before the answer to the write that caused them.
 */
export class WatchHub {
  readonly watches = new WatchManager();
  private readonly channels = new Map<SessionId, SessionChannel>();
  private readonly streams = new Set<ChangeStream>();

  constructor(readonly node: ServerNode) {
    node.onApplied((a) => this.onApplied(a));
    node.onRoleChange = () => {
      if (!node.serving) this.abandonAll(`server ${node.cfg.serverId} is ${node.replica.state.toLowerCase()}, not serving; reconnect to another server`);
    };
  }

  get channelCount(): number {
    return this.channels.size;
  }
  get streamCount(): number {
    return this.streams.size;
  }

  /** The live connections, for the cons and wchc commands. */
  channelList(): SessionChannel[] {
    return [...this.channels.values()];
  }

  hasChannel(sessionId: SessionId): boolean {
    return this.channels.has(sessionId);
  }

  /** Binds a session to a connection; an older connection of the session is displaced (ZooKeeper closes it). */
  attach(ch: SessionChannel): void {
    const old = this.channels.get(ch.sessionId);
    this.channels.set(ch.sessionId, ch);
    if (old !== undefined && old !== ch) {
      this.watches.removeSession(ch.sessionId);
      old.displace();
    }
  }

  /** The connection went away: its watches go with it (a resuming client re-registers them). */
  detach(ch: SessionChannel): void {
    if (this.channels.get(ch.sessionId) !== ch) return;
    this.channels.delete(ch.sessionId);
    this.watches.removeSession(ch.sessionId);
  }

  /** This server stopped serving: every client is told to reconnect elsewhere (ZooKeeper closes its connections). */
  abandonAll(reason: string): void {
    const chans = [...this.channels.values()];
    this.channels.clear();
    for (const ch of chans) {
      this.watches.removeSession(ch.sessionId);
      ch.abandon(reason);
    }
    for (const s of [...this.streams]) s.abandon(reason);
    this.streams.clear();
  }

  addStream(s: ChangeStream): () => void {
    this.streams.add(s);
    return () => this.streams.delete(s);
  }

  private onApplied(a: Applied): void {
    if (a.events.length > 0) {
      if (this.watches.size > 0) {
        const below = new Set<WatchEvent>();
        for (const [sid, evs] of this.watches.trigger(a.events, undefined, below)) {
          const ch = this.channels.get(sid);
          if (ch === undefined) continue;
          for (const e of evs) if (!below.has(e) || mayListParent(this.node.tree, e.path, ch.auth)) ch.sendEvent(e);
        }
      }
      for (const s of this.streams) s.offer(a.events);
    }
    if (a.result.op === 'closeSession') {
      const sid = a.result.sessionId;
      this.watches.removeSession(sid);
      const ch = this.channels.get(sid);
      if (ch !== undefined) {
        this.channels.delete(sid);
        ch.endSession(a.result.expired ? 'Expired' : 'Closed');
      }
    }
  }
}

/**
 * Whether a watcher may learn of a change at `path` through a watch above it:
 * it must be able to list the parent (READ), judged on the nearest ancestor
 * that still exists (a recursive delete takes parents along).
 */
export function mayListParent(tree: DataTree, path: string, auth: readonly AuthId[]): boolean {
  let p = parentOf(path);
  let node = tree.get(p);
  while (node === undefined && p !== '/') {
    p = parentOf(p);
    node = tree.get(p);
  }
  return node === undefined || canAccess(node.acl, Perms.READ, auth);
}
