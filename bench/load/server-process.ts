// Runs the real server (src/main.ts, the composition root a deployment runs) as a child process
// and finds its port from its start-up log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { processCpuMs, processRss, reniceThreads } from '../support/proc.js';
import { cpuProfileArgs } from '../support/profile.js';

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly wsUrl: string;
  /** Lines the server logged (JSON), for the report. */
  readonly logs: string[];
  rss(): number;
  /** CPU seconds the server process has used so far (user + system, every thread). */
  cpuSeconds(): number;
  /** SIGTERM, then wait for the exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

/**
 * The Node flags `npm start` runs the server with (package.json's `start`: `npm run build && node
 * <flags> dist/main.js`; the Dockerfile's CMD is held to the same by test/deploy), so that what
 * the harness measures is what ships.
 */
export function shippedNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  const run = pkg.scripts.start.split('&&').at(-1)?.trim().split(/\s+/) ?? [];
  if (run[0] !== 'node' || run.at(-1) !== 'dist/main.js') throw new Error(`package.json start should end in "node [flags] dist/main.js", not ${JSON.stringify(pkg.scripts.start)}`);
  return run.slice(1, -1);
}

// 60 s: on the shared two-core machine, tsx compiling the sources can take half a minute under load.
/** `nodeFlags` come after the shipped flags and before LOAD_SERVER_NODE_FLAGS. */
export function startServerProcess(env: Record<string, string>, timeoutMs = 60_000, nodeFlags: readonly string[] = []): Promise<ServerProcess> {
  // LOAD_SERVER_BUILT=1 runs dist/main.js (what `npm start` runs; `npm run build` first) instead
  // of the sources through tsx, so profiles show the shipped code's own lines.
  const built = process.env['LOAD_SERVER_BUILT'] === '1';
  const main = fileURLToPath(new URL(built ? '../../dist/main.js' : '../../src/main.ts', import.meta.url));
  // LOAD_PROFILE_DIR=dir writes a V8 CPU profile of the server; LOAD_SERVER_NODE_FLAGS adds Node
  // or V8 flags to the server alone (NODE_OPTIONS would reach the harness too), e.g. --trace-gc
  // with LOAD_SERVER_LOG=file, which keeps every line the server printed. They come after the
  // shipped flags, so `--max-semi-space-size=16` there measures the server without ours.
  const flags = [...shippedNodeFlags(), ...nodeFlags, ...(process.env['LOAD_SERVER_NODE_FLAGS'] ?? '').split(/\s+/).filter((f) => f !== '')];
  const keep = process.env['LOAD_SERVER_LOG'];
  // LOAD_SERVER_NICE=-10 gives the server's threads CPU before the harness's and the database's
  // (bench/README, issue 16, seventh part): what its share is when it is not kept waiting for a core.
  const niceSetting = process.env['LOAD_SERVER_NICE'];
  const nice = niceSetting === undefined || niceSetting === '' ? undefined : Number(niceSetting);
  if (nice !== undefined && !(Number.isInteger(nice) && nice >= -20 && nice <= 19)) {
    return Promise.reject(new Error(`LOAD_SERVER_NICE must be a whole number from -20 to 19, not ${JSON.stringify(niceSetting)}`));
  }
  const child = spawn(process.execPath, [...cpuProfileArgs('LOAD_PROFILE_DIR'), ...flags, ...(built ? [] : ['--import', 'tsx']), main], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${logs.join('\n')}`));
    }, timeoutMs);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${logs.join('\n')}`));
    });
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += String(d);
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() === '') continue;
        logs.push(line);
        if (keep !== undefined && keep !== '') appendFileSync(keep, `${line}\n`);
        if (logs.length > 5000) logs.splice(0, logs.length - 5000);
        let entry: { url?: string; websocket?: string; msg?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if (entry.msg?.startsWith('chatbox listening') === true && entry.url !== undefined && entry.websocket !== undefined) {
          clearTimeout(timer);
          if (nice !== undefined) {
            try {
              reniceThreads(child.pid as number, nice);
            } catch (error) {
              child.kill('SIGKILL');
              reject(new Error(`LOAD_SERVER_NICE=${nice}: ${(error as Error).message} (below 0 needs root)`));
              return;
            }
          }
          const { url, websocket } = entry;
          resolve({
            child,
            url,
            wsUrl: websocket,
            logs,
            exited,
            cpuSeconds: () => processCpuMs(child.pid) / 1000,
            rss: () => processRss(child.pid),
            stop(graceMs = 15_000) {
              if (child.exitCode !== null) return exited;
              child.kill('SIGTERM');
              const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
              return exited.finally(() => clearTimeout(kill));
            },
          });
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => logs.push(String(d).trimEnd()));
  });
}
