import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ZkError } from '../core/errors.ts';
import type { ServerConfig } from './config.ts';
import { Exchange } from './exchange.ts';
import { sendError } from './http-util.ts';
import type { Logger } from './logger.ts';
import { cluster, health, openapi, postSync, ready } from './routes/ops.ts';
import { postMulti } from './routes/multi.ts';
import { command } from './routes/commands.ts';
import { routeOf } from './metrics.ts';
import { metricsText } from './routes/ops.ts';
import { watchSse } from './routes/watch-sse.ts';
import { closeSession, keepAlive, openSession, sessionInfo } from './routes/sessions.ts';
import { createZnode, deleteZnode, getZnode, headZnode, putZnode, znodePath } from './routes/znodes.ts';
import type { ServerNode } from './server-node.ts';
import type { WatchHub } from './watch-hub.ts';

type Handler = (x: Exchange, arg: string) => Promise<void>;
type Table = Readonly<Partial<Record<string, Handler>>>;

// Static tables: nothing is allocated per request to route it (the hot path).
const ZNODE: Table = { GET: getZnode, HEAD: headZnode, POST: createZnode, PUT: putZnode, DELETE: deleteZnode };
const MULTI: Table = { POST: postMulti };
const SESSIONS: Table = { POST: openSession };
const SESSION: Table = { GET: sessionInfo, DELETE: closeSession };
const KEEPALIVE: Table = { POST: keepAlive };
const WATCH: Table = { GET: watchSse };
const SYNC: Table = { POST: postSync };
const COMMANDS: Table = { GET: command };
const HEALTH: Table = { GET: health, HEAD: health };
const READY: Table = { GET: ready, HEAD: ready };
const CLUSTER: Table = { GET: cluster };
const OPENAPI: Table = { GET: openapi };

function dispatch(x: Exchange, table: Table, arg: string): Promise<void> {
  const h = table[x.req.method ?? ''];
  if (h === undefined) {
    x.res.setHeader('allow', Object.keys(table).join(', '));
    throw new ZkError('Unimplemented', `${x.req.method} is not supported here (allowed: ${Object.keys(table).join(', ')})`);
  }
  return h(x, arg);
}

/** Routes a request to its handler (the platform's http module: no framework on the hot path). */
function route(x: Exchange, pathname: string): Promise<void> {
  if (pathname === '/znodes' || pathname.startsWith('/znodes/')) return dispatch(x, ZNODE, znodePath(pathname.slice(7)));
  if (pathname === '/multi') return dispatch(x, MULTI, '');
  if (pathname === '/sessions') return dispatch(x, SESSIONS, '');
  if (pathname.startsWith('/sessions/')) {
    const rest = pathname.slice(10);
    if (rest.endsWith('/keepalive')) return dispatch(x, KEEPALIVE, rest.slice(0, -10));
    if (!rest.includes('/')) return dispatch(x, SESSION, rest);
  }
  if (pathname === '/watch' || pathname.startsWith('/watch/')) return dispatch(x, WATCH, znodePath(pathname.slice(6)));
  if (pathname === '/sync' || pathname.startsWith('/sync/')) return dispatch(x, SYNC, znodePath(pathname.slice(5)));
  if (pathname.startsWith('/commands/')) return dispatch(x, COMMANDS, pathname.slice(10));
  switch (pathname) {
    case '/health': return dispatch(x, HEALTH, '');
    case '/ready': return dispatch(x, READY, '');
    case '/cluster': return dispatch(x, CLUSTER, '');
    case '/openapi.yaml': return dispatch(x, OPENAPI, '');
    case '/metrics': return dispatch(x, METRICS, '');
  }
  throw new ZkError('NoNode', `no such endpoint: ${pathname}`);
}

const OPS_PATHS = new Set(['/health', '/ready', '/cluster', '/metrics', '/openapi.yaml']);
const METRICS: Table = { GET: metricsText };

