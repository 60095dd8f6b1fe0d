import { statSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerNode } from './server-node.ts';
import type { WatchHub } from './watch-hub.ts';

/** The route label of a request path: templates, never raw paths (bounded cardinality). */
export function routeOf(pathname: string): string {
  if (pathname === '/znodes' || pathname.startsWith('/znodes/')) return '/znodes/{path}';
  if (pathname.startsWith('/sessions/')) return pathname.endsWith('/keepalive') ? '/sessions/{id}/keepalive' : '/sessions/{id}';
  if (pathname === '/watch' || pathname.startsWith('/watch/')) return '/watch/{path}';
  if (pathname === '/sync' || pathname.startsWith('/sync/')) return '/sync/{path}';
  if (pathname.startsWith('/commands/')) return '/commands/{name}';
  switch (pathname) {
    case '/multi': case '/sessions': case '/health': case '/ready': case '/cluster': case '/metrics': case '/openapi.yaml': case '/ws':
      return pathname;
  }
  return 'other';
}

/**
 * The server's Prometheus metrics (GET /metrics): counters and histograms
 * updated as things happen, gauges read from the server when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'zoogate_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'zoogate_http_request_duration_seconds', help: 'HTTP request latency by route and method', labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
  });
  readonly wsRequests = new Counter({ name: 'zoogate_ws_requests_total', help: 'WebSocket requests by op and outcome', labelNames: ['op', 'outcome'] as const, registers: [this.registry] });
  readonly append = new Histogram({
    name: 'zoogate_log_append_seconds', help: 'Transaction log appends on the event loop (one SQLite commit: with --log-sync=inline including its fsync)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers: [this.registry],
  });
  readonly logSync = new Histogram({
    name: 'zoogate_log_fsync_seconds', help: 'Deferred log fsyncs (--log-sync=deferred), off the event loop: from start to completion',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers: [this.registry],
  });
  readonly appendBatch = new Histogram({ name: 'zoogate_log_append_batch_txns', help: 'Transactions per log append', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers: [this.registry] });
  readonly elections = new Counter({ name: 'zoogate_elections_total', help: 'Leader elections this server took part in (times it went LOOKING)', registers: [this.registry] });
  readonly electionTime = new Histogram({
    name: 'zoogate_election_duration_seconds', help: 'From LOOKING to a decision', buckets: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30], registers: [this.registry],
  });
  readonly leaderChanges = new Counter({ name: 'zoogate_leader_changes_total', help: 'Times this server saw the leader change', registers: [this.registry] });
  readonly snapshots = new Counter({ name: 'zoogate_snapshots_total', help: 'Snapshots written', registers: [this.registry] });
  readonly syncs = new Counter({ name: 'zoogate_follower_syncs_total', help: 'Followers synchronised by this leader, by mode', labelNames: ['mode'] as const, registers: [this.registry] });
  private lookingSince: number | null = null;
  private lastLeader: number | null = null;

  constructor(node: ServerNode, hub: WatchHub, peers: () => { framesIn: number; framesOut: number; invalidFrames: number } | null) {
    collectDefaultMetrics({ register: this.registry, prefix: 'zoogate_' });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    const stateCode: Record<string, number> = { LOOKING: 0, FOLLOWING: 1, LEADING: 2, OBSERVING: 3 };
    gauge('zoogate_last_zxid', 'The last zxid applied here', () => node.lastZxid);
    gauge('zoogate_epoch', 'The current epoch', () => node.replica.currentEpoch);
    gauge('zoogate_server_state', 'Role: 0 LOOKING, 1 FOLLOWING, 2 LEADING', () => stateCode[node.replica.state] ?? -1);
    gauge('zoogate_serving', '1 when this server serves clients', () => (node.serving ? 1 : 0));
    gauge('zoogate_outstanding_proposals', 'Proposals and queued requests at the leader not yet committed', () => node.replica.pendingCount);
    gauge('zoogate_outstanding_requests', 'Requests waiting for their answer on this server', () => node.outstanding);
    gauge('zoogate_znodes', 'Znodes in the tree', () => node.tree.nodeCount);
    gauge('zoogate_sessions', 'Sessions in the replicated state', () => node.tree.sessions.size);
    gauge('zoogate_ephemerals', 'Ephemeral znodes', () => [...node.tree.sessions.values()].reduce((a, s) => a + s.ephemerals.size, 0));
    gauge('zoogate_watches', 'Watches set on this server (path, session pairs)', () => hub.watches.size);
    gauge('zoogate_websocket_sessions', 'Sessions with a live WebSocket here', () => hub.channelCount);
    gauge('zoogate_sse_streams', 'Server-Sent Event streams open here', () => hub.streamCount);
    gauge('zoogate_snapshot_bytes', 'Size of the newest snapshot', () => node.store.listSnapshots()[0]?.bytes ?? 0);
    gauge('zoogate_log_first_zxid', 'Oldest zxid still in the log', () => node.store.firstZxid() ?? 0);
    gauge('zoogate_db_file_bytes', 'Size of the SQLite file and its WAL', () => fileSize(node.store.file) + fileSize(`${node.store.file}-wal`));
    gauge('zoogate_peer_frames_in_total', 'Peer frames received', () => peers()?.framesIn ?? 0);
    gauge('zoogate_peer_frames_out_total', 'Peer frames sent', () => peers()?.framesOut ?? 0);
    gauge('zoogate_peer_invalid_frames_total', 'Peer frames dropped as invalid', () => peers()?.invalidFrames ?? 0);
  }

  /** Protocol events from the replica (DESIGN: every state change logged once; here counted). */
  onNote(event: string, detail?: Record<string, unknown>): void {
    const now = performance.now();
    if (event === 'LOOKING') {
      this.elections.inc();
      this.lookingSince = now;
    } else if (event === 'LEADING' || event === 'FOLLOWING') {
      if (this.lookingSince !== null) this.electionTime.observe((now - this.lookingSince) / 1000);
      this.lookingSince = null;
      const leader = typeof detail?.leader === 'number' ? detail.leader : null;
      if (leader !== null && leader !== this.lastLeader) {
        if (this.lastLeader !== null) this.leaderChanges.inc();
        this.lastLeader = leader;
      }
    } else if (event === 'sync learner' && typeof detail?.mode === 'string') this.syncs.inc({ mode: detail.mode });
  }

  /** Totals for the AdminServer commands (srvr/mntr: avg/min/max latency in ms, requests). */
  readonly totals = { requests: 0, latencySumMs: 0, latencyMinMs: Infinity, latencyMaxMs: 0 };

  /** The labelled children, by route, method and status: prom-client hashes a label object on every call otherwise. */
  private readonly requestChildren = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`;
    let c = this.requestChildren.get(key);
    if (c === undefined) {
      c = { count: this.requests.labels({ route, method, status: String(status) }), latency: this.latency.labels({ route, method }) };
      this.requestChildren.set(key, c);
    }
    c.count.inc();
    c.latency.observe(seconds);
    const ms = seconds * 1000;
    this.totals.requests++;
    this.totals.latencySumMs += ms;
    if (ms < this.totals.latencyMinMs) this.totals.latencyMinMs = ms;
    if (ms > this.totals.latencyMaxMs) this.totals.latencyMaxMs = ms;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
