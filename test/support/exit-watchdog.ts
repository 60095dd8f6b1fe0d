/**
 * A test file whose tests all finished but whose process does not exit holds
 * CI until its time limit with nothing to show. This arms, after the file's
 * last test, a timer that does not itself keep the process alive: if it fires,
 * something else still does, so it prints what (sockets with their addresses,
 * timers, child processes) and the CPU the process used meanwhile, and exits
 * with a failure.
 */
import { after } from 'node:test';

export function exitWatchdog(graceMs = 30_000): void {
  after(() => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const timer = setTimeout(() => {
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - t0;
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().map(describe);
      process.stderr.write(
        `exit watchdog: the tests ended ${Math.round(wall)} ms ago but the process is still alive, ` +
          `using ${Math.round((100 * (cpu.user + cpu.system)) / 1000 / wall)} % of a core meanwhile.\n` +
          `active resources: ${process.getActiveResourcesInfo().join(', ')}\nhandles:\n  ${handles.join('\n  ')}\n`,
      );
      process.exit(1);
    }, graceMs);
    timer.unref();
  });
}

function describe(h: unknown): string {
  const o = h as { constructor?: { name?: string }; localAddress?: string; localPort?: number; remoteAddress?: string; remotePort?: number; destroyed?: boolean; pid?: number; spawnfile?: string };
  const name = o.constructor?.name ?? typeof h;
  if (name === 'Socket') {
    const fd = (h as { _handle?: { fd?: number } })._handle?.fd;
    const ends = o.remoteAddress === undefined ? 'pipe' : `${o.localAddress}:${o.localPort} -> ${o.remoteAddress}:${o.remotePort}`;
    return `Socket ${ends} fd ${fd}${o.destroyed ? ' (destroyed)' : ''}`;
  }
  if (name === 'Server') return `Server ${JSON.stringify((h as { address(): unknown }).address())}`;
  if (name === 'ChildProcess') return `ChildProcess pid ${o.pid} ${o.spawnfile ?? ''}`;
  return name;
}
