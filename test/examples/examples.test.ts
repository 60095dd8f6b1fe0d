/**
 * Every example in examples/ run as its own process, the way a user runs it
 * (`node --import tsx examples/<name>.ts --server URL,...`), against one real
 * 3-process ensemble: each must exit 0 by itself and print the line that
 * shows it did its job. Then nothing is left behind, and examples/README.md
 * lists every example.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ZooGateRest } from '../../client/index.ts';
import { ProcessCluster, until } from '../support/process-cluster.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Each example and the line that proves it worked. */
const EXAMPLES: ReadonlyArray<readonly [string, RegExp]> = [
  ['simple-lock', /OK SimpleLock: 12 acquisitions by 3 sessions on 3 servers; holders never overlapped/],
  ['mutex', /OK Mutex: 5 holders in queue order 0,1,2,3,4, never overlapping, fencing tokens increasing/],
  ['read-write-lock', /OK ReadWriteLock: up to [2-4] readers together, writers always alone/],
  ['semaphore', /OK Semaphore: 12 leases taken by 6 workers, at most [12] of 2 out at once; a dead holder's lease was freed/],
  ['leader-election', /OK LeaderLatch: leaders candidate-0 -> candidate-1 -> candidate-2, exactly one leader at a time/],
  ['master-worker', /OK master\/worker: 12 tasks done exactly once .*worker w3 died and its task was reassigned; master A was killed -9 and B took over/],
  ['barrier', /OK Barrier: 4 workers held at the barrier until it was removed/],
  ['double-barrier', /OK DoubleBarrier: 4 members entered together and left together/],
  ['two-phase-commit', /tx-3: abort \(shipping's session ended before it voted\)[^\n]*\n[^\n]*OK two-phase commit: tx-1 committed \(all voted commit\), tx-2 aborted \(a no vote\), tx-3 aborted \(a dead participant\)/],
  ['queue', /OK DistributedQueue: 12 jobs put, each taken exactly once, FIFO order/],
  ['priority-queue', /OK PriorityQueue: 6 items taken lowest priority first, FIFO among equal priorities/],
  ['service-discovery', /OK service discovery: 3 instances registered, chosen round robin and by load; one went away and was no longer chosen/],
  ['config-cache', /OK config cache: 3 subscribers got every config change pushed; concurrent updates both kept; the flags cache followed every change/],
  ['naming', /OK naming: bindings resolved across clients through a watched cache; 10 concurrent unique names, no duplicate/],
  ['counter', /OK counter: 100 concurrent increments counted exactly; 20 concurrent multi-key transfers kept the total at 3000/],
];

function run(name: string, servers: string): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}.ts`, '--server', servers], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  // the examples stop themselves after 60 s; this is for one that would not even do that
  const killer = setTimeout(() => child.kill('SIGKILL'), 70_000);
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(killer);
    resolve({ code, out, err, ms: performance.now() - t0 });
  }));
}

describe('examples/ against a 3-process ensemble', { timeout: 150_000, concurrency: 3 }, () => {
  let cluster: ProcessCluster;
  let servers = '';
  const runs: Array<Promise<unknown>> = [];
  before(async () => {
    // ticks of 200 ms: session timeouts of 0.4 to 4 s, so the master/worker failover waits 2 s for
    // the killed master's session to expire, and a loaded machine does not expire the others
    cluster = await new ProcessCluster(3, ['--tick-ms', '200']).init();
    cluster.startAll();
    await cluster.waitStable();
    servers = cluster.members.map((m) => m.url).join(',');
  });
  after(async () => {
    await cluster?.destroy();
  });

  for (const [name, proof] of EXAMPLES) {
    test(`${name}: exits 0 by itself and shows it worked`, async (t) => {
      const running = run(name, servers);
      runs.push(running);
      const r = await running;
      t.diagnostic(`${name}: ${(r.ms / 1000).toFixed(1)} s`);
      assert.equal(r.code, 0, `exit code\n--- stdout\n${r.out}--- stderr\n${r.err}`);
      assert.match(r.out, proof, `the proof line\n--- stdout\n${r.out}--- stderr\n${r.err}`);
    });
  }

  test('nothing is left behind: /examples (a container) goes once every example has cleaned up', async () => {
    // node:test starts a suite's tests in order, at most 3 at once: by now every example has started
    assert.equal(runs.length, EXAMPLES.length);
    await Promise.all(runs);
    const rest = new ZooGateRest(servers.split(','));
    const left = async (path: string): Promise<string[]> => {
      const kids = await rest.children(path).then((c) => c.children, () => []);
      return [path, ...(await Promise.all(kids.map((k) => left(`${path}/${k}`)))).flat()];
    };
    try {
      await until('/examples to go', async () => (await rest.sync('/'), (await rest.exists('/examples')) === null), 15_000, 200);
    } catch (e) {
      assert.fail(`${(e as Error).message}; left:\n${(await left('/examples')).join('\n')}`);
    }
  });

  test('examples/README.md lists every example with its command', () => {
    const readme = readFileSync(`${ROOT}examples/README.md`, 'utf8');
    const files = readdirSync(`${ROOT}examples`).filter((f) => f.endsWith('.ts') && f !== 'support.ts').map((f) => f.slice(0, -3)).sort();
    assert.deepEqual(files, EXAMPLES.map(([n]) => n).sort(), 'this test knows every example');
    for (const f of files) assert.ok(readme.includes(`node --import tsx examples/${f}.ts`), `README shows how to run ${f}`);
  });
});
