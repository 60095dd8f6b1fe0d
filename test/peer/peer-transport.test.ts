// The HTTP peer transport on real sockets, through the fault proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../api/config.ts';
import { PeerTransport } from '../../api/peer/peer-transport.ts';
import type { PeerMessage } from '../../core/messages.ts';
import { DataTree } from '../../core/tree/data-tree.ts';
import { LinkProxy } from '../chaos/fault-proxy.ts';
import { freePort, until } from '../support/process-cluster.ts';
import { pino } from 'pino';

const silent = pino({ level: 'silent' });

async function pair(secret: string | null = 's') {
  const p1 = await freePort();
  const p2 = await freePort();
  // 1 reaches 2 through a proxy; 2 reaches 1 directly
  const proxy = new LinkProxy({ targetPort: p2 });
  const proxyPort = await proxy.listen();
  const got: Array<{ at: number; from: number; msg: PeerMessage }> = [];
  const ups: number[] = [];
  const downs: number[] = [];
  const mk = (id: number, port: number, peers: string) => {
    const cfg = loadConfig([], {}, { serverId: id, host: '127.0.0.1', peerPort: port, secret, peers: new Map(peers.split(',').map((p) => { const [i, a] = p.split('='); return [Number(i), a!]; })) });
    return new PeerTransport(cfg, {
      receive: (from, msg) => got.push({ at: id, from, msg }),
      peerUp: (x) => ups.push(id * 10 + x),
      peerDown: (x) => downs.push(id * 10 + x),
    }, silent);
  };
  const t1 = mk(1, p1, `1=127.0.0.1:${p1},2=127.0.0.1:${proxyPort}`);
  const t2 = mk(2, p2, `1=127.0.0.1:${p1},2=127.0.0.1:${p2}`);
  await t1.listen();
  await t2.listen();
  return { t1, t2, proxy, got, ups, downs, close: async () => { await t1.close(); await t2.close(); await proxy.close(); } };
}

const commit = (zxid: number): PeerMessage => ({ type: 'COMMIT', epoch: 1, zxid });
const tree = new DataTree();

test('messages flow both ways; a stream broken while a write waits for drain does not silence the next one', async () => {
  const p = await pair();
  try {
    await until('both links up', async () => p.ups.includes(12) && p.ups.includes(21));
    p.t1.send([{ to: 2, msg: commit(1) }], tree);
    await until('the first message', async () => p.got.some((g) => g.at === 2 && (g.msg as { zxid: number }).zxid === 1));
    // stall the link so writes back up (write() returns false), then break it
    p.proxy.pause();
    const big = Array.from({ length: 4000 }, (_, i) => ({ to: 2, msg: { type: 'PROPOSAL', epoch: 1, txn: { zxid: 100 + i, time: 0, txn: { type: 'setData', path: '/x', data: new Uint8Array(4000), version: i } }, origin: null } as PeerMessage }));
    p.t1.send(big, tree);
    p.proxy.block();
    await until('the break is noticed', async () => p.downs.includes(12));
    p.proxy.resume();
    p.proxy.unblock();
    await until('the link is back', async () => p.ups.filter((x) => x === 12).length >= 2, 10_000);
    p.t1.send([{ to: 2, msg: commit(999_999) }], tree);
    await until('a message on the new stream', async () => p.got.some((g) => g.at === 2 && (g.msg as { zxid?: number }).zxid === 999_999), 5000);
  } finally {
    await p.close();
  }
});

test('a peer with another secret is refused and never delivers', async () => {
  const p1 = await freePort();
  const p2 = await freePort();
  const got: PeerMessage[] = [];
  const peers = new Map([[1, `127.0.0.1:${p1}`], [2, `127.0.0.1:${p2}`]]);
  const t1 = new PeerTransport(loadConfig([], {}, { serverId: 1, host: '127.0.0.1', peerPort: p1, secret: 'right', peers }), { receive: () => {}, peerUp: () => {}, peerDown: () => {} }, silent);
  const t2 = new PeerTransport(loadConfig([], {}, { serverId: 2, host: '127.0.0.1', peerPort: p2, secret: 'wrong', peers }), { receive: (_f, m) => got.push(m), peerUp: () => {}, peerDown: () => {} }, silent);
  await t1.listen();
  await t2.listen();
  try {
    await until('refusals', async () => t1.stats.refusedConnections > 0 && t2.stats.refusedConnections > 0);
    t1.send([{ to: 2, msg: commit(5) }], tree);
    assert.equal(got.length, 0);
  } finally {
    await t1.close();
    await t2.close();
  }
});

test('a stream is authenticated by a single-use challenge: a replayed handshake is refused', async () => {
  const { createHmac } = await import('node:crypto');
  const http = await import('node:http');
  const port = await freePort();
  const other = await freePort();
  const peers = new Map([[1, `127.0.0.1:${port}`], [2, `127.0.0.1:${other}`]]);
  const t = new PeerTransport(loadConfig([], {}, { serverId: 1, host: '127.0.0.1', peerPort: port, secret: 'k', peers }), { receive: () => {}, peerUp: () => {}, peerDown: () => {} }, silent);
  await t.listen();
  try {
    const nonce = await (await fetch(`http://127.0.0.1:${port}/zab/nonce`)).text();
    assert.match(nonce, /^[0-9a-f]{32}$/);
    const { ensembleId } = await import('../../api/peer/peer-transport.ts');
    const headers = {
      'zoogate-peer-id': '2', 'zoogate-peer-to': '1', 'zoogate-ensemble': ensembleId(loadConfig([], {}, { peers })),
      'zoogate-peer-auth': `${nonce}.${createHmac('sha256', 'k').update(`zoogate-peer 2>1 ${nonce}`).digest('hex')}`,
    };
    const open = () => new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/zab', headers }, (res) => { resolve(res.statusCode ?? 0); req.destroy(); });
      req.on('error', () => resolve(-1));
      req.flushHeaders();
    });
    assert.equal(await open(), 200);
    assert.equal(await open(), 401, 'the same nonce twice');
  } finally {
    await t.close();
  }
});
