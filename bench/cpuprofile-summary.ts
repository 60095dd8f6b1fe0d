/**
 * Aggregates a V8 .cpuprofile (node --cpu-prof) by function: self time (samples whose top
 * frame is the function) and inclusive time (samples with the function anywhere on the stack,
 * counted once per sample), plus self time by area (HTTP stack, SQLite, GC, ZooGate's own code…).
 *
 *   node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [--top 20] [--window FROM_S,TO_S]
 *   (--window 11,1: only the samples taken between 11 s and 1 s before the profile ends)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { relative, resolve } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FnRow {
  fn: string;
  where: string;
  area: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  file: string;
  /** wall time covered by the summarised samples */
  wallMs: number;
  profileWallMs: number;
  window: { fromEndMs: number; toEndMs: number } | null;
  sampledMs: number;
  idleMs: number;
  busyMs: number;
  /** percentages below are of busy (non-idle) time */
  bySelf: FnRow[];
  byTotal: FnRow[];
  areas: Array<{ area: string; selfMs: number; pct: number }>;
}

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));

function shortUrl(url: string): string {
  if (!url) return '';
  let p = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (p.startsWith(repoRoot)) p = relative(repoRoot, p);
  // npm run bench runs ZooGate from a snapshot of the checkout in .bench/zoogate-src
  if (p.startsWith('.bench/zoogate-src/')) p = p.slice('.bench/zoogate-src/'.length);
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) p = p.slice(nm + 'node_modules/'.length);
  return p;
}

export const KEEPNAMES = 'tsx keepNames (__name)';

/** Coarse area of a frame, for "where does the time go". */
export function areaOf(cf: CallFrame): string {
  const name = cf.functionName;
  const url = shortUrl(cf.url);
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8/native (unattributed)';
  if (name === '(root)') return 'root';
  if (url.startsWith('better-sqlite3')) return 'SQLite (better-sqlite3)';
  if (/^(core|storage|api|client)\//.test(url)) return `ZooGate ${url.split('/')[0]}/`;
  if (url.startsWith('pino') || url.includes('/pino')) return 'logging (pino)';
  if (url.startsWith('tsx') || url.startsWith('esbuild')) return 'tsx loader';
  if (/^node:(_http_|http|internal\/http)/.test(url) || /^node:internal\/(streams\/)?(http|_http)/.test(url)) return 'node http';
  if (/^node:(net|stream|internal\/stream|internal\/streams|internal\/net|internal\/stream_base)/.test(url)) return 'node net/streams';
  if (/^node:/.test(url)) return 'node other';
  if (url === '') return `native: ${name || '(anonymous)'}`;
  return `other: ${url.split('/')[0]}`;
}

/**
 * window: only samples taken between fromEndMs and toEndMs before the end of the profile
 * (e.g. the measured window of a run that ended shortly before the server was stopped).
 */
export function summarise(file: string, top = 20, window?: { fromEndMs: number; toEndMs: number }): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // tsx serves the project's .ts files transformed onto one line, so their line numbers mean nothing:
  // key those by function + file; node's own scripts and node_modules keep their line.
  const key = (cf: CallFrame) => {
    const u = shortUrl(cf.url);
    const withLine = u !== '' && !/^(core|storage|api|client|bench|test)\//.test(u);
    return `${cf.functionName || '(anonymous)'}\u0000${u}${withLine ? `:${cf.lineNumber + 1}` : ''}`;
  };
  const selfUs = new Map<string, number>();
  const totalUs = new Map<string, number>();
  const areaUs = new Map<string, number>();
  const frameOf = new Map<string, CallFrame>();
  const areaOfKey = new Map<string, string>();
  let idleUs = 0;
  let sampledUs = 0;
  // samples[i] was taken at startTime + sum(timeDeltas[0..i]); charge each sample the interval up to the next one
  const lo = window ? prof.endTime - window.fromEndMs * 1000 : -Infinity;
  const hi = window ? prof.endTime - window.toEndMs * 1000 : Infinity;
  let firstUs = Infinity;
  let lastUs = -Infinity;
  let ts = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    ts += prof.timeDeltas[i] ?? 0;
    const dt = prof.timeDeltas[i + 1] ?? 0;
    if (dt <= 0 || ts < lo || ts > hi) continue;
    firstUs = Math.min(firstUs, ts);
    lastUs = Math.max(lastUs, ts + dt);
    const node = byId.get(prof.samples[i]!);
    if (!node) continue;
    sampledUs += dt;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    const k = key(cf);
    frameOf.set(k, cf);
    selfUs.set(k, (selfUs.get(k) ?? 0) + dt);
    // esbuild's keepNames helper (tsx): __name(fn, "x") -> Object.defineProperty(fn, 'name', …), whose
    // native part shows as "set natives" / "get name" frames under __name
    const pf = byId.get(parent.get(node.id) ?? -1)?.callFrame;
    let a: string;
    if (cf.functionName === '__name' || pf?.functionName === '__name') a = KEEPNAMES;
    else if (cf.url === '' && !cf.functionName.startsWith('(')) {
      // a native builtin (writev, JSON.stringify, a RegExp…): charge it to the area of its nearest JS caller
      let id = parent.get(node.id);
      while (id !== undefined && byId.get(id)!.callFrame.url === '' && !byId.get(id)!.callFrame.functionName.startsWith('(')) id = parent.get(id);
      const caller = id === undefined ? undefined : byId.get(id)!.callFrame;
      a = caller && caller.url !== '' ? areaOf(caller) : areaOf(cf);
    } else a = areaOf(cf);
    if (!areaOfKey.has(k)) areaOfKey.set(k, a);
    areaUs.set(a, (areaUs.get(a) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (f.functionName === '(root)') break;
      const kk = key(f);
      if (seen.has(kk)) continue;
      seen.add(kk);
      frameOf.set(kk, f);
      totalUs.set(kk, (totalUs.get(kk) ?? 0) + dt);
    }
  }
  const busyUs = sampledUs - idleUs;
  const pct = (us: number) => Math.round((us / busyUs) * 1000) / 10;
  const ms = (us: number) => Math.round(us / 100) / 10;
  const row = (k: string): FnRow => {
    const cf = frameOf.get(k)!;
    const [fn, where] = k.split('\u0000') as [string, string];
    return { fn, where, area: areaOfKey.get(k) ?? areaOf(cf), selfMs: ms(selfUs.get(k) ?? 0), selfPct: pct(selfUs.get(k) ?? 0), totalMs: ms(totalUs.get(k) ?? 0), totalPct: pct(totalUs.get(k) ?? 0) };
  };
  const bySelf = [...selfUs.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k]) => row(k));
  // inclusive: only frames with code behind them (skip V8 pseudo-frames), ZooGate's and the libraries'
  const byTotal = [...totalUs.entries()]
    .filter(([k]) => !k.startsWith('('))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k]) => row(k));
  const areas = [...areaUs.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: ms(us), pct: pct(us) }));
  return {
    file,
    wallMs: Math.round((Math.min(lastUs, prof.endTime) - Math.max(firstUs, prof.startTime)) / 1000),
    profileWallMs: Math.round((prof.endTime - prof.startTime) / 1000),
    window: window ?? null,
    sampledMs: ms(sampledUs),
    idleMs: ms(idleUs),
    busyMs: ms(busyUs),
    bySelf,
    byTotal,
    areas,
  };
}

