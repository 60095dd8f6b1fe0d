import { pino, type Logger } from 'pino';
import type { ServerConfig } from './config.ts';

export type { Logger };

/** One JSON line per event on stderr (stdout stays free for the CLI's output). */
export function makeLogger(cfg: Pick<ServerConfig, 'logLevel' | 'serverId'>): Logger {
  return pino({ level: cfg.logLevel, base: { server: cfg.serverId } }, pino.destination(2));
}
