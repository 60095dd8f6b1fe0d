import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ServerConfig } from '../../api/config.ts';
import type { RunningServer } from '../../api/app.ts';
import { startServer } from '../../api/start.ts';

export interface TestServer extends RunningServer {
  readonly url: string;
  readonly dataDir: string;
  readonly cfg: ServerConfig;
  /** Stops the server and removes its data dir. */
  destroy(): Promise<void>;
}

/** A real server on a real port and a real SQLite file in a fresh temp dir (small ticks for tests). */
export async function startTestServer(overrides: Partial<ServerConfig> = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'zoogate-test-'));
  const cfg = loadConfig([], {}, {
    host: '127.0.0.1', port: 0, dataDir: dir, logLevel: 'silent',
    tickMs: 100, minSessionTimeoutMs: 200, maxSessionTimeoutMs: 2000, ...overrides,
  });
  const s = await startServer(cfg);
  return {
    ...s,
    close: () => s.close(),
    url: `http://127.0.0.1:${s.port}`,
    dataDir: dir,
    cfg,
    async destroy() {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
