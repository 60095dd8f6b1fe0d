// Reads the deployment files (Dockerfile, .dockerignore, docker-compose.yml) the
// way Docker and Compose do, as far as the compose tests need: so the tests run
// what the image runs with what the stack sets, and cannot drift from them.
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------- Dockerfile

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  readonly from: string;
  readonly name: string | null;
  readonly instructions: readonly Instruction[];
}

/** Splits a Dockerfile into stages of instructions (continuations joined, comments dropped). */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line)) continue; // comments, also inside continuations
    if (cur === '' && line.trim() === '') continue;
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1) + ' ';
      continue;
    }
    cur += line;
    if (cur.trim() !== '') logical.push(cur.trim());
    cur = '';
  }
  if (cur.trim() !== '') logical.push(cur.trim());
  const stages: { from: string; name: string | null; instructions: Instruction[] }[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile: cannot read ${JSON.stringify(l)}`);
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile: cannot read FROM ${args}`);
      stages.push({ from: f[1]!, name: f[2] ?? null, instructions: [] });
    } else if (keyword === 'ARG' && stages.length === 0) {
      continue;
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile: ${keyword} before FROM`);
      stages[stages.length - 1]!.instructions.push({ keyword, args });
    }
  }
  return stages;
}

function unquote(s: string): string {
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))) return s.slice(1, -1);
  return s;
}

/** ENV's `K=V K2="V 2"` (and the legacy `K V`) form. */
export function parseEnv(args: string): [string, string][] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(args);
    if (!m) throw new Error(`Dockerfile: cannot read ENV ${args}`);
    return [[m[1]!, m[2]!]];
  }
  const out: [string, string][] = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)\s*/y;
  let at = 0;
  while (at < args.length) {
    re.lastIndex = at;
    const m = re.exec(args);
    if (!m) throw new Error(`Dockerfile: cannot read ENV ${args} at ${JSON.stringify(args.slice(at))}`);
    out.push([m[1]!, unquote(m[2]!)]);
    at = re.lastIndex;
  }
  return out;
}

/** Exec (JSON) form only: the shell form would run under /bin/sh, which the tests do not model. */
export function execForm(keyword: string, args: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    throw new Error(`Dockerfile: ${keyword} must be in exec form (a JSON array), got ${args}`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`Dockerfile: ${keyword} must be a JSON array of strings`);
  return v as string[];
}

export interface Image {
  readonly stages: readonly Stage[];
  /** The final stage: what the image is. */
  readonly runtime: Stage;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly user: string | null;
  readonly volumes: readonly string[];
  readonly exposed: readonly number[];
  /** HEALTHCHECK's options and its CMD (exec form). */
  readonly healthcheck: { readonly options: Readonly<Record<string, string>>; readonly test: readonly string[] } | null;
  /** Sources of the runtime stage's COPY instructions from the build context (not --from). */
  readonly contextCopies: readonly string[];
}

export function readImage(path = join(ROOT, 'Dockerfile')): Image {
  const stages = parseDockerfile(readFileSync(path, 'utf8'));
  const runtime = stages[stages.length - 1];
  if (!runtime) throw new Error('Dockerfile: no FROM');
  const env: Record<string, string> = {};
  let workdir = '/';
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  let user: string | null = null;
  const volumes: string[] = [];
  const exposed: number[] = [];
  let healthcheck: Image['healthcheck'] = null;
  const contextCopies: string[] = [];
  for (const { keyword, args } of runtime.instructions) {
    switch (keyword) {
      case 'ENV':
        for (const [k, v] of parseEnv(args)) env[k] = v;
        break;
      case 'WORKDIR':
        workdir = args.startsWith('/') ? args : join(workdir, args);
        break;
      case 'ENTRYPOINT':
        entrypoint = execForm(keyword, args);
        cmd = []; // as Docker does: a new ENTRYPOINT resets an inherited CMD
        break;
      case 'CMD':
        cmd = execForm(keyword, args);
        break;
      case 'USER':
        user = args;
        break;
      case 'VOLUME':
        volumes.push(...(args.startsWith('[') ? execForm(keyword, args) : args.split(/\s+/)));
        break;
      case 'EXPOSE':
        for (const p of args.split(/\s+/)) exposed.push(Number(p.split('/')[0]));
        break;
      case 'HEALTHCHECK': {
        const m = /^((?:--[\w-]+=\S+\s+)*)CMD\s+([\s\S]+)$/.exec(args);
        if (!m) throw new Error(`Dockerfile: HEALTHCHECK must be HEALTHCHECK [options] CMD [...], got ${args}`);
        const options = Object.fromEntries(m[1]!.trim().split(/\s+/).filter(Boolean).map((o) => o.slice(2).split('=') as [string, string]));
        healthcheck = { options, test: execForm('HEALTHCHECK CMD', m[2]!) };
        break;
      }
      case 'COPY':
      case 'ADD': {
        const parts = args.split(/\s+/);
        if (parts.some((p) => p.startsWith('--from'))) break;
        const srcs = parts.filter((p) => !p.startsWith('--')).slice(0, -1);
        contextCopies.push(...srcs.map((s) => normalize(s).replace(/\/$/, '')));
        break;
      }
      default:
        break;
    }
  }
  return { stages, runtime, env, workdir, entrypoint, cmd, user, volumes, exposed, healthcheck, contextCopies };
}

// ---------------------------------------------------------------- .dockerignore

/** .dockerignore patterns as Docker reads them (Go filepath.Match plus `**`, `!` exceptions, last match wins). */
export function dockerignore(path = join(ROOT, '.dockerignore')): (relPath: string) => boolean {
  const rules = readFileSync(path, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    const pat = normalize(negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/$/, '');
    const re = pat.split('/').map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/').replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
    return { negate, re: new RegExp(`^${re}$`) };
  });
  const excludedExactly = (p: string): boolean => {
    let excluded = false;
    for (const r of rules) if (r.re.test(p)) excluded = !r.negate;
    return excluded;
  };
  // a path is left out if it or any directory above it is
  return (relPath: string) => {
    const segs = normalize(relPath).split('/');
    return segs.some((_, i) => excludedExactly(segs.slice(0, i + 1).join('/')));
  };
}

// ---------------------------------------------------------------- docker-compose.yml

/**
 * Compose's variable interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`; anything else is an error.
 */
export function interpolate(s: string, env: Readonly<Record<string, string | undefined>>): string {
  return s.replace(/\$(\$|[A-Za-z_][A-Za-z0-9_]*|\{([^}]*)\})/g, (whole, tok: string, braced: string | undefined) => {
    if (tok === '$') return '$';
    if (braced === undefined) return env[tok] ?? '';
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([\s\S]*))?$/.exec(braced);
    if (!m) throw new Error(`docker-compose.yml: cannot interpolate ${whole}`);
    const [, name, colon, op, arg] = m;
    const v = env[name!];
    const unset = v === undefined || (colon === ':' && v === '');
    if (op === undefined || !unset) return v ?? '';
    if (op === '-') return arg!;
    throw new Error(`docker-compose.yml: ${name} is required: ${arg}`);
  });
}

