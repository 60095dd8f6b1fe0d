// A real browser's EventSource on /watch: it receives the events, and when its
// connection drops it reconnects by itself (the stream's `retry: 1000`) with
// Last-Event-ID, so the changes made while it was away arrive, once each.
// Debian's chromium through playwright-core; skipped without it, except under CI.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { until } from '../support/process-cluster.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);

/** A TCP relay in front of the server, so the test can drop the browser's connections as a network would. */
class Relay {
  private readonly sockets = new Set<net.Socket>();
  readonly server: net.Server;
  connections = 0;
  constructor(target: number) {
    this.server = net.createServer((down) => {
      this.connections++;
      const up = net.connect(target, '127.0.0.1');
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      down.pipe(up).pipe(down);
    });
  }
  listen(): Promise<number> {
    return new Promise((r) => this.server.listen(0, '127.0.0.1', () => r((this.server.address() as AddressInfo).port)));
  }
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }
  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let s: TestServer;
let relay: Relay;
let browser: Browser;
let page: Page;
let origin: string;

before(async () => {
  if (missing) return;
  s = await startTestServer();
  relay = new Relay(s.port);
  origin = `http://127.0.0.1:${await relay.listen()}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  page = await browser.newPage();
  await page.goto(`${origin}/health`);
});
after(async () => {
  if (missing) return;
  await browser.close();
  await relay.close();
  await s.destroy();
});

const write = (method: string, path: string) => fetch(`${s.url}${path}`, { method }).then((r) => { assert.ok(r.ok, `${method} ${path}: ${r.status}`); });

interface Seen { events: string[]; ids: string[]; opens: number; errors: number }
const seen = (): Promise<Seen> => page.evaluate(() => (globalThis as unknown as { seen: Seen }).seen);

test('EventSource gets the events, reconnects by itself after a drop, and resumes by Last-Event-ID without a gap or a repeat', { skip: missing && 'no chromium' }, async () => {
  await page.evaluate(() => {
    const g = globalThis as unknown as { seen: Seen; es: EventSource };
    g.seen = { events: [], ids: [], opens: 0, errors: 0 };
    g.es = new EventSource('/watch/b?recursive=true');
    g.es.onopen = () => { g.seen.opens++; };
    g.es.onerror = () => { g.seen.errors++; };
    for (const type of ['NodeCreated', 'NodeDeleted', 'NodeDataChanged', 'NodeChildrenChanged']) {
      g.es.addEventListener(type, (e) => {
        const m = e as MessageEvent;
        g.seen.events.push(`${type} ${JSON.parse(m.data).path}`);
        g.seen.ids.push(m.lastEventId);
      });
    }
  });
  await until('the stream open', async () => (await seen()).opens === 1, 10_000);
  await write('POST', '/znodes/b');
  await write('POST', '/znodes/b/1');
  await until('the first two events', async () => (await seen()).events.length === 2, 10_000);

  relay.cut(); // the browser's stream dies; changes go on without it
  const connectionsBefore = relay.connections;
  await write('PUT', '/znodes/b/1');
  await write('POST', '/znodes/b/2');
  await write('DELETE', '/znodes/b/1');
  await until('the events missed while away', async () => (await seen()).events.length >= 5, 15_000);
  await write('POST', '/znodes/b/3'); // after the resume, live again
  await until('the live event after the resume', async () => (await seen()).events.length >= 6, 10_000);

  const got = await seen();
  assert.deepEqual(got.events, [
    'NodeCreated /b', 'NodeCreated /b/1', 'NodeDataChanged /b/1', 'NodeCreated /b/2', 'NodeDeleted /b/1', 'NodeCreated /b/3',
  ]);
  assert.ok(got.errors >= 1 && got.opens >= 2, `the drop was seen and the browser reconnected (${JSON.stringify(got)})`);
  assert.ok(relay.connections > connectionsBefore, 'a new connection came in');
  // ids are zxids, increasing: the browser carried the last one over the reconnect
  const ids = got.ids.map(Number);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `ids increase: ${got.ids.join(',')}`);
});
