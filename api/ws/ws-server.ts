import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { ServerConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ServerNode } from '../server-node.ts';
import type { WatchHub } from '../watch-hub.ts';
import { WsConnection } from './ws-connection.ts';

/** Serves `GET /ws` on the client port: one session-carrying WebSocket per client. */
export function attachWebSocket(http: Server, node: ServerNode, hub: WatchHub, cfg: ServerConfig, log: Logger): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    // a request carries at most the data limit, base64-inflated, plus JSON around it
    maxPayload: Math.ceil(cfg.maxDataBytes * 1.5) + 256 * 1024,
    perMessageDeflate: false,
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => new WsConnection(ws, req, node, hub, cfg, log));
  });
  return wss;
}
