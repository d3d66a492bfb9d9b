// Starts bench/ws/server-child.ts and resolves once it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ChildServer {
  readonly child: ChildProcess;
  readonly wsUrl: string;
  readonly port: number;
  /** Resident set size of the server process, from /proc (bytes). */
  rss(): number;
  stop(): Promise<void>;
}

export function spawnServer(env: Record<string, string>): Promise<ChildServer> {
  const script = fileURLToPath(new URL('./server-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.once('exit', (code) => reject(new Error(`bench server exited early with ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      buf += String(d);
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      const { port, wsUrl } = JSON.parse(buf.slice(0, nl)) as { port: number; wsUrl: string };
      child.removeAllListeners('exit');
      resolve({
        child,
        port,
        wsUrl,
        rss() {
          const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
          return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
        },
        stop: () =>
          new Promise((res) => {
            child.once('exit', () => res());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      });
    });
  });
}
