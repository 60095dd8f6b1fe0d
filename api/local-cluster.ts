import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, SERVER_NODE_FLAGS } from './config.ts';

const ENTRY = fileURLToPath(new URL('./main.ts', import.meta.url));

/**
 * `zoogate cluster`: a local ensemble of three (or --size) servers on this
 * machine for trying things out: client ports 8181.., peer ports 2888..,
 * data under ./data/cluster/n<id>. Each server is its own process (kill one
 * to see a failover); Ctrl-C stops them all.
 */
export async function runLocalCluster(argv: string[]): Promise<void> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: argv,
      options: {
        size: { type: 'string', default: '3' }, port: { type: 'string', default: '8181' }, 'peer-port': { type: 'string', default: '2888' },
        'data-dir': { type: 'string', default: './data/cluster' }, 'tick-ms': { type: 'string', default: '2000' }, host: { type: 'string', default: '127.0.0.1' },
        secret: { type: 'string' }, 'log-level': { type: 'string', default: 'info' },
      },
      strict: true,
    }).values;
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const size = Number(v.size);
  if (!Number.isInteger(size) || size < 1 || size > 9) throw new ConfigError('--size must be 1 to 9');
  const port = Number(v.port), peerPort = Number(v['peer-port']);
  const host = String(v.host);
  const peers = Array.from({ length: size }, (_, i) => `${i + 1}=${host}:${peerPort + i}`).join(',');
  const secret = (v.secret as string | undefined) ?? randomBytes(16).toString('hex');
  const children: ChildProcess[] = [];
  let stopping = false;
  for (let i = 1; i <= size; i++) {
    const args = [...SERVER_NODE_FLAGS, '--import', 'tsx', ENTRY, 'server', '--id', String(i), '--host', host, '--port', String(port + i - 1), '--peer-port', String(peerPort + i - 1),
      '--peers', peers, '--data-dir', resolve(String(v['data-dir']), `n${i}`), '--tick-ms', String(v['tick-ms']), '--log-level', String(v['log-level'])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, ZOOGATE_SECRET: secret } });
    child.stderr!.setEncoding('utf8');
    let buf = '';
    child.stderr!.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        process.stderr.write(`[${i}] ${buf.slice(0, nl)}\n`);
        buf = buf.slice(nl + 1);
      }
    });
    child.on('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`[${i}] exited (${signal ?? code}); the others keep running\n`);
    });
    children.push(child);
  }
  process.stdout.write(
    `ZooGate ensemble of ${size}: ` + children.map((_, i) => `http://${host}:${port + i}`).join(' ') + '\n' +
    `  try: curl -X POST http://${host}:${port}/znodes/hello -d world && curl http://${host}:${port + size - 1}/znodes/hello\n` +
    `       curl http://${host}:${port}/cluster\n`,
  );
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
}
