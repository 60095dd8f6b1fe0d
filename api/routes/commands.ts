import { createHash } from 'node:crypto';
import os from 'node:os';
import { ZkError } from '../../core/errors.ts';
import type { DataTree } from '../../core/tree/data-tree.ts';
import type { ZNode } from '../../core/tree/znode.ts';
import type { Exchange } from '../exchange.ts';
import { checkQuery } from '../http-util.ts';

const VERSION = '0.1.0';

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

/** ZooKeeper's server_state words. */
function mode(x: Exchange): string {
  if (x.cfg.peers.size === 0) return 'standalone';
  return { LOOKING: 'looking', FOLLOWING: 'follower', LEADING: 'leader' }[x.node.replica.state] ?? 'unknown';
}

/** Request latency in ms since start, as ZooKeeper's srvr reports it. */
function latencyStats(x: Exchange): { avg_latency: number; max_latency: number; min_latency: number; packets_received: number } {
  const t = x.node.metrics?.totals;
  if (t === undefined || t.requests === 0) return { avg_latency: 0, max_latency: 0, min_latency: 0, packets_received: 0 };
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { avg_latency: r(t.latencySumMs / t.requests), max_latency: r(t.latencyMaxMs), min_latency: r(t.latencyMinMs), packets_received: t.requests };
}

function serverStats(x: Exchange) {
  const n = x.node;
  return {
    server_state: mode(x),
    last_processed_zxid: n.lastZxid,
    outstanding_requests: n.outstanding,
    num_alive_client_connections: x.hub.channelCount + x.hub.streamCount,
    node_count: n.tree.nodeCount,
    uptime: Date.now() - n.startedAt,
    epoch: n.replica.currentEpoch,
    ...latencyStats(x),
  };
}

/** GET /commands/{name}: ZooKeeper AdminServer-style JSON, with ZooKeeper's field names where they apply. */
export async function command(x: Exchange, name: string): Promise<void> {
  checkQuery(x.query, []);
  const n = x.node;
  const base = { command: name, error: null };
  switch (name) {
    case 'ruok':
      return x.json(200, base);
    case 'hash':
      return x.json(200, { ...base, zxid: n.lastZxid, digest: treeDigest(n.tree), nodeCount: n.tree.nodeCount });
    case 'srvr':
      return x.json(200, { ...base, version: VERSION, read_only: false, server_stats: serverStats(x), node_count: n.tree.nodeCount });
    case 'stat':
      return x.json(200, { ...base, version: VERSION, read_only: false, server_stats: serverStats(x), node_count: n.tree.nodeCount, connections: connections(x) });
    case 'mntr': {
      const s = serverStats(x);
      const leader = n.replica.leader;
      return x.json(200, {
        ...base,
        version: VERSION, server_state: s.server_state, avg_latency: s.avg_latency, packets_received: s.packets_received,
        num_alive_connections: s.num_alive_client_connections, outstanding_requests: s.outstanding_requests,
        znode_count: n.tree.nodeCount, watch_count: x.hub.watches.size,
        ephemerals_count: [...n.tree.sessions.values()].reduce((a, ss) => a + ss.ephemerals.size, 0),
        global_sessions: n.tree.sessions.size, last_zxid: n.lastZxid, epoch: n.replica.currentEpoch, uptime: s.uptime,
        approximate_data_size: approximateDataSize(n.tree),
        ...(leader !== null ? {
          learners: leader.learners.size,
          synced_followers: [...leader.learners.values()].filter((l) => l.phase === 'uptodate').length,
          pending_proposals: n.replica.pendingCount,
        } : {}),
      });
    }
    case 'conf':
      return x.json(200, {
        ...base,
        client_port: x.cfg.port, peer_port: x.cfg.peerPort, data_dir: x.cfg.dataDir, server_id: x.cfg.serverId,
        tick_time: x.cfg.tickMs, init_limit: x.cfg.initLimitTicks, sync_limit: x.cfg.syncLimitTicks,
        min_session_timeout: x.cfg.minSessionTimeoutMs, max_session_timeout: x.cfg.maxSessionTimeoutMs,
        snap_count: x.cfg.snapshotEveryTxnCount, autopurge_snap_retain_count: x.cfg.snapshotRetainCount,
        max_data_bytes: x.cfg.maxDataBytes, max_outstanding: x.cfg.maxOutstandingRequests, max_client_cnxns: x.cfg.maxClientConnections,
        peers: Object.fromEntries(x.cfg.peers), authenticated_peers: x.cfg.secret !== null, log_sync: x.cfg.logSync, direct_commit: x.cfg.directCommit,
      });
    case 'cons':
      return x.json(200, { ...base, connections: connections(x) });
    case 'wchs': {
      const byPath = x.hub.watches.byPathCounts();
      return x.json(200, { ...base, num_connections: new Set([...byPath.values()].flat()).size, num_paths: byPath.size, num_total_watches: x.hub.watches.size });
    }
    case 'wchc': {
      const bySession: Record<string, string[]> = {};
      for (const [path, sids] of x.hub.watches.byPathCounts()) for (const sid of sids) (bySession[sid] ??= []).push(path);
      for (const v of Object.values(bySession)) v.sort();
      return x.json(200, { ...base, session_id_to_watched_paths: bySession });
    }
    case 'wchp':
      return x.json(200, { ...base, path_to_session_ids: Object.fromEntries([...x.hub.watches.byPathCounts()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) });
    case 'dump': {
      const eph: Record<string, string[]> = {};
      for (const s of n.tree.sessions.values()) eph[s.sessionId] = [...s.ephemerals].sort();
      return x.json(200, { ...base, session_id_to_ephemeral_paths: eph, sessions: [...n.tree.sessions.values()].map((s) => ({ session_id: s.sessionId, timeout: s.timeoutMs })) });
    }
    case 'envi':
      return x.json(200, {
        ...base,
        'zoogate.version': VERSION, 'node.version': process.version, 'host.name': os.hostname(), 'os.name': os.type(), 'os.arch': os.arch(),
        'os.version': os.release(), 'user.name': os.userInfo().username, 'user.dir': process.cwd(), 'os.cpus': os.cpus().length, 'os.memory.total': os.totalmem(),
        'node.exec_argv': process.execArgv.join(' '),
      });
    default:
      throw new ZkError('NoNode', `no such command: ${name} (mntr, stat, srvr, conf, cons, wchs, wchc, wchp, dump, envi, ruok, hash)`);
  }
}

function connections(x: Exchange) {
  return x.hub.channelList().map((c) => ({
    remote_socket_address: c.remote, session_id: c.sessionId, established: new Date(c.connectedAt).toISOString(),
    watches: x.hub.watches.watchesOf(c.sessionId).length,
  }));
}

function approximateDataSize(t: DataTree): number {
  let bytes = 0;
  const stack = [t.root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    bytes += n.data.length + n.name.length;
    if (n.children !== null) for (const c of n.children.values()) stack.push(c);
  }
  return bytes;
}
