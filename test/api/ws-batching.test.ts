// The answers to WebSocket requests that arrive together leave the server together: one socket
// write for the lot, not one per answer (a write is a syscall, ~4 µs here, and a read at 16-64
// in flight otherwise paid one each). Checked on a real server process with strace counting its
// writev calls while 32 pipelined requests, sent in one TCP write, are answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { killHard, spawnServer } from '../support/server-process.ts';
import { WsTestClient } from '../support/ws-client.ts';

const hasStrace = spawnSync('strace', ['-V']).status === 0;
if (!hasStrace && process.env.CI) throw new Error('strace is missing: apt-get install -y strace (.ci/run does)');

test('32 requests arriving in one read are answered in one write, in order', { skip: !hasStrace && 'no strace' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zg-wsbatch-'));
  const s = await spawnServer(['--port', '0', '--peer-port', '0', '--data-dir', join(dir, 'data')]);
  const c = await WsTestClient.connect(s.url);
  try {
    assert.equal((await c.request('create', { path: '/b', data: 'x' })).ok, true);
    const trace = join(dir, 'writev.trace');
    const st = spawn('strace', ['-f', '-e', 'trace=writev,write', '-o', trace, '-p', String(s.proc.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      st.stderr!.on('data', (d: Buffer) => { err += d; if (/attached/.test(err)) resolve(); });
      st.once('exit', (code) => reject(new Error(`strace exited ${code}: ${err}`)));
    });
    // all 32 frames in one TCP write, so the server reads them together
    const sock = (c.ws as unknown as { _socket: Socket })._socket;
    sock.cork();
    const ids = Array.from({ length: 32 }, () => c.fire('get', { path: '/b' }));
    sock.uncork();
    const answers = await Promise.all(ids.map((id) => c.waitFor((m) => m.type === 'response' && m.id === id)));
    assert.ok(answers.every((m) => m.ok === true && m.result.data === 'x'));
    const order = c.messages.filter((m) => m.type === 'response' && ids.includes(m.id)).map((m) => m.id);
    assert.deepEqual(order, ids, 'answered in request order');
    await new Promise((r) => setTimeout(r, 200));
    st.kill('SIGINT');
    await new Promise((r) => st.once('exit', r));
    const writes = readFileSync(trace, 'utf8').split('\n').filter((l) => /\bwritev?\(/.test(l));
    // one per answer before; now the 32 share a write (a read split in two could make it two)
    assert.ok(writes.length >= 1 && writes.length <= 4, `${writes.length} socket writes for 32 answers:\n${writes.slice(0, 5).join('\n')}`);
  } finally {
    c.close();
    await killHard(s);
    rmSync(dir, { recursive: true, force: true });
  }
});
