import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ZkError } from '../core/errors.ts';
import type { ServerConfig } from './config.ts';
import { Exchange } from './exchange.ts';
import { sendError } from './http-util.ts';
import type { Logger } from './logger.ts';
import { cluster, health, openapi, postSync, ready } from './routes/ops.ts';
import { postMulti } from './routes/multi.ts';
import { command } from './routes/commands.ts';
import { watchSse } from './routes/watch-sse.ts';
import { closeSession, keepAlive, openSession, sessionInfo } from './routes/sessions.ts';
import { createZnode, deleteZnode, getZnode, headZnode, putZnode, znodePath } from './routes/znodes.ts';
import type { ServerNode } from './server-node.ts';
import type { WatchHub } from './watch-hub.ts';

type Handler = (x: Exchange) => Promise<void>;

function methods(x: Exchange, table: Partial<Record<string, Handler>>): Promise<void> {
  const h = table[x.req.method ?? ''];
  if (h === undefined) {
    x.res.setHeader('allow', Object.keys(table).join(', '));
    throw new ZkError('Unimplemented', `${x.req.method} is not supported here (allowed: ${Object.keys(table).join(', ')})`);
  }
  return h(x);
}

/** Routes a request to its handler (the platform's http module: no framework on the hot path). */
function route(x: Exchange, pathname: string): Promise<void> {
  if (pathname === '/znodes' || pathname.startsWith('/znodes/')) {
    const path = znodePath(pathname.slice(7));
    return methods(x, {
      GET: (x) => getZnode(x, path),
      HEAD: (x) => headZnode(x, path),
      POST: (x) => createZnode(x, path),
      PUT: (x) => putZnode(x, path),
      DELETE: (x) => deleteZnode(x, path),
    });
  }
  if (pathname === '/multi') return methods(x, { POST: postMulti });
  if (pathname === '/sessions') return methods(x, { POST: openSession });
  if (pathname.startsWith('/sessions/')) {
    const rest = pathname.slice(10);
    if (rest.endsWith('/keepalive')) {
      const id = rest.slice(0, -10);
      return methods(x, { POST: (x) => keepAlive(x, id) });
    }
    if (!rest.includes('/')) return methods(x, { GET: (x) => sessionInfo(x, rest), DELETE: (x) => closeSession(x, rest) });
  }
  if (pathname === '/watch' || pathname.startsWith('/watch/')) {
    const path = znodePath(pathname.slice(6));
    return methods(x, { GET: (x) => watchSse(x, path) });
  }
  if (pathname === '/sync' || pathname.startsWith('/sync/')) {
    const path = znodePath(pathname.slice(5));
    return methods(x, { POST: (x) => postSync(x, path) });
  }
  if (pathname.startsWith('/commands/')) {
    const name = pathname.slice(10);
    return methods(x, { GET: (x) => command(x, name) });
  }
  switch (pathname) {
    case '/health': return methods(x, { GET: health, HEAD: health });
    case '/ready': return methods(x, { GET: ready, HEAD: ready });
    case '/cluster': return methods(x, { GET: cluster });
    case '/openapi.yaml': return methods(x, { GET: openapi });
  }
  throw new ZkError('NoNode', `no such endpoint: ${pathname}`);
}

const OPS_PATHS = new Set(['/health', '/ready', '/cluster', '/metrics', '/openapi.yaml']);

export function createHandler(node: ServerNode, hub: WatchHub, cfg: ServerConfig, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const x = new Exchange(req, res, node, hub, cfg, q < 0 ? '' : url.slice(q + 1));
    const fail = (e: unknown) => {
      if (e instanceof ZkError) {
        x.error(e);
        if (e.code === 'PayloadTooLarge') req.resume();
        return;
      }
      log.error({ err: e, method: req.method, url }, 'request failed');
      x.error(new ZkError('SystemError', 'internal error; see the server log'));
    };
    try {
      const minZxid = req.headers['zoogate-min-zxid'];
      // Operations endpoints answer whatever the node has applied (/health is "imok while the process runs").
      if (minZxid !== undefined && !OPS_PATHS.has(pathname)) {
        const want = Number(minZxid);
        if (!/^\d{1,16}$/.test(String(minZxid)) || !Number.isSafeInteger(want)) throw new ZkError('BadArguments', 'Zoogate-Min-Zxid must be a zxid (a non-negative integer)');
        if (node.lastZxid < want) {
          node.waitForZxid(want, cfg.minZxidWaitMs).then((ok) => {
            if (!ok) throw new ZkError('NoQuorum', `this server has not applied zxid ${want} yet (it is at ${node.lastZxid}); retry or ask another server`);
            return route(x, pathname);
          }).catch(fail);
          return;
        }
      }
      // A server without a leader it is synced with answers nothing but the operations endpoints.
      if (!node.serving && !OPS_PATHS.has(pathname) && !pathname.startsWith('/commands/')) {
        throw new ZkError('NoQuorum', `this server is ${node.replica.state.toLowerCase()} and not synced with a leader; retry or ask another server`);
      }
      route(x, pathname).catch(fail);
    } catch (e) {
      fail(e);
    }
  };
}

export interface RunningServer {
  readonly http: Server;
  readonly node: ServerNode;
  readonly hub: WatchHub;
  readonly port: number;
  close(): Promise<void>;
}

export function createHttpServer(node: ServerNode, hub: WatchHub, cfg: ServerConfig, log: Logger): Server {
  const server = createServer({ keepAliveTimeout: 65_000 }, createHandler(node, hub, cfg, log));
  // Malformed HTTP still gets the contract's error body and Zoogate-Zxid.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy(err);
    const body = JSON.stringify({ error: { code: 'BadArguments', message: `malformed HTTP request: ${err.code ?? err.message}` } });
    socket.end(`HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json\r\n` +
      `zoogate-zxid: ${node.lastZxid}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
  return server;
}

export { sendError };
