// docker-compose.yml is a file Compose itself accepts: `docker-compose config`
// (Debian's docker-compose package, which .ci/run installs) parses, validates and
// interpolates it without a Docker engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './deploy-files.ts';

const CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false' && process.env.CI !== '0';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** The environment without ZOOGATE_SECRET (to see the file's default) and without Compose's own settings. */
function composeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (extra.ZOOGATE_SECRET === undefined) delete env.ZOOGATE_SECRET;
  for (const k of Object.keys(env)) if (k.startsWith('COMPOSE_')) delete env[k];
  return env;
}

const installed = run('docker-compose', ['version']);
const missing = installed.error !== undefined || installed.status !== 0;

test('docker-compose -f docker-compose.yml config accepts the stack', { timeout: 120_000 }, (t) => {
  if (missing) {
    const why = `the docker-compose binary is not available (${installed.error?.message ?? installed.stderr.trim()})`;
    if (CI) assert.fail(`${why}: CI must install Debian's docker-compose package (.ci/run: apt-get install -y docker-compose)`);
    t.skip(`${why}; apt-get install -y docker-compose to run this check`);
    return;
  }
  const r = run('docker-compose', ['-f', 'docker-compose.yml', 'config'], composeEnv());
  assert.equal(r.status, 0, `docker-compose config failed (exit ${r.status}):\n${r.stderr}`);

  // what Compose made of it: three services, each with its own volume and client port
  const cfg = parseYaml(r.stdout) as {
    services: Record<string, { environment: Record<string, string>; ports: { published: number | string; target: number | string }[]; volumes: string[] }>;
    volumes: Record<string, unknown>;
  };
  assert.deepEqual(Object.keys(cfg.services).sort(), ['zoogate1', 'zoogate2', 'zoogate3']);
  assert.deepEqual(Object.keys(cfg.volumes).sort(), ['zoogate1-data', 'zoogate2-data', 'zoogate3-data']);
  for (const [i, name] of ['zoogate1', 'zoogate2', 'zoogate3'].entries()) {
    const s = cfg.services[name]!;
    assert.equal(s.environment.ZOOGATE_ID, String(i + 1), name);
    assert.equal(s.environment.ZOOGATE_PEERS, '1=zoogate1:2888,2=zoogate2:2888,3=zoogate3:2888', name);
    assert.ok(s.environment.ZOOGATE_SECRET, `${name}: a default secret when ZOOGATE_SECRET is unset`);
    assert.deepEqual(s.ports.map((p) => [Number(p.published), Number(p.target)]), [[8181 + i, 8181]], name);
    assert.ok(s.volumes.some((v) => v.startsWith(`${name}-data:/data`)), `${name}: volumes ${s.volumes.join(', ')}`);
  }

  // the secret is taken from the environment when it is set
  const withSecret = run('docker-compose', ['-f', 'docker-compose.yml', 'config'], composeEnv({ ZOOGATE_SECRET: 'from-the-environment-42' }));
  assert.equal(withSecret.status, 0, withSecret.stderr);
  const cfg2 = parseYaml(withSecret.stdout) as { services: Record<string, { environment: Record<string, string> }> };
  for (const s of Object.values(cfg2.services)) assert.equal(s.environment.ZOOGATE_SECRET, 'from-the-environment-42');
});

test('docker compose (v2 plugin) config accepts the stack, where the plugin is installed', { timeout: 120_000 }, (t) => {
  const v = run('docker', ['compose', 'version']);
  if (v.error !== undefined || v.status !== 0) {
    t.skip('no docker compose plugin here (the docker-compose test above covers the file)');
    return;
  }
  const r = run('docker', ['compose', '-f', 'docker-compose.yml', 'config', '--quiet'], composeEnv());
  assert.equal(r.status, 0, `docker compose config failed (exit ${r.status}):\n${r.stderr}`);
});
