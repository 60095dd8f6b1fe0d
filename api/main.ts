import { ConfigError, configHelp, loadConfig } from './config.ts';
import { makeLogger } from './logger.ts';
import { startServer } from './start.ts';
import { runLocalCluster } from './local-cluster.ts';
import { clientCommandsHelp } from '../cli/specs.ts';

const USAGE = `usage: zoogate <command> [options]

commands:
  server     start one node (standalone unless --peers is given)
  cluster    start a local ensemble of 3 servers (ports 8181-8183, peers 2888-2890,
             data in ./data/cluster); options --size, --port, --peer-port, --data-dir,
             --tick-ms, --host, --secret, --log-level

server options (flag, environment variable):
${configHelp()}

${clientCommandsHelp()}`;

async function runServer(argv: string[]): Promise<void> {
  const cfg = loadConfig(argv, process.env);
  const log = makeLogger(cfg);
  const server = await startServer(cfg, log);
  server.node.onFatal = () => process.exit(70);
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'server':
      return runServer(rest);
    case 'cluster':
      return runLocalCluster(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default: {
      // the client commands (get, set, ls, lock, …); bin/zoogate.mjs sends them to cli/ directly
      const { main: runClient } = await import('../cli/run.ts');
      return runClient(argv);
    }
  }
}

main(process.argv.slice(2)).catch((e) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`zoogate: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`zoogate: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
