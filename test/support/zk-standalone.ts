/**
 * A real ZooKeeper 3.8 standalone server (Debian's package) in a child JVM,
 * for differential tests: fresh temp dataDir, a free loopback port, and
 * bounded polling until it answers `ruok` and `srvr` reports it serving. CI needs the Debian package
 * `zookeeper` (it pulls in a JRE); without it `startZkStandalone` throws with
 * a message saying so, so the test fails instead of skipping.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ZK_JAR = '/usr/share/java/zookeeper.jar';
const CLASSPATH = ['/etc/zookeeper/conf', ZK_JAR, '/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'].join(':');
const MAIN_CLASS = 'org.apache.zookeeper.server.ZooKeeperServerMain';

export interface ZkStandaloneOptions {
  /** Extra -D system properties. */
  readonly systemProperties?: Readonly<Record<string, string>>;
  /** How long to wait for `ruok` to answer `imok`. */
  readonly startTimeoutMs?: number;
}

export interface ZkStandalone {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly pid: number;
  /** The last lines the JVM printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** The java binary; throws with install instructions when it or the ZooKeeper jar is missing. */
export function requireZooKeeperInstalled(): string {
  const candidates = [process.env.JAVA, process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : undefined, '/usr/bin/java'];
  const java = candidates.find((p): p is string => p !== undefined && existsSync(p));
  const missing: string[] = [];
  if (!existsSync(ZK_JAR)) missing.push(ZK_JAR);
  if (java === undefined) missing.push('a java binary (/usr/bin/java)');
  if (missing.length > 0) {
    throw new Error(
      `ZooKeeper 3.8 is not installed (missing: ${missing.join(', ')}). ` +
        'The differential conformance test runs against a real ZooKeeper: install it with ' +
        '`apt-get install zookeeper` (the Debian package, which pulls in a JRE).',
    );
  }
  return java!;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Sends a four-letter word and returns the whole answer ('' on any error). */
export function fourLetterWord(host: string, port: number, cmd: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = connect({ host, port });
    const done = (s: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(s);
    };
    const timer = setTimeout(() => done(''), timeoutMs);
    sock.on('connect', () => sock.write(cmd));
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    sock.on('error', () => done(''));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startZkStandalone(opts: ZkStandaloneOptions = {}): Promise<ZkStandalone> {
  const java = requireZooKeeperInstalled();
  const host = '127.0.0.1';
  let lastError: Error | null = null;
  // A free port found by binding port 0 can be taken before the JVM binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort(host);
    try {
      return await launch(java, host, port, opts);
    } catch (e) {
      lastError = e as Error;
    }
  }
  throw lastError!;
}

async function launch(java: string, host: string, port: number, opts: ZkStandaloneOptions): Promise<ZkStandalone> {
  const base = mkdtempSync(join(tmpdir(), 'zg-zk-'));
  const dataDir = join(base, 'data');
  const logDir = join(base, 'log');
  mkdirSync(dataDir);
  mkdirSync(logDir);
  const cfgPath = join(base, 'zoo.cfg');
  writeFileSync(
    cfgPath,
    [
      'tickTime=2000',
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      `clientPortAddress=${host}`,
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr,stat',
      // Tests, not durability: no fsync per transaction.
      'forceSync=no',
      '',
    ].join('\n'),
  );
  const props: Record<string, string> = {
    'zookeeper.log.dir': logDir,
    'zookeeper.root.logger': 'WARN,CONSOLE',
    'zookeeper.admin.enableServer': 'false',
    ...opts.systemProperties,
  };
  const args = [
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1', // faster start-up; this server handles a few thousand requests
    ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
    '-cp', CLASSPATH,
    MAIN_CLASS,
    cfgPath,
  ];
  const child: ChildProcess = spawn(java, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => {
    out += c.toString('utf8');
    if (out.length > 64 * 1024) out = out.slice(-32 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  // If the test process dies without stopping us, do not leave a JVM behind.
  const onExit = () => {
    if (exited === null) child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          if (exited === null) child.kill('SIGKILL');
        }, 5000);
        await exitPromise;
        clearTimeout(timer);
      }
      process.off('exit', onExit);
      rmSync(base, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  while (true) {
    if (exited !== null) {
      const e = exited as { code: number | null; signal: NodeJS.Signals | null };
      await stop();
      throw new Error(`ZooKeeper exited during start-up (code ${e.code}, signal ${e.signal}):\n${out.slice(-4000)}`);
    }
    // `ruok` answers imok as soon as the port is open; `srvr` shows a Mode only once requests are served.
    if ((await fourLetterWord(host, port, 'ruok', 500)) === 'imok' && /^Mode: standalone$/m.test(await fourLetterWord(host, port, 'srvr', 500))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`ZooKeeper did not answer ruok on ${host}:${port} (and serve) within ${opts.startTimeoutMs ?? 30_000} ms:\n${out.slice(-4000)}`);
    }
    await sleep(50);
  }
  return { host, port, dataDir, pid: child.pid!, output: () => out, stop };
}
