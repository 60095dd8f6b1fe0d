/**
 * The `zoogate` command line against a real 3-process ensemble: --server
 * with three URLs when the first is killed (commands and a watch move on),
 * no quorum (exit 6), and the recipe commands (lock, elect, queue, services)
 * with several CLIs contending.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, until } from '../support/process-cluster.ts';
import { jsonError, zg, ZgProcess } from './support.ts';

describe('zoogate CLI against a 3-process ensemble', { timeout: 180_000 }, () => {
  let c: ProcessCluster;
  let dir: string;
  /** Every server, member 1 first (the CLI tries them in this order). */
  let all: string;
  const running: ZgProcess[] = [];
  const start = (args: string[]) => {
    const p = new ZgProcess(args);
    running.push(p);
    return p;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zoogate-cli-'));
    c = await new ProcessCluster(3).init();
    c.startAll();
    await c.waitStable();
    all = c.members.map((m) => m.url).join(',');
  });
  after(async () => {
    for (const p of running) p.killGroup();
    await c.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('lock: five CLIs at once run their commands one at a time, in queue order, each exiting with its command\'s code; waiters show how many are ahead, counting down; --timeout exits 6; Ctrl-C leaves the queue', async () => {
    const log = join(dir, 'lock.log');
    const inside = join(dir, 'lock.inside'); // a directory: mkdir fails if another run is inside
    const go = join(dir, 'lock.go');
    writeFileSync(log, '');
    // every command waits for the go file once inside, so the first holder keeps the others queued
    const body = (name: string, code: number) => `mkdir ${inside} || { echo "OVERLAP ${name}" >> ${log}; exit 99; }; echo "in ${name} $ZOOGATE_FENCING_TOKEN" >> ${log}; `
      + `i=0; while [ ! -e ${go} ] && [ $i -lt 1000 ]; do sleep 0.02; i=$((i+1)); done; sleep 0.2; echo "out ${name}" >> ${log}; rmdir ${inside}; exit ${code}`;
    const cs = ([['A', 3], ['B', 0], ['C', 4], ['D', 5], ['E', 6]] as const).map(([name, code]) => ({
      name, code, p: start(['lock', '/locks/cli', '--server', all, '--', 'sh', '-c', body(name, code)]),
    }));
    // each either holds the lock or says how many are ahead of it
    const places = await Promise.all(cs.map(async (x) => {
      const m = await x.p.waitStderrMatch(/zoogate: holding lock|waiting for lock \/locks\/cli \((\d+) ahead\)/);
      return m[1] === undefined ? 0 : Number(m[1]);
    }));
    assert.deepEqual([...places].sort(), [0, 1, 2, 3, 4], `one holder, the others one place each: ${places}`);
    const at = (place: number) => cs[places.indexOf(place)]!;
    await until('the holder\'s command to start', async () => readFileSync(log, 'utf8').includes('\n'));
    // while it holds the lock: one that will not wait gives up with 6, and the second in line leaves with Ctrl-C (130)
    const quitter = at(2);
    quitter.p.signal('SIGINT');
    const [t, q] = await Promise.all([
      zg(['lock', '/locks/cli', '--timeout', '0.3', '--json', '--server', all, '--', 'sh', '-c', `echo "T" >> ${log}`]),
      quitter.p.exited,
    ]);
    assert.equal(t.code, 6, t.stderr);
    assert.equal(jsonError(t).error.code, 'OperationTimeout');
    assert.equal(q.code, 130, q.stderr);
    await at(4).p.waitStderr('(3 ahead)'); // the last one moved up
    assert.match(readFileSync(log, 'utf8'), new RegExp(`^in ${at(0).name} \\d+\n$`), 'nothing ran but the holder');

    writeFileSync(go, '');
    const stayed = cs.filter((x) => x !== quitter);
    const ends = await Promise.all(stayed.map((x) => x.p.exited));
    assert.deepEqual(ends.map((e) => e.code), stayed.map((x) => x.code), `each exits with its command's code: ${ends.map((e) => e.stderr).join('')}`);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const order = [0, 1, 3, 4].map((p) => at(p).name);
    assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 2).join(' ')), order.flatMap((n) => [`in ${n}`, `out ${n}`]), 'one at a time (no OVERLAP), in queue order');
    const tokens = lines.filter((l) => l.startsWith('in ')).map((l) => Number(l.split(' ')[2]));
    assert.ok(tokens.every((tok, i) => i === 0 || tok > tokens[i - 1]!), `fencing tokens grow: ${tokens}`);
    // each waiter's count went down as the queue moved, to 1 before its turn
    for (const p of [1, 3, 4]) {
      const x = at(p);
      const counts = [...x.p.stderr.matchAll(/\((\d+) ahead\)/g)].map((m) => Number(m[1]));
      assert.equal(counts[0], p, x.p.stderr);
      assert.ok(counts.every((n, i) => i === 0 || n < counts[i - 1]!), `${x.name}: ${counts}`);
      assert.equal(counts.at(-1), 1, `${x.name}: ${x.p.stderr}`);
      assert.match(x.p.stderr, /\nzoogate: holding lock \/locks\/cli \(\/locks\/cli\/_c_[0-9a-f-]{36}-lock-\d{10}, fencing token \d+\); running sh -c /);
    }
  });

  test('lock: a holder paused past its session timeout loses the lock; the next one takes it with a larger fencing token; the first one\'s command gets SIGTERM and it exits 6', async () => {
    const holder = start(['lock', '/locks/lost', '--session-timeout', '1', '--server', all, '--',
      'sh', '-c', 'trap \'echo "stopped"; exit 143\' TERM; echo "token $ZOOGATE_FENCING_TOKEN"; i=0; while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done']);
    const [first] = await holder.waitLines(1);
    const next = start(['lock', '/locks/lost', '--server', all, '--', 'sh', '-c', 'echo "token $ZOOGATE_FENCING_TOKEN"']);
    await next.waitStderr('(1 ahead)');
    // its session expires while it cannot answer; its command runs on meanwhile (what fencing tokens are for)
    holder.signal('SIGSTOP');
    const n = await next.exited;
    holder.signal('SIGCONT');
    assert.equal(n.code, 0, n.stderr);
    assert.ok(Number(n.stdout.split(' ')[1]) > Number(first!.split(' ')[1]), `${n.stdout} after ${first}`);
    const h = await holder.exited;
    assert.equal(h.code, 6, h.stderr);
    assert.match(h.stderr, /zoogate: SessionExpired: lost the lock \/locks\/lost while the command ran \(.*\); the command was stopped\n$/);
    assert.equal(h.stdout, `${first}\nstopped\n`, 'the command was told to stop');
  });

  test('elect: one leader among three; when the leader is killed -9 the next takes over once its session has expired; a COMMAND runs only while leading and its exit code passes through', async () => {
    const url = c.members[1]!.url;
    const one = start(['elect', '/election/cli', '--id', 'one', '--session-timeout', '1', '--server', all]);
    assert.deepEqual(await one.waitLines(1), ['leader']);
    const two = start(['elect', '/election/cli', '--id', 'two', '--server', all]);
    assert.deepEqual(await two.waitLines(1), ['follower: leader is one']);
    const three = start(['elect', '/election/cli', '--id', 'three', '--server', all, '--', 'sh', '-c', 'echo "three leads as $ZOOGATE_LEADER_ID"; exit 7']);
    await three.waitStderr('zoogate: follower: leader is one\n');
    // the candidates as the ensemble holds them: one node each, in the order they came
    const names = ((await (await fetch(`${url}/znodes/election/cli?children=true`)).json()) as { children: string[] }).children
      .sort((p, q) => Number(p.slice(-10)) - Number(q.slice(-10)));
    const candidates = await Promise.all(names.map(async (n) => (await (await fetch(`${url}/znodes/election/cli/${n}`)).json()) as { path: string; data: string; stat: { ephemeralOwner: string } }));
    assert.deepEqual(candidates.map((v) => v.data), ['one', 'two', 'three']);

    one.signal('SIGKILL');
    const killedAt = Date.now();
    await one.exited;
    // the process is gone, its session not yet: still the leader's node
    assert.equal((await fetch(`${url}/znodes${candidates[0]!.path}`, { method: 'HEAD' })).status, 200, 'the session outlives its process');
    assert.deepEqual(await two.waitLines(2), ['follower: leader is one', 'leader']);
    const tookMs = Date.now() - killedAt;
    assert.ok(tookMs >= 500, `took over ${tookMs} ms after the kill: not before the 1 s session could expire`);
    assert.equal((await fetch(`${url}/sessions/${candidates[0]!.stat.ephemeralOwner}`)).status, 410, 'the session expired');
    await three.waitStderr('zoogate: follower: leader is two\n');
    assert.equal(three.stdout, '', 'the command waits for leadership');
    two.signal('SIGTERM');
    assert.equal((await two.exited).code, 0);
    const r = await three.exited;
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'three leads as three\n');
    assert.deepEqual(r.stderr.match(/^zoogate: (leader|follower: .*)$/gm), ['zoogate: follower: leader is one', 'zoogate: follower: leader is two', 'zoogate: leader']);
  });

  test('queue: an empty take exits 2, or says it waits and gets the next put; put/peek/size; five concurrent takers on three servers take four items exactly once', async () => {
    const urls = c.members.map((m) => m.url);
    /** An item's node: the recipe may prefix its name with Curator's protection `_c_<GUID>-`; the sequence orders the queue. */
    const ITEM = /^\/queues\/cli\/(_c_[0-9a-f-]{36}-)?qn-\d{10}$/;
    const waiting = start(['queue', 'take', '/queues/cli', '--server', urls[1]!]);
    let r = await zg(['queue', 'take', '/queues/cli', '--timeout', '0', '--server', urls[0]!]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [2, '', 'zoogate: NoNode: queue /queues/cli is empty\n'], 'no waiting with --timeout 0');
    await waiting.waitStderr('zoogate: waiting for an item in /queues/cli\n');
    r = await zg(['queue', 'put', '/queues/cli', '-', '--server', urls[2]!], { input: 'first' });
    assert.deepEqual([r.code, r.stderr], [0, '']);
    assert.match(r.stdout.replace(/\n$/, ''), ITEM);
    const w = await waiting.exited;
    assert.deepEqual([w.code, w.stdout], [0, 'first'], w.stderr);

    const items = ['a', 'b', 'c', 'd'];
    const puts = await Promise.all(items.map((item, i) => zg(['queue', 'put', '/queues/cli', item, '--json', '--server', urls[i % 3]!])));
    assert.deepEqual(puts.map((p) => p.code), [0, 0, 0, 0], puts.map((p) => p.stderr).join(''));
    const paths = puts.map((p) => JSON.parse(p.stdout).path as string);
    for (const p of paths) assert.match(p, ITEM);
    const [size, peek] = await Promise.all([
      zg(['queue', 'size', '/queues/cli', '--server', urls[1]!]),
      zg(['queue', 'peek', '/queues/cli', '--json', '--server', urls[2]!]),
    ]);
    assert.deepEqual([size.code, size.stdout], [0, '4\n'], size.stderr);
    const head = JSON.parse(peek.stdout);
    assert.deepEqual(Object.keys(head), ['path', 'data', 'encoding']);
    const oldest = [...paths].sort((p, q) => Number(p.slice(-10)) - Number(q.slice(-10)))[0]!;
    assert.deepEqual(head, { path: oldest, data: items[paths.indexOf(oldest)], encoding: 'utf8' }, 'the head is the oldest item');

    // peek took nothing: five takers at once get the four items, each exactly once, and one finds the queue empty
    const takers = await Promise.all([0, 1, 2, 3, 4].map((i) => zg(['queue', 'take', '/queues/cli', '--timeout', '1', '--server', urls[i % 3]!])));
    const got = takers.filter((t) => t.code === 0);
    assert.deepEqual(got.map((t) => t.stdout).sort(), items, takers.map((t) => t.stderr).join(''));
    const empty = takers.filter((t) => t.code !== 0);
    assert.equal(empty.length, 1);
    assert.equal(empty[0]!.code, 2);
    assert.equal(empty[0]!.stderr, 'zoogate: waiting for an item in /queues/cli (at most 1 s)\nzoogate: NoNode: queue /queues/cli is empty (waited 1 s)\n');
  });

  test('services: instances registered by two CLIs, listed, and picked by each strategy; one killed -9 is gone once its session expires; one whose session expired under it registers again; Ctrl-C unregisters at once', async () => {
    const url = c.members[2]!.url;
    const instances = async () => ((await (await fetch(`${url}/znodes/services/web?children=true`)).json()) as { children?: string[] }).children?.sort() ?? [];
    const a = start(['services', 'register', 'web', '10.0.0.1:8080', '--id', 'a', '--meta', 'load=0.7', '--meta', 'conns=3', '--session-timeout', '1', '--server', all]);
    const b = start(['services', 'register', 'web', '10.0.0.2:8080', '--id', 'b', '--meta', 'load=0.2', '--meta', 'conns=9', '--meta', 'zone=eu', '--session-timeout', '1', '--server', all]);
    assert.deepEqual(await a.waitLines(1), ['/services/web/a']);
    assert.deepEqual(await b.waitLines(1), ['/services/web/b']);
    await b.waitStderr('zoogate: registered web 10.0.0.2:8080 until Ctrl-C\n');
    const [list, names, rr, random, least, leastConns, none] = await Promise.all([
      zg(['services', 'list', 'web', '--server', all]),
      zg(['services', 'list', '--json', '--server', all]),
      zg(['services', 'pick', 'web', '-n', '4', '--server', all]),
      zg(['services', 'pick', 'web', '--strategy', 'random', '-n', '30', '--server', all]),
      zg(['services', 'pick', 'web', '--strategy', 'least-loaded', '--json', '--server', all]),
      zg(['services', 'pick', 'web', '--strategy', 'least-loaded', '--field', 'conns', '--server', all]),
      zg(['services', 'pick', 'nosuch', '--server', all]),
    ]);
    assert.equal(list.stdout, 'ID  ADDRESS        METADATA\na   10.0.0.1:8080  {"load":0.7,"conns":3}\nb   10.0.0.2:8080  {"load":0.2,"conns":9,"zone":"eu"}\n', list.stderr);
    assert.deepEqual(JSON.parse(names.stdout), { path: '/services', services: ['web'] });
    const picks = rr.stdout.trim().split('\n');
    assert.equal(picks.length, 4, rr.stderr);
    assert.deepEqual([picks[2], picks[3]], [picks[0], picks[1]], 'round robin: in turn');
    assert.deepEqual([...new Set(picks)].sort(), ['10.0.0.1:8080', '10.0.0.2:8080']);
    const randomPicks = random.stdout.trim().split('\n');
    assert.equal(randomPicks.length, 30);
    assert.deepEqual([...new Set(randomPicks)].sort(), ['10.0.0.1:8080', '10.0.0.2:8080'], 'random: both, sooner or later');
    const inst = JSON.parse(least.stdout);
    assert.deepEqual([inst.id, inst.address, inst.port, inst.metadata], ['b', '10.0.0.2', 8080, { load: 0.2, conns: 9, zone: 'eu' }]);
    assert.equal(leastConns.stdout, '10.0.0.1:8080\n', '--field conns');
    assert.deepEqual([none.code, none.stdout, none.stderr], [2, '', 'zoogate: NoNode: no instance of nosuch is registered (/services/nosuch)\n']);

    b.signal('SIGKILL');
    await b.exited;
    assert.deepEqual(await instances(), ['a', 'b'], 'the session outlives its process');
    await until('the killed instance\'s session to expire', async () => (await instances()).length === 1);
    assert.deepEqual(await instances(), ['a']);
    const r = await zg(['services', 'pick', 'web', '--strategy', 'least-loaded', '--server', all]);
    assert.deepEqual([r.code, r.stdout], [0, '10.0.0.1:8080\n'], r.stderr);
    // paused past its session timeout, it loses its node; once it runs again it registers anew
    a.signal('SIGSTOP');
    await until('the paused instance\'s session to expire', async () => (await instances()).length === 0);
    a.signal('SIGCONT');
    await a.waitStderrMatch(/zoogate: session expired; registered again in session [0-9a-f]{16}\n/);
    assert.deepEqual(await instances(), ['a']);
    a.signal('SIGINT');
    assert.equal((await a.exited).code, 0);
    assert.deepEqual(await instances(), [], 'unregistered at once, not at its session timeout');
  });

  test('--server with three URLs, the first killed: commands go to the others, and a watch moves without losing an event', async () => {
    const watch = start(['watch', '/fo', '-R', '--server', all]);
    await watch.waitStderr('watching /fo');
    let r = await zg(['create', '/fo/before', 'x', '--parents', '--server', all]);
    assert.equal(r.code, 0, r.stderr);
    await watch.waitLines(2); // NodeCreated /fo, /fo/before

    await c.kill(1);
    r = await zg(['create', '/fo/after', 'y', '--server', all]);
    assert.deepEqual([r.code, r.stdout], [0, '/fo/after\n'], r.stderr);
    r = await zg(['get', '/fo/after', '--server', all]);
    assert.deepEqual([r.code, r.stdout], [0, 'y']);
    r = await zg(['members', '--json', '--server', all]);
    assert.equal(r.code, 0, r.stderr);
    const view = JSON.parse(r.stdout);
    assert.notEqual(view.serverId, 1, 'answered by a live server');
    assert.equal(view.members.length, 3);
    const lines = await watch.waitLines(3, 15_000);
    assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 2).join(' ')), ['NodeCreated /fo', 'NodeCreated /fo/before', 'NodeCreated /fo/after']);
    assert.match(watch.stderr, /lost http:\/\/127\.0\.0\.1:\d+ .*; moving to another server/);
    watch.signal('SIGINT');
    assert.equal((await watch.exited).code, 0);
  });

  test('without a quorum, writes exit 6 (NoQuorum) and say so', async () => {
    // member 1 is down already; one more leaves a single server
    const survivor = c.members.find((m) => m.proc !== null)!;
    const other = c.members.find((m) => m.proc !== null && m.id !== survivor.id)!;
    await c.kill(other.id);
    await until('the survivor to notice', async () => (await c.cluster(survivor.id))?.state === 'LOOKING');
    let r = await zg(['create', '/nq', '--timeout', '1', '--server', survivor.url]);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /^zoogate: NoQuorum: /);
    r = await zg(['set', '/fo/after', 'z', '--timeout', '1', '--json', '--server', survivor.url]);
    assert.equal(r.code, 6);
    assert.equal(jsonError(r).error.code, 'NoQuorum');
  });
});
