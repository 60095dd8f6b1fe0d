/**
 * Master/worker with failover (the design of the ZooKeeper book's example):
 *
 *   <base>/election/...     LeaderLatch of the master candidates
 *   <base>/workers/<w>      ephemeral: worker w is alive
 *   <base>/tasks/<t>        tasks not assigned yet
 *   <base>/assign/<w>/<t>   tasks assigned to worker w
 *   <base>/done/<t>         finished tasks (data: who did it)
 *
 * The master moves a task with one multi: check its own latch node (so a
 * master that has lost its session can no longer assign: the check fails),
 * delete tasks/<t>, create assign/<w>/<t>. A worker finishes a task with one
 * multi: delete its assignment, create done/<t>. A task is therefore always
 * in exactly one place, whoever dies when.
 *
 * What happens: master A runs in a child process and leads; master B waits
 * in this process. Worker w3 dies (its session ends) holding an assignment;
 * the master hands w3's tasks to the others. Then A is killed with kill -9:
 * once its session expires, B leads and finishes the job.
 *
 *   node --import tsx examples/master-worker.ts [--server URL,...]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ZooGateError, type ZooGateSession } from '../client/index.ts';
import { LeaderLatch } from '../client/recipes/index.ts';
import { arg, check, connect, main, say, servers, sleep } from './support.ts';

const TASKS = 12;
const code = (e: unknown) => (e instanceof ZooGateError ? e.code : '');

async function childrenOf(s: ZooGateSession, path: string, watch?: () => void): Promise<string[]> {
  try {
    return (await s.children(path, watch === undefined ? {} : { watch })).children.sort();
  } catch (e) {
    if (code(e) === 'NoNode') return [];
    throw e;
  }
}

/** A master candidate: waits to lead, then assigns tasks to live workers until it loses its session. */
async function master(s: ZooGateSession, base: string, id: string, paceMs: number): Promise<LeaderLatch> {
  const latch = new LeaderLatch(s, `${base}/election`, { id });
  latch.addListener({ notLeader: () => say(`master ${id}: no longer leads`) });
  await latch.start();
  if (!latch.hasLeadership()) say(`master ${id}: standing by`);
  void (async () => {
    await latch.await();
    say(`master ${id} leads`);
    let next = 0;
    while (latch.hasLeadership()) {
      let wake!: () => void;
      const woken = new Promise<void>((r) => (wake = r));
      const workers = await childrenOf(s, `${base}/workers`, wake);
      const tasks = await childrenOf(s, `${base}/tasks`, wake);
      // the tasks of workers that are gone go back to the task list
      for (const w of await childrenOf(s, `${base}/assign`, wake)) {
        if (workers.includes(w)) continue;
        for (const t of await childrenOf(s, `${base}/assign/${w}`)) {
          const { data } = await s.get(`${base}/assign/${w}/${t}`);
          await s.multi([
            { op: 'check', path: latch.node!, version: -1 },
            { op: 'delete', path: `${base}/assign/${w}/${t}` },
            { op: 'create', path: `${base}/tasks/${t}`, data },
          ]).catch((e: unknown) => { if (code(e) !== 'NoNode' && code(e) !== 'NodeExists') throw e; });
          say(`master ${id}: worker ${w} is gone, ${t} goes back to the task list`);
        }
      }
      for (const t of tasks) {
        if (!latch.hasLeadership() || workers.length === 0) break;
        const w = workers[next++ % workers.length]!;
        try {
          const { data, stat } = await s.get(`${base}/tasks/${t}`);
          await s.multi([
            { op: 'check', path: latch.node!, version: -1 }, // the leader's node still exists, or nothing is written
            { op: 'delete', path: `${base}/tasks/${t}`, version: stat.version },
            { op: 'create', path: `${base}/assign/${w}/${t}`, data },
          ]);
          say(`master ${id}: ${t} -> ${w}`);
        } catch (e) {
          if (code(e) !== 'NoNode' && code(e) !== 'NodeExists') throw e; // a worker that just went, or a task gone: next round
        }
        await sleep(paceMs);
      }
      await Promise.race([woken, sleep(500)]);
    }
  })().catch((e: unknown) => {
    if (latch.state === 'started') say(`master ${id}: ${(e as Error).message}`);
  });
  return latch;
}

