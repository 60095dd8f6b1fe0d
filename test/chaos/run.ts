// npm run chaos -- [--minutes M | --seconds S] [--seed S] [--servers 3|5] [--faults kill,pause,...] [--runs N] [--report FILE]
// Runs Jepsen-style fault tests against real processes; a failing run writes its
// history and fault schedule to a file and prints its seed. --report writes a
// markdown summary (runs, operations checked, faults by kind, availability).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type ChaosResult, FAULT_KINDS, type FaultKind, runChaos } from './runner.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' }, seconds: { type: 'string', default: '40' }, seed: { type: 'string' }, servers: { type: 'string', default: '3' },
    faults: { type: 'string', default: FAULT_KINDS.join(',') }, runs: { type: 'string', default: '1' },
    dir: { type: 'string', default: join(os.tmpdir(), 'zoogate-chaos') }, report: { type: 'string' },
  },
});
const durationMs = values.minutes !== undefined ? Number(values.minutes) * 60_000 : Number(values.seconds) * 1000;
const faults = values.faults!.split(',') as FaultKind[];
for (const f of faults) if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new Error(`unknown fault ${f} (${FAULT_KINDS.join(', ')})`);
const servers = values.servers!.split(',').map(Number);
const results: ChaosResult[] = [];
const runs = Number(values.runs);
const started = new Date();
for (let i = 0; i < runs; i++) {
  const seed = values.seed !== undefined ? Number(values.seed) + i : Math.floor(Math.random() * 1e9);
  const n = servers[i % servers.length]!;
  const r = await runChaos({ seed, servers: n, durationMs, faults, dir: join(values.dir!, String(seed)), log: (l) => console.log(l) });
  results.push(r);
  console.log(JSON.stringify({ seed: r.seed, servers: n, ok: r.ok, ops: r.ops, outcomes: r.outcomes, availability: r.availability, checks: r.checks }));
  if (!r.ok) console.log(`seed ${seed} FAILED:\n  ${r.problems.slice(0, 20).join('\n  ')}\n  details: ${r.failureFile}`);
}
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
if (values.report) writeFileSync(values.report, report(results));
// Exit now: a run leaves keep-alive sockets and timers of its clients behind, which would keep the process up.
process.exit(failed > 0 ? 1 : 0);

function report(rs: ChaosResult[]): string {
  const byKind = new Map<string, { windows: number; ops: number; ok: number }>();
  for (const r of rs) {
    for (const f of r.faults) {
      const k = byKind.get(f.kind) ?? { windows: 0, ops: 0, ok: 0 };
      k.windows++;
      byKind.set(f.kind, k);
    }
    for (const [kind, a] of Object.entries(r.availability)) {
      const k = byKind.get(kind)!;
      k.ops += a.ops;
      k.ok += a.ok;
    }
  }
  const sum = (f: (r: ChaosResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const check = (r: ChaosResult, name: string, field: string) => Number(((r.checks[name] ?? {}) as Record<string, number>)[field] ?? 0);
  const lines = [
    `## Campaign of ${started.toISOString().slice(0, 16)} UTC`,
    '',
    `\`npm run chaos -- --runs ${rs.length} --seconds ${durationMs / 1000} --servers ${servers.join(',')}${values.seed ? ` --seed ${values.seed}` : ''}\` on ${os.cpus().length} cores (${os.cpus()[0]?.model}), node ${process.version}.`,
    '',
    `| runs | passed | operations recorded | ok | failed (not applied) | unknown | register ops checked for linearizability | sequential creates | set adds | lock holds | sessions ended |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${rs.length} | ${rs.length - failed} | ${sum((r) => r.ops)} | ${sum((r) => r.outcomes.ok ?? 0)} | ${sum((r) => r.outcomes.fail ?? 0)} | ${sum((r) => r.outcomes.unknown ?? 0)} | ${sum((r) => check(r, 'linearizable', 'ops'))} | ${sum((r) => check(r, 'sequential', 'acknowledged'))} | ${sum((r) => check(r, 'set', 'adds'))} | ${sum((r) => check(r, 'lock', 'holds'))} | ${sum((r) => check(r, 'sessions', 'sessions'))} |`,
    '',
    'Faults injected, and availability while each was in force (operations invoked during the fault window that succeeded):',
    '',
    '| fault | windows | operations | succeeded |',
    '|---|---:|---:|---:|',
    ...[...byKind].sort((a, b) => a[0].localeCompare(b[0])).map(([k, v]) => `| ${k} | ${v.windows} | ${v.ops} | ${v.ops === 0 ? '-' : `${Math.round((v.ok / v.ops) * 100)} %`} |`),
    '',
    failed === 0 ? 'No anomaly.' : `Failed seeds: ${rs.filter((r) => !r.ok).map((r) => `${r.seed} (${r.problems[0]?.slice(0, 160)})`).join('; ')}`,
    '',
  ];
  return lines.join('\n');
}