function interpolateAll(v: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof v === 'string') return interpolate(v, env);
  if (Array.isArray(v)) return v.map((x) => interpolateAll(x, env));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateAll(x, env)]));
  return v;
}

export interface Service {
  readonly name: string;
  readonly raw: Readonly<Record<string, unknown>>;
  /** `environment`, as a map of strings (compose's list form converted). */
  readonly environment: Readonly<Record<string, string>>;
  readonly entrypoint: readonly string[] | null;
  readonly command: readonly string[] | null;
  /** `ports` in short syntax: host port → container port. */
  readonly ports: readonly { readonly host: number; readonly container: number }[];
  /** `volumes` in short syntax: source (a named volume or a path) → container path. */
  readonly volumes: readonly { readonly source: string; readonly target: string }[];
  readonly healthcheck: Readonly<Record<string, unknown>> | null;
}

export interface Compose {
  readonly services: readonly Service[];
  readonly volumes: readonly string[];
  readonly doc: Readonly<Record<string, unknown>>;
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function stringList(where: string, v: unknown): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') throw new Error(`${where}: use the list (exec) form, not a string`);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${where}: must be a list of strings`);
  return v as string[];
}

/** Reads docker-compose.yml, merge keys resolved and variables interpolated from `env`. */
export function readCompose(env: Readonly<Record<string, string | undefined>> = {}, path = join(ROOT, 'docker-compose.yml')): Compose {
  const doc = interpolateAll(parseYaml(readFileSync(path, 'utf8'), { merge: true }), env);
  if (!isMap(doc) || !isMap(doc.services)) throw new Error('docker-compose.yml: no services');
  const services = Object.entries(doc.services).map(([name, raw]): Service => {
    if (!isMap(raw)) throw new Error(`service ${name}: not a map`);
    const environment: Record<string, string> = {};
    if (Array.isArray(raw.environment)) {
      for (const e of raw.environment as string[]) {
        const i = e.indexOf('=');
        if (i < 0) throw new Error(`service ${name}: environment ${e} takes its value from the host; give it here`);
        environment[e.slice(0, i)] = e.slice(i + 1);
      }
    } else if (isMap(raw.environment)) {
      for (const [k, v] of Object.entries(raw.environment)) {
        if (v === null || typeof v === 'object') throw new Error(`service ${name}: environment ${k} has no value`);
        environment[k] = String(v);
      }
    }
    const ports = ((raw.ports ?? []) as unknown[]).map((p) => {
      const m = typeof p === 'string' ? /^(?:[\d.]+:)?(\d+):(\d+)(?:\/tcp)?$/.exec(p) : null;
      if (!m) throw new Error(`service ${name}: port ${JSON.stringify(p)} is not "HOST:CONTAINER"`);
      return { host: Number(m[1]), container: Number(m[2]) };
    });
    const volumes = ((raw.volumes ?? []) as unknown[]).map((v) => {
      const m = typeof v === 'string' ? /^([^:]+):([^:]+)(?::\w+)?$/.exec(v) : null;
      if (!m) throw new Error(`service ${name}: volume ${JSON.stringify(v)} is not "SOURCE:TARGET"`);
      return { source: m[1]!, target: m[2]! };
    });
    return {
      name,
      raw,
      environment,
      entrypoint: stringList(`service ${name}: entrypoint`, raw.entrypoint),
      command: stringList(`service ${name}: command`, raw.command),
      ports,
      volumes,
      healthcheck: isMap(raw.healthcheck) ? raw.healthcheck : null,
    };
  });
  return { services, volumes: isMap(doc.volumes) ? Object.keys(doc.volumes) : [], doc };
}

