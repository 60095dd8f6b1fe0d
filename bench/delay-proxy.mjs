#!/usr/bin/env node
// A TCP relay that delays every byte by a fixed time in each direction: servers on one machine
// made to talk as if they were in different zones (this machine's kernel has no netem).
//
//   node bench/delay-proxy.mjs --delay-ms 1 LISTEN=TARGET [LISTEN=TARGET ...]
//   e.g. 3012=2982 (listen on 127.0.0.1:3012, relay to 127.0.0.1:2982)
//
// Each chunk read is written out `delay-ms` after it was read (a due-time queue per direction,
// so order is kept and a burst is not delayed once per chunk). Node's timers fire on the next
// millisecond tick, so a delay of 1 ms adds 1-2 ms; both variants of an A/B see the same.
// Prints "ready" once every port listens; exits on SIGTERM.
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { 'delay-ms': { type: 'string', default: '1' }, host: { type: 'string', default: '127.0.0.1' } }, allowPositionals: true });
const delayMs = Number(values['delay-ms']);
if (!(delayMs >= 0) || positionals.length === 0) {
  console.error('usage: delay-proxy.mjs --delay-ms N LISTEN=TARGET ...');
  process.exit(2);
}

/** Copies src to dst, each chunk `delayMs` after it arrived, in order. */
function delayed(src, dst) {
  const queue = [];
  let timer = null;
  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now) dst.write(queue.shift().chunk);
    if (queue.length > 0) timer = setTimeout(flush, queue[0].due - now);
  };
  src.on('data', (chunk) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    if (timer === null) timer = setTimeout(flush, delayMs);
  });
  src.on('end', () => setTimeout(() => dst.end(), delayMs + 1));
  src.on('error', () => dst.destroy());
  src.on('close', () => setTimeout(() => dst.destroy(), delayMs + 1));
}

const servers = positionals.map((pair) => {
  const [listen, target] = pair.split('=').map(Number);
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host: values.host, port: target }, () => upstream.setNoDelay(true));
    delayed(client, upstream);
    delayed(upstream, client);
  });
  return new Promise((resolve, reject) => server.once('error', reject).listen(listen, values.host, () => resolve(server)));
});
await Promise.all(servers);
console.log('ready');
process.on('SIGTERM', () => process.exit(0));
