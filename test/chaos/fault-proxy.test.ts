import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parsePeers } from '../../api/config.ts';
import { FaultNetwork, LinkProxy, seededRng } from './fault-proxy.ts';

/** Polls `cond` every few ms until it holds; fails after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A TCP server that echoes every byte and records what it received per connection. */
class EchoServer {
  readonly server: net.Server;
  readonly sockets: net.Socket[] = [];
  readonly received: Buffer[][] = [];
  /** Per connection: 'open', 'end' (clean FIN) or 'error:<code>'. */
  readonly outcome: string[] = [];
  port = 0;

  constructor(readonly echo = true) {
    this.server = net.createServer((s) => {
      const k = this.sockets.push(s) - 1;
      this.received.push([]);
      this.outcome.push('open');
      s.on('data', (d: Buffer) => {
        this.received[k]!.push(d);
        if (this.echo) s.write(d);
      });
      s.on('end', () => {
        if (this.outcome[k] === 'open') this.outcome[k] = 'end';
        s.end();
      });
      s.on('error', (e: NodeJS.ErrnoException) => (this.outcome[k] = `error:${e.code}`));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  bytes(k: number): Buffer {
    return Buffer.concat(this.received[k] ?? []);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A client connection that records what it reads and how it ended. */
class Client {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  /** null while open; 'end' on a clean close; the error code on a failure. */
  ended: string | null = null;
  connected = false;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => (this.connected = true));
    this.socket.on('data', (d: Buffer) => this.chunks.push(d));
    this.socket.on('end', () => (this.ended ??= 'end'));
    this.socket.on('error', (e: NodeJS.ErrnoException) => (this.ended = e.code ?? 'error'));
    this.socket.on('close', () => (this.ended ??= 'closed'));
  }

  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get length(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  write(s: string | Buffer): void {
    this.socket.write(s);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function proxyTo(port: number, seed = 7): Promise<LinkProxy> {
  const p = new LinkProxy({ targetPort: port, rng: seededRng(seed) });
  await p.listen();
  return p;
}

describe('LinkProxy', () => {
  let echo: EchoServer;
  const cleanup: Array<() => unknown> = [];
  before(async () => {
    echo = await new EchoServer().listen();
  });
  after(async () => {
    for (const f of cleanup.reverse()) await f();
    await echo.close();
  });
  const track = <T extends { close(): unknown } | Client>(x: T): T => {
    cleanup.push(() => (x instanceof Client ? x.destroy() : x.close()));
    return x;
  };

  test('bytes flow both ways, and a FIN is passed on', async () => {
    const p = track(await proxyTo(echo.port));
    const conns = echo.sockets.length;
    const c = track(new Client(p.port));
    const payload = Buffer.alloc(200_000, 'abcdefgh');
    c.write('hello ');
    c.write(payload);
    const total = 6 + payload.length;
    await waitFor('the echo', () => c.length === total);
    assert.deepEqual(c.data, Buffer.concat([Buffer.from('hello '), payload]));
    assert.equal(echo.bytes(conns).length, total);
    assert.equal(p.stats.bytesToTarget, total);
    assert.equal(p.stats.bytesFromTarget, total);
    assert.equal(p.stats.accepted, 1);
    assert.equal(p.stats.active, 1);
    c.socket.end();
    await waitFor('a clean close', () => c.ended === 'end' && echo.outcome[conns] === 'end');
    await waitFor('the proxy to forget the connection', () => p.stats.active === 0);
    assert.equal(p.stats.resetByBlock + p.stats.resetByLoss + p.stats.endpointErrors, 0);
  });

  test('block resets existing connections and new ones; unblock lets new ones through', async () => {
    const p = track(await proxyTo(echo.port));
    const first = echo.sockets.length;
    const c1 = track(new Client(p.port));
    c1.write('ping');
    await waitFor('the echo', () => c1.data.toString() === 'ping');

    p.block();
    assert.equal(p.isBlocked, true);
    await waitFor('the client to see a reset', () => c1.ended !== null);
    assert.equal(c1.ended, 'ECONNRESET');
    await waitFor('the target to see a reset', () => echo.outcome[first] !== 'open');
    assert.equal(echo.outcome[first], 'error:ECONNRESET');
    assert.equal(p.stats.resetByBlock, 1);

    const c2 = track(new Client(p.port));
    c2.write('are you there?');
    await waitFor('the new connection to be reset', () => c2.ended !== null);
    assert.notEqual(c2.ended, 'end');
    assert.equal(c2.length, 0);
    assert.equal(p.stats.refused, 1);
    assert.equal(echo.sockets.length, first + 1, 'a refused connection never reaches the target');

    p.unblock();
    const c3 = track(new Client(p.port));
    c3.write('back');
    await waitFor('the echo after unblock', () => c3.data.toString() === 'back');
    assert.equal(echo.sockets.length, first + 2);
    assert.equal(p.stats.accepted, 3);
  });

  test('a reset from one end is passed on to the other', async () => {
    const p = track(await proxyTo(echo.port));
    const k = echo.sockets.length;
    const c = track(new Client(p.port));
    c.write('x');
    await waitFor('the echo', () => c.length === 1);
    c.socket.resetAndDestroy();
    await waitFor('the target to see it', () => echo.outcome[k] !== 'open');
    assert.equal(echo.outcome[k], 'error:ECONNRESET');
    assert.equal(p.stats.endpointErrors, 1);
    await waitFor('the proxy to forget the connection', () => p.stats.active === 0);
  });

  test('a target that is down: the client is reset', async () => {
    const gone = await new EchoServer().listen();
    await gone.close();
    const p = track(await proxyTo(gone.port));
    const c = track(new Client(p.port));
    await waitFor('the reset', () => c.ended !== null);
    assert.notEqual(c.ended, 'end');
    assert.equal(p.stats.upstreamFailures, 1);
  });

  test('delay holds chunks for the given time, each way, and keeps their order', async () => {
    const p = track(await proxyTo(echo.port));
    const c = track(new Client(p.port));
    c.write('warm');
    await waitFor('the echo', () => c.length === 4);

    p.setDelay(60);
    const t0 = performance.now();
    c.write('a');
    await waitFor('the delayed echo', () => c.length === 5);
    const rtt = performance.now() - t0;
    assert.ok(rtt >= 115, `a round trip through a 60 ms link each way took ${rtt.toFixed(1)} ms`);
    assert.ok(rtt < 1000, `round trip ${rtt.toFixed(1)} ms`);

    // with jitter larger than the gap between writes, a later chunk may draw a shorter delay: it must still wait its turn
    p.setDelay(20, 20);
    const sent: string[] = [];
    for (let i = 0; i < 100; i++) {
      const s = `<${i}>`;
      sent.push(s);
      c.write(s);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const want = 'warma' + sent.join('');
    await waitFor('all delayed chunks', () => c.length === want.length);
    assert.equal(c.data.toString(), want);
    p.setDelay(0);
  });

  test('loss breaks connections at about the given rate, and replays from the seed', async () => {
    // Each round trip is two chunks (request, echo), each lost with p: a connection survives one with (1-p)^2.
    const p = 0.2;
    const run = async (seed: number): Promise<boolean[]> => {
      const proxy = track(await proxyTo(echo.port, seed));
      proxy.setLoss(p);
      const survived: boolean[] = [];
      for (let i = 0; i < 150; i++) {
        const c = new Client(proxy.port);
        c.write(`msg ${i}`);
        await waitFor(`round trip ${i}`, () => c.length === `msg ${i}`.length || c.ended !== null);
        survived.push(c.ended === null);
        c.destroy();
      }
      await waitFor('all connections gone', () => proxy.stats.active === 0);
      const s = proxy.stats;
      assert.equal(s.resetByLoss, survived.filter((x) => !x).length);
      return survived;
    };
    const a = await run(42);
    const broken = a.filter((x) => !x).length / a.length;
    const expected = 1 - (1 - p) ** 2; // 0.36
    assert.ok(Math.abs(broken - expected) < 0.12, `broke ${(broken * 100).toFixed(0)}% of connections, expected about ${(expected * 100).toFixed(0)}%`);
    const b = await run(42);
    assert.deepEqual(b, a, 'the same seed breaks the same connections');
    const c = await run(43);
    assert.notDeepEqual(c, a, 'another seed breaks others');
  });

  test('loss 0 and 1', async () => {
    const proxy = track(await proxyTo(echo.port));
    proxy.setLoss(1);
    const c = track(new Client(proxy.port));
    c.write('x');
    await waitFor('the reset', () => c.ended !== null);
    assert.equal(c.ended, 'ECONNRESET');
    proxy.setLoss(0);
    const d = track(new Client(proxy.port));
    d.write('y');
    await waitFor('the echo', () => d.data.toString() === 'y');
    assert.throws(() => proxy.setLoss(1.5), RangeError);
    assert.throws(() => proxy.setDelay(-1), RangeError);
  });

  test('pause queues without closing; resume delivers in order', async () => {
    const sink = await new EchoServer(false).listen();
    cleanup.push(() => sink.close());
    const p = track(await proxyTo(sink.port));
    const c = track(new Client(p.port));
    c.write('before ');
    await waitFor('the first bytes', () => sink.bytes(0).toString() === 'before ');

    p.pause();
    c.write('during ');
    c.write('the stall');
    await waitFor('the proxy to hold the bytes', () => p.stats.queuedBytes === 16);
    assert.equal(sink.bytes(0).toString(), 'before ', 'nothing is forwarded while paused');
    c.socket.end(); // the FIN queues too
    // a connection made during the stall does not reach the target yet
    const late = track(new Client(p.port));
    late.write('late');
    await waitFor('the proxy to accept it and hold its bytes', () => p.stats.accepted === 2 && p.stats.queuedBytes === 20);
    assert.equal(sink.sockets.length, 1);
    assert.equal(c.ended, null, 'a paused link closes nothing');
    assert.equal(sink.outcome[0], 'open');

    p.resume();
    await waitFor('delivery after resume', () => sink.bytes(0).toString() === 'before during the stall' && sink.outcome[0] === 'end');
    await waitFor('the late connection', () => sink.bytes(1).toString() === 'late');
    assert.equal(p.stats.queuedBytes, 0);
    assert.equal(p.stats.bytesToTarget, 27);
  });

  test('pause holds a bulk stream with back-pressure and delivers all of it', async () => {
    const sink = await new EchoServer(false).listen();
    cleanup.push(() => sink.close());
    const p = track(await proxyTo(sink.port));
    p.pause();
    const c = track(new Client(p.port));
    const chunk = Buffer.alloc(128 * 1024, 7);
    const total = 256 * chunk.length; // 32 MiB: more than the proxy holds plus what loopback's kernel buffers take
    for (let i = 0; i < 256; i++) c.write(chunk);
    // the proxy stops reading at its high-water mark, the kernel buffers fill, and the writer is left holding the rest
    await waitFor('back-pressure on the writer', () => p.stats.queuedBytes >= 1024 * 1024 && c.socket.writableLength > 0, 10_000);
    assert.ok(p.stats.queuedBytes <= 1024 * 1024 + chunk.length, `held ${p.stats.queuedBytes}`);
    assert.equal(sink.bytes(0).length, 0);
    p.resume();
    await waitFor('all of it', () => sink.bytes(0).length === total, 10_000);
    assert.equal(p.stats.bytesToTarget, total);
    assert.equal(p.stats.queuedBytes, 0);
  });
});

describe('FaultNetwork', () => {
  const servers = new Map<number, EchoServer>();
  let net3: FaultNetwork;

  before(async () => {
    for (const id of [1, 2, 3]) servers.set(id, await new EchoServer().listen());
    net3 = await FaultNetwork.create([1, 2, 3].map((id) => ({ id, peerPort: servers.get(id)!.port })), { seed: 5 });
  });
  after(async () => {
    await net3.close();
    for (const s of servers.values()) await s.close();
  });

  /** Whether a connection `from` opens to `to` (through the address in from's --peers) completes a round trip. */
  const canSend = async (n: FaultNetwork, from: number, to: number): Promise<boolean> => {
    const addr = parsePeers(n.peersArgFor(from)).get(to)!;
    const c = new Client(Number(addr.slice(addr.lastIndexOf(':') + 1)));
    c.write('hi');
    await waitFor(`${from}->${to}`, () => c.length === 2 || c.ended !== null);
    const ok = c.ended === null;
    c.destroy();
    return ok;
  };
  const reachability = async (n: FaultNetwork): Promise<string> => {
    const open: string[] = [];
    for (const a of n.ids) for (const b of n.ids) if (a !== b && (await canSend(n, a, b))) open.push(`${a}->${b}`);
    return open.join(' ');
  };

  test('peersArgFor: the member itself by its real address, every other through the proxy of that link', () => {
    for (const i of [1, 2, 3]) {
      const parts = net3.peersArgFor(i).split(',');
      assert.equal(parts.length, 3);
      for (const j of [1, 2, 3]) {
        const want = i === j ? `${j}=127.0.0.1:${servers.get(j)!.port}` : `${j}=127.0.0.1:${net3.link(i, j).port}`;
        assert.equal(parts[j - 1], want);
      }
      assert.equal(parsePeers(net3.peersArgFor(i)).size, 3, 'the string is valid --peers');
    }
    assert.equal(net3.link(1, 2).target, `127.0.0.1:${servers.get(2)!.port}`);
    assert.notEqual(net3.link(1, 2).port, net3.link(2, 1).port);
    assert.throws(() => net3.link(1, 1));
    assert.throws(() => net3.link(1, 4));
  });

  test('each link reaches the right member', async () => {
    for (const i of [1, 2, 3]) {
      for (const j of [1, 2, 3]) {
        if (i === j) continue;
        const before = servers.get(j)!.sockets.length;
        assert.equal(await canSend(net3, i, j), true);
        assert.equal(servers.get(j)!.sockets.length, before + 1, `link ${i}->${j} went to member ${j}`);
      }
    }
  });

  test('partition blocks exactly the links between groups, and resets their connections', async () => {
    const addr = parsePeers(net3.peersArgFor(1)).get(2)!;
    const stream12 = new Client(Number(addr.split(':')[1]));
    const addr23 = parsePeers(net3.peersArgFor(2)).get(3)!;
    const stream23 = new Client(Number(addr23.split(':')[1]));
    stream12.write('a');
    stream23.write('b');
    await waitFor('both streams up', () => stream12.length === 1 && stream23.length === 1);

    net3.partition([[1], [2, 3]]);
    assert.equal(net3.describe(), '1->2 1->3 2->1 3->1');
    await waitFor('the 1->2 stream to be reset', () => stream12.ended !== null);
    assert.equal(stream12.ended, 'ECONNRESET');
    stream23.write('c');
    await waitFor('the 2->3 stream to carry on', () => stream23.length === 2);
    assert.equal(stream23.ended, null);
    assert.equal(await reachability(net3), '2->3 3->2');
    stream23.destroy();

    net3.partition([[1, 3]]); // 2 is alone
    assert.equal(await reachability(net3), '1->3 3->1');
    net3.heal();
    assert.equal(await reachability(net3), '1->2 1->3 2->1 2->3 3->1 3->2');
    assert.throws(() => net3.partition([[1, 2], [2, 3]]), /two groups/);
    assert.throws(() => net3.partition([[1, 9]]), /not a member/);
  });

  test('isolate, oneWay, bridge, blockExactly, heal', async () => {
    net3.isolate(2);
    assert.equal(await reachability(net3), '1->3 3->1');
    net3.oneWay(1, 3); // replaces the isolation
    assert.deepEqual(net3.blocked(), [[1, 3]]);
    assert.equal(await reachability(net3), '1->2 2->1 2->3 3->1 3->2');
    net3.bridge(1, 2, 3);
    assert.equal(await reachability(net3), '1->2 2->1 2->3 3->2');
    net3.blockExactly([[2, 1], [3, 2]]);
    assert.equal(await reachability(net3), '1->2 1->3 2->3 3->1');
    net3.link(1, 2).pause();
    net3.setLoss(0.5);
    net3.setDelay(5, 1);
    net3.healPartition();
    assert.deepEqual(net3.blocked(), []);
    assert.equal(net3.link(1, 2).isPaused, true, 'healPartition leaves other faults');
    net3.heal();
    assert.equal(net3.link(1, 2).isPaused, false);
    assert.equal(await reachability(net3), '1->2 1->3 2->1 2->3 3->1 3->2');
    assert.equal(net3.stats().resetByLoss, 0);
  });

  test('bridge with 5 members', async () => {
    const five = new Map<number, EchoServer>();
    for (const id of [1, 2, 3, 4, 5]) five.set(id, await new EchoServer().listen());
    const n = await FaultNetwork.create([...five].map(([id, s]) => ({ id, peerPort: s.port })));
    try {
      assert.equal(n.links().length, 20);
      n.bridge([1, 2], 3, [4, 5]);
      const open = new Set((await reachability(n)).split(' '));
      for (const a of [1, 2, 3, 4, 5]) {
        for (const b of [1, 2, 3, 4, 5]) {
          if (a === b) continue;
          const crosses = (a <= 2 && b >= 4) || (a >= 4 && b <= 2);
          assert.equal(open.has(`${a}->${b}`), !crosses, `${a}->${b}`);
        }
      }
    } finally {
      await n.close();
      for (const s of five.values()) await s.close();
    }
  });
});