/** The environment a service's container sees from ZooGate's point of view: the image's ENV, then the service's. */
export function containerEnv(image: Image, service: Service): Record<string, string> {
  return { ...image.env, ...service.environment };
}

/** The command a service's container runs: its entrypoint (or the image's) and its command (or the image's CMD). */
export function containerCommand(image: Image, service: Service): string[] {
  const entrypoint = service.entrypoint ?? image.entrypoint;
  const cmd = service.command ?? (service.entrypoint !== null ? [] : image.cmd);
  return [...entrypoint, ...cmd];
}

/** `1=zoogate1:2888,...` as entries. */
export function parsePeerList(raw: string): { id: number; host: string; port: number }[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((e) => {
    const m = /^(\d+)=([^:]+):(\d+)$/.exec(e);
    if (!m) throw new Error(`ZOOGATE_PEERS entry ${JSON.stringify(e)} is not id=host:port`);
    return { id: Number(m[1]), host: m[2]!, port: Number(m[3]) };
  });
}

// ---------------------------------------------------------------- what the image must contain

/**
 * Files the server loads, followed from `entry` through relative imports (and
 * `new URL('…', import.meta.url)`), and the packages it imports by name. Type-only
 * imports are left out: they are erased before running.
 */
export function runtimeClosure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [join(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    const rel = relative(ROOT, file);
    if (files.has(rel)) continue;
    files.add(rel);
    if (!/\.(ts|mts|js|mjs)$/.test(file)) continue;
    const src = readFileSync(file, 'utf8');
    const specs: string[] = [];
    for (const m of src.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s*)?'([^']+)'/gm)) if (!m[1]) specs.push(m[2]!);
    for (const m of src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) specs.push(m[1]!);
    for (const m of src.matchAll(/new URL\(\s*'(\.[^']+)'\s*,\s*import\.meta\.url\s*\)/g)) specs.push(m[1]!);
    for (const s of specs) {
      if (s.startsWith('.')) todo.push(join(dirname(file), s));
      else if (!s.startsWith('node:')) packages.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!);
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}
