import type { AddressInfo } from 'node:net';
import { createHttpServer, type RunningServer } from './app.ts';
import type { ServerConfig } from './config.ts';
import { type Logger, makeLogger } from './logger.ts';
import { ServerNode } from './server-node.ts';
import { WatchHub } from './watch-hub.ts';
import { attachWebSocket } from './ws/ws-server.ts';
import { PeerTransport } from './peer/peer-transport.ts';
import { Metrics } from './metrics.ts';

/** Restores the node from its data dir and starts serving HTTP. */
export async function startServer(cfg: ServerConfig, log: Logger = makeLogger(cfg)): Promise<RunningServer> {
  const node = new ServerNode(cfg, log);
  const hub = new WatchHub(node);
  const http = createHttpServer(node, hub, cfg, log);
  const wss = attachWebSocket(http, node, hub, cfg, log);
  let peers: PeerTransport | null = null;
  node.metrics = new Metrics(node, hub, () => peers?.stats ?? null);
  if (cfg.peers.size > 0) {
    peers = new PeerTransport(cfg, {
      receive: (from, msg) => node.receive(from, msg),
      peerUp: (id) => node.peerUp(id),
      peerDown: (id) => node.peerDown(id),
    }, log);
    node.transport = peers;
    const peerPort = await peers.listen();
    log.info({ peerPort, peers: Object.fromEntries(cfg.peers) }, 'peer port open');
  }
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(cfg.port, cfg.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  log.info({ port, dataDir: cfg.dataDir }, 'serving');
  let closing: Promise<void> | null = null;
  return {
    http,
    node,
    hub,
    port,
    /**
     * Graceful: stop accepting connections, tell WebSocket and SSE clients to
     * move on, let requests in flight finish (up to graceMs), snapshot, then
     * close the peers and the SQLite file.
     */
    close(graceMs = 5000) {
      closing ??= (async () => {
        log.info({ graceMs }, 'shutting down');
        http.close();
        hub.abandonAll(`server ${cfg.serverId} is shutting down; reconnect to another server`);
        await node.drain(graceMs);
        node.close();
        await peers?.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        http.closeAllConnections();
        log.info('stopped');
      })();
      return closing;
    },
  };
}
