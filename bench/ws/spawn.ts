// Starts bench/ws/server-child.ts and resolves once it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { processCpuMs, processRss } from '../support/proc.js';
import { cpuProfileArgs } from '../support/profile.js';

export interface ChildServer {
  readonly child: ChildProcess;
  readonly wsUrl: string;
  readonly port: number;
  /** Resident set size of the server process, from /proc (bytes). */
  rss(): number;
  /** CPU time the server process has used so far (user + system, ms), from /proc. */
  cpuMs(): number;
  /** Garbage-collects the server, then reads its memory (needs the child's --expose-gc). */
  memory(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number }>;
  stop(): Promise<void>;
}

/** Starts `script` (beside this file: the chat server, or echo-child.ts for the baselines). */
export function spawnServer(env: Record<string, string>, script = fileURLToPath(new URL('./server-child.ts', import.meta.url))): Promise<ChildServer> {
  // BENCH_PROFILE_DIR=dir writes a V8 CPU profile of each server child.
  const child = spawn(process.execPath, [...cpuProfileArgs('BENCH_PROFILE_DIR'), '--expose-gc', '--import', 'tsx', script], {
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
      buf = buf.slice(nl + 1);
      child.removeAllListeners('exit');
      child.stdout?.removeAllListeners('data');
      const waiting: ((m: { rss: number; heapUsed: number; external: number; arrayBuffers: number }) => void)[] = [];
      child.stdout?.on('data', (more: Buffer) => {
        buf += String(more);
        let i: number;
        while ((i = buf.indexOf('\n')) !== -1) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            const msg = JSON.parse(line) as { memory?: { rss: number; heapUsed: number; external: number; arrayBuffers: number } };
            if (msg.memory !== undefined) waiting.shift()?.(msg.memory);
          } catch {
            // not ours
          }
        }
      });
      resolve({
        child,
        port,
        wsUrl,
        cpuMs: () => processCpuMs(child.pid),
        rss: () => processRss(child.pid),
        memory: () =>
          new Promise((res) => {
            waiting.push(res);
            child.kill('SIGUSR2');
          }),
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