export function summaryMarkdown(s: ProfileSummary, top = 15): string {
  const out: string[] = [];
  const win = s.window ? `the window ${(s.window.fromEndMs / 1000).toFixed(1)}-${(s.window.toEndMs / 1000).toFixed(1)} s before its end (${s.wallMs} ms of ${s.profileWallMs} ms)` : `${s.wallMs} ms wall`;
  out.push(`Profile \`${shortUrl(s.file)}\`, ${win}: ${s.busyMs} ms on the main thread's CPU, idle ${s.idleMs} ms. Percentages are of the busy time.`);
  out.push('');
  out.push('Self time by area:');
  out.push('');
  out.push('| area | self ms | % |');
  out.push('|---|---:|---:|');
  for (const a of s.areas.slice(0, 14)) out.push(`| ${a.area} | ${a.selfMs} | ${a.pct} |`);
  out.push('');
  out.push(`Top ${top} functions by self time:`);
  out.push('');
  out.push('| function | where | area | self ms | self % | incl % |');
  out.push('|---|---|---|---:|---:|---:|');
  for (const r of s.bySelf.slice(0, top)) out.push(`| \`${r.fn}\` | ${r.where} | ${r.area} | ${r.selfMs} | ${r.selfPct} | ${r.totalPct} |`);
  out.push('');
  const own = s.byTotal.filter((r) => r.area.startsWith('ZooGate')).slice(0, 10);
  if (own.length) {
    out.push('ZooGate functions by inclusive time (self + callees):');
    out.push('');
    out.push('| function | where | incl ms | incl % | self % |');
    out.push('|---|---|---:|---:|---:|');
    for (const r of own) out.push(`| \`${r.fn}\` | ${r.where} | ${r.totalMs} | ${r.totalPct} | ${r.selfPct} |`);
    out.push('');
  }
  return out.join('\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args[ti + 1]) : 20;
  const wi = args.indexOf('--window');
  const win = wi >= 0 ? args[wi + 1]!.split(',').map((x) => Number(x) * 1000) : null;
  const files = args.filter((a, i) => !a.startsWith('--') && (ti < 0 || i !== ti + 1) && (wi < 0 || i !== wi + 1));
  if (files.length === 0) {
    console.error('usage: node --import tsx bench/cpuprofile-summary.ts FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  for (const f of files) console.log(summaryMarkdown(summarise(f, Math.max(top, 40), win ? { fromEndMs: win[0]!, toEndMs: win[1]! } : undefined), top));
}