/** A worker: registers, then does what is assigned to it; `dies` ends its session holding its first assignment. */
async function worker(s: ZooGateSession, base: string, name: string, stop: Promise<void>, dies = false): Promise<void> {
  await s.create(`${base}/assign/${name}`).catch((e: unknown) => { if (code(e) !== 'NodeExists') throw e; });
  await s.create(`${base}/workers/${name}`, undefined, { mode: 'ephemeral' });
  let stopped = false;
  void stop.then(() => (stopped = true));
  while (!stopped) {
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    for (const t of await childrenOf(s, `${base}/assign/${name}`, wake)) {
      if (dies) {
        say(`worker ${name} dies while working on ${t}`);
        await s.close();
        return;
      }
      await sleep(60); // the work
      await s.multi([{ op: 'delete', path: `${base}/assign/${name}/${t}` }, { op: 'create', path: `${base}/done/${t}`, data: name }]);
      say(`worker ${name} finished ${t}`);
    }
    await Promise.race([woken, sleep(500), stop]);
  }
}

if (arg('role') === 'master') {
  // the child process: master A, until it is killed (or its parent goes)
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  main('master-worker', async (base) => {
    const s = await connect(1, { timeoutMs: 2000 });
    await master(s, base, arg('id') ?? 'A', 250);
    await new Promise(() => {}); // runs until killed
  }, { cleanUp: false });
} else {
  main('master-worker', async (base) => {
    const s = await connect(0);
    for (const dir of ['tasks', 'assign', 'workers', 'done', 'election']) await s.create(`${base}/${dir}`, undefined, { parents: true });
    for (let i = 0; i < TASKS; i++) await s.create(`${base}/tasks/task-${String(i).padStart(2, '0')}`, `payload ${i}`);
    say(`${TASKS} tasks submitted under ${base}/tasks`);

    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const workers = [
      worker(await connect(0), base, 'w1', stopped),
      worker(await connect(1), base, 'w2', stopped),
      worker(await connect(2), base, 'w3', stopped, true),
    ];

    // master A in a child process, so that it can be killed -9
    const a = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--role', 'master', '--id', 'A', '--base', base, '--server', servers().join(',')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let assignedByA = 0;
    let aLeads!: () => void;
    const aLeading = new Promise<void>((r) => (aLeads = r));
    let aSeen!: () => void;
    const aAssignedSome = new Promise<void>((r) => (aSeen = r));
    createInterface({ input: a.stdout! }).on('line', (line) => {
      process.stdout.write(`   (process A) ${line}\n`);
      if (/master A leads/.test(line)) aLeads();
      if (/master A: task-\d+ -> /.test(line) && ++assignedByA === 4) aSeen();
    });
    const aExited = new Promise<void>((r) => a.once('exit', () => r()));
    await Promise.race([aLeading, aExited.then(() => Promise.reject(new Error('master A exited')))]);

    const b = await connect(2);
    const bLatch = await master(b, base, 'B', 20);
    await aAssignedSome;
    say('kill -9 master A');
    const killedAt = performance.now();
    a.kill('SIGKILL');
    await aExited;
    check(await bLatch.await({ timeoutMs: 30_000 }), 'B took over');
    say(`master B took over ${((performance.now() - killedAt) / 1000).toFixed(1)} s after A was killed (A's session had to expire first)`);

    const doneDir = `${base}/done`;
    for (const end = Date.now() + 30_000; (await childrenOf(s, doneDir)).length < TASKS;) {
      check(Date.now() < end, 'all tasks done in 30 s');
      await sleep(100);
    }
    stop();
    await Promise.all(workers);
    const done = await childrenOf(s, doneDir);
    const by = await Promise.all(done.map(async (t) => (await s.get(`${doneDir}/${t}`, { as: 'utf8' })).data));
    check(done.length === TASKS && (await childrenOf(s, `${base}/tasks`)).length === 0, 'every task done, none left');
    check(!by.includes('w3'), 'the dead worker finished nothing');
    await bLatch.close();
    say(`OK master/worker: ${TASKS} tasks done exactly once (w1: ${by.filter((w) => w === 'w1').length}, w2: ${by.filter((w) => w === 'w2').length}); worker w3 died and its task was reassigned; master A was killed -9 and B took over`);
  });
}