function fail(x: Exchange, e: unknown): void {
  if (e instanceof ZkError) {
    x.error(e);
    if (e.code === 'PayloadTooLarge') x.req.resume();
    return;
  }
  x.node.log.error({ err: e, method: x.req.method, url: x.req.url }, 'request failed');
  x.error(new ZkError('SystemError', 'internal error; see the server log'));
}

async function afterMinZxid(x: Exchange, pathname: string, want: number): Promise<void> {
  if (!(await x.node.waitForZxid(want, x.cfg.minZxidWaitMs))) {
    throw new ZkError('NoQuorum', `this server has not applied zxid ${want} yet (it is at ${x.node.lastZxid}); retry or ask another server`);
  }
  return route(x, pathname);
}

function handle(x: Exchange, pathname: string): void {
  const { node } = x;
  if (node.metrics !== null) x.route = routeOf(pathname);
  try {
    const minZxid = x.req.headers['zoogate-min-zxid'];
    // Operations endpoints answer whatever the node has applied (/health is "imok while the process runs").
    if (minZxid !== undefined && !OPS_PATHS.has(pathname)) {
      const want = Number(minZxid);
      if (!/^\d{1,16}$/.test(String(minZxid)) || !Number.isSafeInteger(want)) throw new ZkError('BadArguments', 'Zoogate-Min-Zxid must be a zxid (a non-negative integer)');
      if (node.lastZxid < want) {
        afterMinZxid(x, pathname, want).catch((e) => fail(x, e));
        return;
      }
    }
    if (node.draining && !OPS_PATHS.has(pathname)) {
      x.res.setHeader('connection', 'close');
      throw new ZkError('NoQuorum', 'this server is shutting down; retry on another server');
    }
    // A server without a leader it is synced with answers nothing but the operations endpoints.
    if (!node.serving && !OPS_PATHS.has(pathname) && !pathname.startsWith('/commands/')) {
      throw new ZkError('NoQuorum', `this server is ${node.replica.state.toLowerCase()} and not synced with a leader; retry or ask another server`);
    }
    route(x, pathname).catch((e) => fail(x, e));
  } catch (e) {
    fail(x, e);
  }
}

export function createHandler(node: ServerNode, hub: WatchHub, cfg: ServerConfig, _log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    handle(new Exchange(req, res, node, hub, cfg, q < 0 ? '' : url.slice(q + 1)), q < 0 ? url : url.slice(0, q));
  };
}

export interface RunningServer {
  readonly http: Server;
  readonly node: ServerNode;
  readonly hub: WatchHub;
  readonly port: number;
  close(graceMs?: number): Promise<void>;
}

export function createHttpServer(node: ServerNode, hub: WatchHub, cfg: ServerConfig, log: Logger): Server {
  const server = createServer({ keepAliveTimeout: 65_000 }, createHandler(node, hub, cfg, log));
  // ZooKeeper's maxClientCnxns: one client IP may not hold every socket of the server.
  if (cfg.maxClientConnections > 0) {
    const perIp = new Map<string, number>();
    server.on('connection', (socket) => {
      const ip = socket.remoteAddress ?? '';
      const n = (perIp.get(ip) ?? 0) + 1;
      if (n > cfg.maxClientConnections) {
        log.info({ ip, limit: cfg.maxClientConnections }, 'too many connections from one address; refused');
        const body = JSON.stringify({ error: { code: 'Throttled', message: `too many connections from ${ip} (limit ${cfg.maxClientConnections}); reuse connections` } });
        socket.end(`HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\nretry-after: 1\r\ncontent-type: application/json\r\n` +
          `zoogate-zxid: ${node.lastZxid}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        socket.destroySoon();
        return;
      }
      perIp.set(ip, n);
      socket.once('close', () => {
        const left = (perIp.get(ip) ?? 1) - 1;
        if (left === 0) perIp.delete(ip);
        else perIp.set(ip, left);
      });
    });
  }
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
