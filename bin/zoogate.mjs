#!/usr/bin/env -S node --max-semi-space-size=64
// The `zoogate` command: runs the TypeScript entry point through tsx, with the
// server's V8 flags (SERVER_NODE_FLAGS in api/config.ts; harmless for a client command).
// `server`, `cluster` and the top-level help are the server's (api/main.ts);
// every other command is a client command (cli/), loaded without the server's
// code so that a one-shot `zoogate get /x` starts quickly.
import { register } from 'tsx/esm/api';

register();
const [cmd, sub] = process.argv.slice(2);
const serverSide =
  cmd === 'server' ||
  (cmd === 'cluster' && sub !== 'status') ||
  ((cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') && sub === undefined);
await import(serverSide ? '../api/main.ts' : '../cli/main.ts');
