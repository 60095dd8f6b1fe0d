// Jepsen-style runs against a real ensemble: workloads over REST and WebSocket on
// every server, a seeded schedule of faults (kill -9, SIGSTOP, partitions through
// the fault proxy, slow links, failing disks), then healing, convergence and the
// checkers over the recorded history and the servers' own logs.
import Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeLoggedTxn } from '../../core/txn-codec.ts';
import type { Txn } from '../../core/txn.ts';
import { checkLinearizable } from './checker/linearizability.ts';
import { checkLock, checkSequentialCreates, checkSessions, checkSet } from './checker/other-checkers.ts';
import { registerModel } from './checker/register-model.ts';
import { ChaosCluster, LIBFAKETIME } from './chaos-cluster.ts';
import { Recorder, rest } from './clients.ts';
import { type LockHold, lockClient, REGISTER_KEYS, registerClient, sequentialClient, type SessionRecord, sessionClient, setClient, type WorkloadContext } from './workloads.ts';
import { prng } from '../support/prng.ts';
import { sleep } from '../support/process-cluster.ts';

export const FAULT_KINDS = ['kill-leader', 'kill', 'pause', 'partition-majority', 'isolate-leader', 'bridge', 'one-way', 'slow-network', 'lossy-network', 'disk-eio', 'disk-full', 'clock-jump'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosConfig {
  readonly seed: number;
  readonly servers: number;
  /** How long faults and load run, before healing. */
  readonly durationMs: number;
  readonly faults: readonly FaultKind[];
  /** Where the servers' data and, on failure, the history go. */
  readonly dir: string;
  readonly log?: (line: string) => void;
}

export interface FaultWindow {
  kind: FaultKind;
  target: string;
  startMs: number;
  endMs: number;
}

export interface ChaosResult {
  readonly ok: boolean;
  readonly problems: string[];
  readonly seed: number;
  readonly servers: number;
  readonly ops: number;
  readonly outcomes: Record<string, number>;
  readonly faults: FaultWindow[];
  /** Per fault kind: ops invoked while it was in force, and the fraction that succeeded. */
  readonly availability: Record<string, { ops: number; ok: number }>;
  readonly checks: Record<string, unknown>;
  readonly failureFile: string | null;
}

interface LogEntry {
  zxid: number;
  bytes: string;
  txn: Txn;
}

/** Each server's transaction log, read from its SQLite file after it stopped. */
function readLog(dataDir: string): LogEntry[] {
  const db = new Database(join(dataDir, 'zoogate.db'), { readonly: true });
  try {
    return (db.prepare('SELECT zxid, body FROM txnlog ORDER BY zxid').all() as Array<{ zxid: number; body: Buffer }>).map((r) => ({
      zxid: r.zxid, bytes: r.body.toString('base64'), txn: decodeLoggedTxn(r.body).txn,
    }));
  } finally {
    db.close();
  }
}

/** path → zxid of the transaction that deleted it (last one), from a log. */
function deletionsIn(log: LogEntry[]): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (t: Txn, z: number) => {
    if (t.type === 'delete') out.set(t.path, z);
    else if (t.type === 'multi') for (const s of t.txns) visit(s, z);
    else if (t.type === 'closeSession') for (const p of t.paths) out.set(p, z);
  };
  for (const e of log) visit(e.txn, e.zxid);
  return out;
}

