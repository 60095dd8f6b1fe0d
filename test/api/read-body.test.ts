/**
 * readBody on a real HTTP server, fed by a raw socket so that the test decides
 * how the bytes arrive: a body already complete with the headers (taken
 * from the stream's buffer at once), a body that comes later in pieces (read
 * from events), chunked bodies over the limit both ways (413, not truncated).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ZkError } from '../../core/errors.ts';
import { readBody } from '../../api/http-util.ts';

const LIMIT = 16;

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

describe('readBody', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => {
      // the handler starts only after a turn of the loop (as an async route does)
      setImmediate(() => {
        readBody(req, LIMIT).then(
          (b) => answer(res, 200, `${b.length}:${b.toString('hex')}`),
          (e) => { answer(res, e instanceof ZkError && e.code === 'PayloadTooLarge' ? 413 : 500, String(e.message)); req.resume(); },
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  /** Sends `parts` with `gapMs` between them; resolves with the status line and body of the answer. */
  function raw(parts: string[], gapMs: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let got = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        got += d;
        const end = got.indexOf('\r\n\r\n');
        const len = /content-length: (\d+)/i.exec(got)?.[1];
        if (end >= 0 && len !== undefined && got.length >= end + 4 + Number(len)) {
          s.destroy();
          resolve({ status: Number(got.slice(9, 12)), body: got.slice(end + 4, end + 4 + Number(len)) });
        }
      });
      s.on('error', reject);
      let i = 0;
      const next = () => {
        if (i < parts.length) s.write(Buffer.from(parts[i++]!, 'latin1'));
        if (i < parts.length) setTimeout(next, gapMs);
      };
      s.on('connect', next);
    });
  }

  const head = (extra: string) => `POST /x HTTP/1.1\r\nhost: t\r\n${extra}\r\n`;

  test('a body that came with the headers: its exact bytes (binary, one or several chunks)', async () => {
    const bin = '\u0000\u00ff\u0010abc';
    assert.deepEqual(await raw([head(`content-length: ${bin.length}\r\n`) + bin], 0), { status: 200, body: `6:00ff10616263` });
    assert.deepEqual(await raw([head('transfer-encoding: chunked\r\n') + '3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'], 0), { status: 200, body: '5:6162636465' });
    assert.deepEqual(await raw([head('content-length: 0\r\n')], 0), { status: 200, body: '0:' });
  });

  test('a body that comes after the headers, in pieces: all of it', async () => {
    assert.deepEqual(await raw([head('content-length: 6\r\n'), 'abc', 'def'], 30), { status: 200, body: '6:616263646566' });
    assert.deepEqual(await raw([head('transfer-encoding: chunked\r\n'), '2\r\nab\r\n', '1\r\nc\r\n0\r\n\r\n'], 30), { status: 200, body: '3:616263' });
  });

  test('over the limit: 413 whether the chunked body is complete at once or arrives later; exactly the limit is accepted', async () => {
    const big = 'x'.repeat(LIMIT + 1);
    const chunked = `${(LIMIT + 1).toString(16)}\r\n${big}\r\n0\r\n\r\n`;
    assert.equal((await raw([head('transfer-encoding: chunked\r\n') + chunked], 0)).status, 413);
    assert.equal((await raw([head('transfer-encoding: chunked\r\n'), chunked], 30)).status, 413);
    assert.equal((await raw([head(`content-length: ${LIMIT + 1}\r\n`) + big], 0)).status, 413);
    const exact = 'y'.repeat(LIMIT);
    assert.equal((await raw([head(`content-length: ${LIMIT}\r\n`) + exact], 0)).body, `${LIMIT}:${Buffer.from(exact).toString('hex')}`);
  });
});
