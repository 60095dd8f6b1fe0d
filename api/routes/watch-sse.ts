import { ZkError } from '../../core/errors.ts';
import type { Zxid } from '../../core/ids.ts';
import { isAtOrUnder, validatePath } from '../../core/paths.ts';
import { eventsOfTxn, type WatchEvent } from '../../core/tree/txn-events.ts';
import { missedTxns } from '../replay.ts';
import type { Exchange } from '../exchange.ts';
import { mayListParent } from '../watch-hub.ts';
import { boolParam, checkQuery } from '../http-util.ts';

const KEEPALIVE_MS = 15_000;

/**
 * GET /watch/{path}: Server-Sent Events for curl and browsers. Without
 * recursive=true the stream carries every change of {path} itself (as a
 * persistent watch); with it, NodeCreated/NodeDeleted/NodeDataChanged at or
 * under {path} (as a persistent recursive watch). Each event's data is the
 * WebSocket event JSON; its `id` is the zxid, set on the last event of each
 * transaction so that a reconnect (Last-Event-ID) never skips the rest of a
 * multi. A resume replays the log after Last-Event-ID first, or says
 * `event: error` with code Compacted when the log no longer reaches back.
 */
export async function watchSse(x: Exchange, path: string): Promise<void> {
  validatePath(path);
  checkQuery(x.query, ['recursive', 'lastEventId']);
  const recursive = boolParam(x.query, 'recursive');
  const lastRaw = x.req.headers['last-event-id'] ?? x.query.get('lastEventId');
  let after: Zxid | null = null;
  if (lastRaw !== undefined && lastRaw !== null && lastRaw !== '') {
    const s = String(lastRaw);
    if (!/^\d{1,16}$/.test(s)) throw new ZkError('BadArguments', 'Last-Event-ID must be a zxid');
    after = Number(s);
  }
  const auth = x.auth;
  // Changes below the watched path are told only to those who may list their parent (CVE-2024-23944).
  const matches = recursive
    ? (e: WatchEvent) => e.type !== 'NodeChildrenChanged' && isAtOrUnder(e.path, path) && (e.path === path || mayListParent(x.node.tree, e.path, auth))
    : (e: WatchEvent) => e.path === path;
  const { res, node, hub, cfg } = x;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'zoogate-zxid': String(node.lastZxid),
  });
  res.write(`: watching ${path}${recursive ? ' and below' : ''}\nretry: 1000\n\n`);
  let open = true;
  let seenUpTo: Zxid = after ?? node.lastZxid;
  let unsubscribe = () => {};
  let keepalive: NodeJS.Timeout | null = null;
  const stop = () => {
    open = false;
    unsubscribe();
    if (keepalive !== null) clearInterval(keepalive);
  };
  const end = (code: string, message: string) => {
    if (!open) return;
    res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', code, message })}\n\n`);
    stop();
    res.end();
  };
  const write = (events: readonly WatchEvent[]) => {
    if (!open || events.length === 0) return;
    const chosen = events.filter((e) => e.zxid > seenUpTo && matches(e));
    seenUpTo = Math.max(seenUpTo, events[events.length - 1]!.zxid);
    if (chosen.length === 0) return;
    if (res.writableLength > cfg.clientBufferBytes) {
      end('SlowConsumer', `more than ${cfg.clientBufferBytes} bytes unread; reconnect with Last-Event-ID`);
      return;
    }
    let text = '';
    chosen.forEach((e, i) => {
      const lastOfTxn = i === chosen.length - 1 || chosen[i + 1]!.zxid !== e.zxid;
      text += `${lastOfTxn ? `id: ${e.zxid}\n` : ''}event: ${e.type}\ndata: ${JSON.stringify({ type: 'event', event: e.type, path: e.path, zxid: e.zxid })}\n\n`;
    });
    res.write(text);
  };

  // Replay what the client missed, from the log, up to what this node has applied.
  if (after !== null && after < node.lastZxid) {
    const upTo = node.lastZxid;
    const missed = missedTxns(node.store, after, upTo);
    if (!Array.isArray(missed)) {
      end('Compacted', `${missed.compacted}; read the current state and watch anew`);
      return;
    }
    for (const t of missed) write(eventsOfTxn(t));
    seenUpTo = upTo;
  }

  unsubscribe = hub.addStream({ offer: write, abandon: (reason) => end('NoQuorum', reason) });
  keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  res.on('close', stop);
}
