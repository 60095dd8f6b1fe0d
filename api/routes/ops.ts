import { readFileSync } from 'node:fs';
import { ZkError } from '../../core/errors.ts';
import { validatePath } from '../../core/paths.ts';
import type { Exchange } from '../exchange.ts';
import { checkQuery } from '../http-util.ts';

const OPENAPI_URL = new URL('../../openapi.yaml', import.meta.url);
let openapiText: string | null = null;

/** POST /sync/{path}: this node catches up with everything the leader had proposed. */
export async function postSync(x: Exchange, path: string): Promise<void> {
  validatePath(path);
  checkQuery(x.query, ['session']);
  x.session();
  const zxid = await x.node.sync();
  x.json(200, { zxid });
}

export async function health(x: Exchange): Promise<void> {
  x.text(200, 'imok');
}

/** GET /ready: 200 once the server has a leader and is synced with it (it serves clients), else 503. */
export async function ready(x: Exchange): Promise<void> {
  if (x.node.fatal) throw new ZkError('NoQuorum', 'server stopped');
  if (!x.node.serving) throw new ZkError('NoQuorum', `not serving: ${x.node.replica.state}`);
  x.json(200, { ready: true, state: x.node.replica.state });
}

/** GET /cluster: this server's view of the ensemble (a standalone server is an ensemble of one). */
export async function cluster(x: Exchange): Promise<void> {
  checkQuery(x.query, []);
  x.json(200, x.node.clusterView());
}

export async function openapi(x: Exchange): Promise<void> {
  openapiText ??= readFileSync(OPENAPI_URL, 'utf8');
  x.text(200, openapiText, { 'content-type': 'application/yaml; charset=utf-8' });
}

/** GET /metrics: Prometheus text. */
export async function metricsText(x: Exchange): Promise<void> {
  checkQuery(x.query, []);
  const m = x.node.metrics;
  if (m === null) throw new ZkError('Unimplemented', 'metrics are not attached');
  x.text(200, await m.registry.metrics(), { 'content-type': m.registry.contentType });
}
