/**
 * `zoogate cluster`: one command starts a local ensemble of three server
 * processes that elect a leader and serve (a write on one member is read on
 * another), each run with the server's V8 flags; SIGTERM stops all three.
 * Also: every launcher that is not TypeScript (npm start, the Dockerfile, the
 * `zoogate` shebang, the bench's cluster script) passes the same flags.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_NODE_FLAGS } from '../../api/config.ts';
import { freePortRun, until } from '../support/process-cluster.ts';
import { BIN, ROOT } from './support.ts';

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, body: text === '' ? null : JSON.parse(text), headers: r.headers };
}

describe('zoogate cluster (a local 3-process ensemble in one command)', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'zoogate-local-cluster-'));
  let proc: ChildProcess | null = null;
  after(() => {
    try {
      if (proc?.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('starts three servers that elect one leader and serve; a write on member 1 reads back on member 3; each runs with SERVER_NODE_FLAGS; SIGTERM stops them all', async () => {
    const port = await freePortRun(3);
    const peerPort = await freePortRun(3);
    // the file itself, as a shell runs it: its shebang gives node the flags
    proc = spawn(BIN, ['cluster', '--port', String(port), '--peer-port', String(peerPort), '--data-dir', dir, '--tick-ms', '200', '--log-level', 'error'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => proc!.on('exit', (code, signal) => r({ code, signal })));
    const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${port + i}`);

    await until(`the banner (stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)})`, async () => (out.includes('ZooGate ensemble of 3') ? true : null), 20_000);
    assert.ok(out.includes(urls.join(' ')), out);
    await until('all three servers ready', async () => {
      for (const u of urls) {
        const r = await fetch(`${u}/ready`).catch(() => null);
        if (r?.status !== 200) return null;
      }
      return true;
    }, 60_000);

    const states = await Promise.all(urls.map(async (u) => (await json(`${u}/cluster`)).body));
    assert.deepEqual(states.map((s) => s.state).sort(), ['FOLLOWING', 'FOLLOWING', 'LEADING']);
    const leader = states.find((s) => s.state === 'LEADING').serverId;
    for (const s of states) assert.equal(s.leaderId, leader, 'one leader, as every member sees it');

    const created = await json(`${urls[0]}/znodes/hello`, { method: 'POST', body: 'world' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const zxid = created.headers.get('zoogate-zxid')!;
    const read = await json(`${urls[2]}/znodes/hello`, { headers: { 'zoogate-min-zxid': zxid } });
    assert.equal(read.status, 200);
    assert.equal(read.body.data, 'world');

    for (const u of urls) {
      const envi = (await json(`${u}/commands/envi`)).body;
      const argv = String(envi['node.exec_argv']).split(' ');
      for (const f of SERVER_NODE_FLAGS) assert.ok(argv.includes(f), `${u}: ${envi['node.exec_argv']}`);
    }

    proc.kill('SIGTERM');
    const end = await exited;
    assert.equal(end.code, 0, `exit ${JSON.stringify(end)}; stderr ${err}`);
    await until('every server gone', async () => {
      for (const u of urls) if ((await fetch(`${u}/health`).catch(() => null)) !== null) return null;
      return true;
    }, 15_000);
  });

  test('npm start, the Dockerfile, the zoogate shebang and the bench\'s cluster script pass SERVER_NODE_FLAGS', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const launchers: Record<string, string> = {
      'npm start': pkg.scripts.start,
      'Dockerfile ENTRYPOINT': readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n').find((l) => l.startsWith('ENTRYPOINT'))!,
      'bin/zoogate.mjs shebang': readFileSync(BIN, 'utf8').split('\n')[0]!,
      'bench/zoogate-cluster.sh': readFileSync(join(ROOT, 'bench/zoogate-cluster.sh'), 'utf8').split('\n').find((l) => l.startsWith('NODE_FLAGS=${ZG_NODE_FLAGS-'))!,
    };
    assert.ok(SERVER_NODE_FLAGS.length > 0);
    for (const [name, line] of Object.entries(launchers)) {
      assert.ok(line !== undefined, `${name}: launch line not found`);
      for (const f of SERVER_NODE_FLAGS) assert.ok(line.includes(f), `${name} lacks ${f}: ${line}`);
    }
  });
});
