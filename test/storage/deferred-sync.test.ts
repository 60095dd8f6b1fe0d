// SqliteStore's deferred sync (the server's --log-sync=deferred), on a real disk:
// the fsync that makes an append durable is an fdatasync of the WAL file, run off
// the main thread (strace shows which file and which thread), and what a sync
// covered survives kill -9 of the process that wrote it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../storage/sqlite-store.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const hasStrace = spawnSync('strace', ['-V']).status === 0;
if (!hasStrace && process.env.CI) throw new Error('strace is missing: apt-get install -y strace (.ci/run does)');

/** A child that appends `batches` one-transaction batches, syncing after each (deferred) or not (inline). */
function writerScript(dir: string): string {
  const f = join(dir, 'writer.ts');
  writeFileSync(f, `
import { SqliteStore } from ${JSON.stringify(join(ROOT, 'storage/sqlite-store.ts'))};
const [file, mode, batches, hold] = process.argv.slice(2);
const s = new SqliteStore(file, { deferSync: mode === 'deferred' });
process.stdout.write('pid ' + process.pid + '\\n');
let n = 0;
const next = () => {
  if (n === Number(batches)) {
    if (hold === 'hold') return void setInterval(() => {}, 1000); // wait to be killed
    s.close();
    return;
  }
  n++;
  s.append([{ zxid: n, time: 1, txn: { type: 'delete', path: '/n' + n } }]);
  if (mode === 'deferred') s.sync((e) => { if (e) throw e; process.stdout.write('synced ' + n + '\\n'); next(); });
  else setImmediate(next);
};
next();
`);
  return f;
}

interface Sync { tid: number; call: string; file: string }

function traceWriter(mode: 'deferred' | 'inline'): { mainPid: number; syncs: Sync[] } {
  const dir = mkdtempSync(join(tmpdir(), 'zoogate-fsync-'));
  try {
    const trace = join(dir, 'trace.txt');
    const r = spawnSync('strace', ['-f', '-y', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, '--import', 'tsx', writerScript(dir), join(dir, 'z.db'), mode, '5'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const mainPid = Number(/pid (\d+)/.exec(r.stdout)![1]);
    const syncs: Sync[] = [];
    for (const line of readFileSync(trace, 'utf8').split('\n')) {
      const m = /^(\d+)\s+(fsync|fdatasync)\(\d+<([^>]+)>\)\s+= 0/.exec(line);
      if (m) syncs.push({ tid: Number(m[1]), call: m[2]!, file: m[3]! });
    }
    return { mainPid, syncs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('deferred: each sync() is one fdatasync of the WAL file, on a thread-pool thread, not the event loop', { skip: !hasStrace && 'no strace' }, () => {
  const { mainPid, syncs } = traceWriter('deferred');
  const wal = syncs.filter((s) => s.file.endsWith('z.db-wal'));
  const offMain = wal.filter((s) => s.tid !== mainPid);
  assert.equal(offMain.length, 5, `one fdatasync per sync() call, off the main thread: ${JSON.stringify(wal)}`);
  assert.ok(offMain.every((s) => s.call === 'fdatasync'));
  // on the main thread only opening and closing the database sync the WAL (SQLite's checkpoints)
  const onMain = wal.filter((s) => s.tid === mainPid);
  assert.ok(onMain.length < 5, `the appends themselves do not sync on the event loop: ${JSON.stringify(onMain)}`);
});

test('inline: every append syncs the WAL on the main thread (the contrast)', { skip: !hasStrace && 'no strace' }, () => {
  const { mainPid, syncs } = traceWriter('inline');
  const wal = syncs.filter((s) => s.file.endsWith('z.db-wal'));
  assert.ok(wal.filter((s) => s.tid === mainPid).length >= 5, JSON.stringify(wal));
  assert.equal(wal.filter((s) => s.tid !== mainPid).length, 0);
});

test('deferred: every append a completed sync covered survives kill -9 of the writer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zoogate-fsync-'));
  try {
    const file = join(dir, 'z.db');
    const child = spawn(process.execPath, ['--import', 'tsx', writerScript(dir), file, 'deferred', '40', 'hold'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('synced 40\n')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`writer exited ${code}: ${out}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const back = new SqliteStore(file);
    assert.equal(back.lastZxid(), 40);
    assert.deepEqual(back.readAfter(0, 100).map((t) => t.zxid), Array.from({ length: 40 }, (_, i) => i + 1));
    back.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deferred: close() while a sync is in flight lets it complete on a descriptor still open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zoogate-fsync-'));
  try {
    const s = new SqliteStore(join(dir, 'z.db'), { deferSync: true });
    assert.equal(s.defersSync, true);
    s.append([{ zxid: 1, time: 1, txn: { type: 'delete', path: '/a' } }]);
    const done = new Promise<Error | null>((resolve) => s.sync(resolve));
    s.close();
    assert.equal(await done, null, 'the fdatasync in flight ran on a descriptor that stayed open');
    const again = new SqliteStore(join(dir, 'z.db'));
    assert.equal(again.lastZxid(), 1);
    assert.equal(again.defersSync, false);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
