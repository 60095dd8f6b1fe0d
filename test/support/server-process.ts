import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly stderr: () => string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Starts `zoogate server` as a real process; resolves once it logs that it serves (its port from the log). */
export function spawnServer(args: string[], timeoutMs = 20_000): Promise<ServerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts', 'server', '--host', '127.0.0.1', '--log-level', 'info', ...args], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`server did not start in ${timeoutMs} ms:\n${err}`)); }, timeoutMs);
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err += d;
      const m = /"port":(\d+),[^\n]*"msg":"serving"/.exec(err);
      if (m) {
        clearTimeout(timer);
        const port = Number(m[1]);
        resolve({ proc, port, url: `http://127.0.0.1:${port}`, stderr: () => err, exited });
      }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code} before serving:\n${err}`)); });
  });
}

export async function killHard(s: ServerProcess): Promise<void> {
  s.proc.kill('SIGKILL');
  await s.exited;
}