export async function runChaos(cfg: ChaosConfig): Promise<ChaosResult> {
  const say = (l: string) => cfg.log?.(`[chaos ${cfg.seed}] ${l}`);
  const rnd = prng(cfg.seed);
  const problems: string[] = [];
  const cluster = await ChaosCluster.create(cfg.servers, cfg.dir, cfg.seed, { tickMs: 100, extraArgs: ['--snapshot-every', '1000000'] });
  const rec = new Recorder();
  const faults: FaultWindow[] = [];
  const holds: LockHold[] = [];
  const sessions: SessionRecord[] = [];
  const ids = cluster.members.map((m) => m.id);
  const ctx: WorkloadContext = { urls: cluster.members.map((m) => m.url), rnd, rec, running: true, errors: [] };
  let keepFiles = false;
  try {
    for (const id of ids) cluster.start(id);
    const leader0 = await cluster.waitStable();
    say(`ensemble up, leader ${leader0}`);
    const L = cluster.member(leader0).url;
    for (const p of ['/reg', '/seq', '/set', '/lock', '/sess']) await rest(L, 'POST', `/znodes${p}`);
    for (const k of REGISTER_KEYS) await rest(L, 'POST', `/znodes${k}`, { body: '' });

    const workers: Array<Promise<void>> = [];
    for (let i = 0; i < 6; i++) workers.push(registerClient(ctx, i % 2 === 1));
    for (let i = 0; i < 2; i++) workers.push(sequentialClient(ctx), setClient(ctx));
    for (let i = 0; i < 3; i++) workers.push(lockClient(ctx, holds));
    for (const id of ids) workers.push(sessionClient(ctx, id, sessions));

    // ---- faults ----
    const until = rec.now() + cfg.durationMs;
    const down = new Set<number>();
    let clockStepped: number | null = null;
    // Without libfaketime a clock step cannot be made: in CI (which installs it) that is a failure, not a skip.
    if (!ChaosCluster.canStepClocks && cfg.faults.includes('clock-jump') && process.env.CI) throw new Error(`clock-jump needs ${LIBFAKETIME} (apt-get install faketime)`);
    const kinds = cfg.faults.filter((k) => k !== 'clock-jump' || ChaosCluster.canStepClocks);
    await sleep(1000);
    while (rec.now() < until - 1500) {
      const kind = kinds[rnd(kinds.length)]!;
      const holdMs = 1200 + rnd(2300);
      const leader = await cluster.leader();
      const anyUp = ids.filter((i) => cluster.isUp(i));
      const victim = kind.endsWith('leader') && leader !== null ? leader : anyUp[rnd(anyUp.length)] ?? 1;
      const w: FaultWindow = { kind, target: '', startMs: rec.now(), endMs: 0 };
      switch (kind) {
        case 'kill-leader':
        case 'kill':
          await cluster.kill(victim);
          down.add(victim);
          w.target = `server ${victim}`;
          break;
        case 'pause':
          cluster.pause(victim);
          w.target = `server ${victim}`;
          break;
        case 'partition-majority': {
          const shuffled = [...ids].sort(() => rnd(3) - 1);
          const maj = shuffled.slice(0, Math.floor(ids.length / 2) + 1);
          const min = shuffled.slice(maj.length);
          cluster.net.partition([maj, min]);
          w.target = `${maj.join(',')} | ${min.join(',')}`;
          break;
        }
        case 'isolate-leader':
          cluster.net.isolate(victim);
          w.target = `server ${victim}`;
          break;
        case 'bridge': {
          if (ids.length < 5) {
            const [a, b, c] = [...ids].sort(() => rnd(3) - 1) as [number, number, number];
            cluster.net.bridge(a, b, c);
            w.target = `${a} - ${b} - ${c}`;
          } else {
            const s = [...ids].sort(() => rnd(3) - 1);
            cluster.net.bridge([s[0]!, s[1]!], s[2]!, [s[3]!, s[4]!]);
            w.target = `${s[0]},${s[1]} - ${s[2]} - ${s[3]},${s[4]}`;
          }
          break;
        }
        case 'one-way': {
          const other = ids.filter((i) => i !== victim)[rnd(ids.length - 1)]!;
          cluster.net.oneWay(victim, other);
          w.target = `${victim} -/-> ${other}`;
          break;
        }
        case 'slow-network':
          cluster.net.setDelay(20 + rnd(40), 15);
          w.target = 'all links';
          break;
        case 'lossy-network':
          // at TCP level a lost packet that retransmission cannot save is a broken connection
          cluster.net.setLoss(0.002 + rnd(8) / 1000);
          w.target = 'all links';
          break;
        case 'disk-eio':
        case 'disk-full':
          cluster.diskFault(victim, kind === 'disk-eio' ? 'eio' : 'full');
          w.target = `server ${victim}`;
          break;
        case 'clock-jump': {
          // The leader's wall clock stepped by hours, forwards or back (NTP, an operator): sessions,
          // pings and elections must not care, since they measure durations on the monotonic clock.
          const jumpVictim = leader ?? victim;
          const offset = `${rnd(2) === 0 ? '+' : '-'}${1 + rnd(5)}h`;
          cluster.stepClock(jumpVictim, offset);
          w.target = `server ${jumpVictim} ${offset}`;
          clockStepped = jumpVictim;
          break;
        }
      }
      say(`fault ${kind} ${w.target} for ${holdMs} ms`);
      await sleep(holdMs);
      // heal this fault
      switch (kind) {
        case 'pause':
          cluster.resume(victim);
          break;
        case 'disk-eio':
        case 'disk-full':
          cluster.clearDiskFault(victim);
          if (!cluster.isUp(victim)) {
            const m = cluster.member(victim);
            if (m.exits.length > 0 && m.exits[m.exits.length - 1] !== 70) problems.push(`server ${victim} exited with ${m.exits[m.exits.length - 1]} on a ${kind}, not by stopping itself (70)`);
            down.add(victim);
          }
          break;
        case 'slow-network':
          cluster.net.setDelay(0, 0);
          break;
        case 'lossy-network':
          cluster.net.setLoss(0);
          break;
        case 'clock-jump':
          if (clockStepped !== null) cluster.stepClock(clockStepped, '+0'); // and back: a second step
          clockStepped = null;
          break;
        default:
          cluster.net.healPartition();
      }
      for (const id of down) cluster.start(id);
      down.clear();
      w.endMs = rec.now();
      faults.push(w);
      await sleep(600 + rnd(1200));
    }
    ctx.running = false;
    await Promise.race([Promise.all(workers), sleep(15_000)]);

    // ---- heal and converge ----
    cluster.net.heal();
    for (const id of ids) {
      cluster.resume(id);
      cluster.clearDiskFault(id);
      if (!cluster.isUp(id)) cluster.start(id);
    }
    const leader = await cluster.waitStable(40_000);
    say(`healed; leader ${leader}`);
    let hashes: Array<{ zxid: number; digest: string } | null> = [];
    const convergeEnd = Date.now() + 20_000;
    for (;;) {
      await rest(cluster.member(leader).url, 'POST', '/sync/');
      hashes = await Promise.all(ids.map((id) => cluster.json<{ zxid: number; digest: string }>(id, '/commands/hash', 5000)));
      if (hashes.every((h) => h !== null && h.zxid === hashes[0]!.zxid && h.digest === hashes[0]!.digest)) break;
      if (Date.now() > convergeEnd) {
        problems.push(`servers did not converge: ${JSON.stringify(hashes)}`);
        break;
      }
      await sleep(200);
    }
    // Sessions of stopped clients keep expiring meanwhile: every listing says the zxid it reflects.
    const listedAt = new Map<number, number>();
    const finalList = async (id: number, path: string) => {
      const a = await rest(cluster.member(id).url, 'GET', `/znodes${path}?children=true&sync=true`, { timeoutMs: 5000 });
      if (a.kind !== 'answer' || a.status !== 200) throw new Error(`final listing of ${path} on ${id}: ${JSON.stringify(a.kind === 'answer' ? a.body : a)}`);
      if (path === '/sess') listedAt.set(id, Number(a.headers.get('zoogate-zxid')));
      return a.body.children as string[];
    };
    const seqFinal = await finalList(leader, '/seq');
    const setFinal = new Map<string, Set<string>>();
    const sessFinal = new Map<string, Set<string>>();
    for (const id of ids) {
      setFinal.set(String(id), new Set(await finalList(id, '/set')));
      sessFinal.set(String(id), new Set((await finalList(id, '/sess')).map((k) => `/sess/${k}`)));
    }
    await cluster.stopAll();

    // ---- the servers' logs ----
    const logs = ids.map((id) => readLog(cluster.member(id).dataDir));
    // The log checks (agreement, lock releases) mean nothing over an empty log.
    logs.forEach((l, i) => { if (l.length === 0) problems.push(`server ${ids[i]}'s log is empty after the run: nothing to compare`); });
    for (let i = 1; i < logs.length; i++) {
      const a = new Map(logs[0]!.map((e) => [e.zxid, e.bytes]));
      let compared = 0;
      for (const e of logs[i]!) {
        const other = a.get(e.zxid);
        if (other === undefined) continue;
        compared++;
        if (other !== e.bytes) {
          problems.push(`logs of servers 1 and ${i + 1} differ at zxid ${e.zxid.toString(16)}`);
          break;
        }
      }
      if (logs[i]!.length > 0 && logs[0]!.length > 0 && compared === 0) problems.push(`logs of servers 1 and ${i + 1} share no zxid`);
    }

    // ---- checkers ----
    const checks: Record<string, unknown> = {};
    const lin = checkLinearizable(rec.ops.filter((o) => o.key?.startsWith('/reg/')), registerModel({ initial: { value: '', version: 0 } }), { maxStates: 3_000_000 });
    checks.linearizable = lin.ok === true ? lin.stats : lin;
    if (lin.ok === false) problems.push(`register ${lin.key} is not linearizable: ${JSON.stringify(lin.witness).slice(0, 3000)}`);
    if (lin.ok === 'unknown') problems.push(`linearizability of ${lin.key} undecided: ${lin.reason}`);
    const seq = checkSequentialCreates(rec.ops, new Map([['/seq', seqFinal]]));
    checks.sequential = seq.stats;
    if (!seq.ok) problems.push(...seq.errors.map((e) => `sequential: ${e}`));
    const set = checkSet(rec.ops, setFinal);
    checks.set = set.stats;
    if (!set.ok) problems.push(...set.errors.map((e) => `set: ${e}`));
    const deletions = logs.map(deletionsIn);
    const allDeleted = new Map<string, number>();
    for (const d of deletions) for (const [p, z] of d) allDeleted.set(p, z);
    // the session check looks at the state each server listed, so only deletions up to that zxid count
    const sessionDeletions = deletions.map((d, i) => new Map([...d].filter(([p, z]) => !p.startsWith('/sess/') || z <= listedAt.get(ids[i]!)!)));
    const listedMin = Math.min(...listedAt.values());
    const lockResult = checkLock(holds.map((h) => ({ holder: h.holder, acquiredZxid: h.acquiredZxid, releasedZxid: h.releasedZxid ?? allDeleted.get(h.path) ?? null })));
    checks.lock = lockResult.stats;
    if (!lockResult.ok) problems.push(...lockResult.errors.map((e) => `lock: ${e}`));
    const ended = sessions.filter((s) => (allDeleted.get(s.path) ?? Infinity) <= listedMin || s.observedExpired);
    const sess = checkSessions({
      ephemerals: ended.map((s) => ({ session: s.sessionId, path: s.path })),
      deletions: new Map(ids.map((id, i) => [String(id), sessionDeletions[i]!])),
      finalPaths: sessFinal,
    });
    checks.sessions = sess.stats;
    if (!sess.ok) problems.push(...sess.errors.map((e) => `sessions: ${e}`));
    for (const s of sessions) if (s.observedExpired && !allDeleted.has(s.path) && [...sessFinal.values()].some((f) => f.has(s.path))) problems.push(`session ${s.sessionId} was told it expired but ${s.path} remains`);
    problems.push(...ctx.errors.slice(0, 20));

    const outcomes: Record<string, number> = {};
    for (const o of rec.ops) outcomes[o.outcome] = (outcomes[o.outcome] ?? 0) + 1;
    const availability: Record<string, { ops: number; ok: number }> = {};
    for (const w of faults) {
      const a = (availability[w.kind] ??= { ops: 0, ok: 0 });
      for (const o of rec.ops) {
        if (o.invokeMs < w.startMs || o.invokeMs > w.endMs) continue;
        a.ops++;
        if (o.outcome === 'ok') a.ok++;
      }
    }
    let failureFile: string | null = null;
    if (problems.length > 0) {
      keepFiles = true;
      mkdirSync(cfg.dir, { recursive: true });
      failureFile = join(cfg.dir, `chaos-failure-seed-${cfg.seed}.json`);
      writeFileSync(failureFile, JSON.stringify({ config: { ...cfg, log: undefined }, problems, faults, holds, sessions, history: rec.ops, serverLogs: cluster.members.map((m) => m.log.slice(-200_000)) }, null, 1));
      say(`FAILED; history and fault schedule in ${failureFile}`);
    }
    return { ok: problems.length === 0, problems, seed: cfg.seed, servers: cfg.servers, ops: rec.ops.length, outcomes, faults, availability, checks, failureFile };
  } catch (e) {
    // the run itself broke (the ensemble never settled, a server would not answer): keep everything
    keepFiles = true;
    mkdirSync(cfg.dir, { recursive: true });
    const failureFile = join(cfg.dir, `chaos-failure-seed-${cfg.seed}.json`);
    writeFileSync(failureFile, JSON.stringify({ config: { ...cfg, log: undefined }, error: String((e as Error).stack ?? e), faults, history: rec.ops, serverLogs: cluster.members.map((m) => m.log.slice(-400_000)) }, null, 1));
    say(`BROKE: ${(e as Error).message}; details in ${failureFile}`);
    return {
      ok: false, problems: [`the run broke: ${(e as Error).message}`], seed: cfg.seed, servers: cfg.servers, ops: rec.ops.length, outcomes: {}, faults,
      availability: {}, checks: {}, failureFile,
    };
  } finally {
    ctx.running = false;
    await cluster.destroy(keepFiles);
  }
}
