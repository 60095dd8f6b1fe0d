/** The entry point of the client commands (bin/zoogate.mjs imports it for everything but `server` and `cluster`). */
import { main } from './run.ts';

await main(process.argv.slice(2));
