// `npm run load -- --capture`: tcpdump records the run's loopback traffic to the server and the
// fake provider, and the report adds the server's share of first-chunk latency read from packet
// times (bench/load/wire.ts) beside the one the clients measured. The difference, per message, is
// what the harness's own event loop added. tcpdump must be installed and allowed to capture
// (root, or CAP_NET_RAW); the copy of each packet for it is made in the sender's send(), so a
// captured run costs the server a little more.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { processCpuMs } from '../support/proc.js';
import type { LoadProvider } from './provider.js';
import { q3, type Turn } from './latency.js';
import { pauseRows, type Pause } from './pauses.js';
import { tailMoments, wireShares, wireTurns } from './wire.js';

export interface Capture {
  /** Stops tcpdump (when the traffic is over). */
  end(): Promise<void>;
  /** Reads the capture (after end()): the report's rows; with the server's `pauses` (--pauses), what the slowest waited for. */
  rows(turns: ReadonlyMap<string, Turn>, timing: LoadProvider['timing'], steadyFrom: number, pauses?: readonly Pause[]): [string, string][];
  /** Stops tcpdump and deletes its file, for a run that failed. */
  kill(): void;
}

/**
 * Starts tcpdump on `lo` for these TCP ports; rejects with what it printed if it cannot. The file
 * is deleted once read unless `keep` (to open it in Wireshark, or read it again with wire.ts).
 */
export function startCapture(file: string, ports: readonly number[], keep = false): Promise<Capture> {
  const filter = ports.map((p) => `tcp port ${p}`).join(' or ');
  // -s 0: whole segments (a request body carries the history); -B: a 64 MiB ring, so bursts are not dropped.
  const child: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-w', file, '-s', '0', '-B', '65536', '-n', '--time-stamp-precision=nano', filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let said = '';
  let cpuMs = 0;
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      child.kill('SIGKILL');
      reject(new Error(`--capture: tcpdump did not start (${why.trim() || 'no output'})`));
    };
    const timer = setTimeout(() => fail(said), 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      fail(e.message);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(`${said} exit ${code}`);
    });
    let started = false;
    child.stderr?.on('data', (d: Buffer) => {
      said += d.toString();
      if (started || !said.includes('listening on')) return;
      started = true;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      // A failed kill() is reported as an 'error' event: not a reason to end the run.
      child.on('error', () => {});
      resolve({
        async end() {
          cpuMs = processCpuMs(child.pid);
          if (child.exitCode !== null || child.signalCode !== null) return;
          // 'close', not 'exit': its last words (the packet counts) are read by then.
          const closed = new Promise<void>((r) => child.once('close', () => r()));
          child.kill('SIGINT');
          await closed;
        },
        rows: (turns, timing, steadyFrom, pauses) => read({ said, cpuMs, file, keep, ports: new Set(ports) }, turns, timing, steadyFrom, pauses),
        kill() {
          child.kill('SIGKILL');
          rmSync(file, { force: true });
        },
      });
    });
  });
}

/** What tcpdump said and used, and where its file is. */
interface Recorded {
  readonly said: string;
  readonly cpuMs: number;
  readonly file: string;
  readonly keep: boolean;
  readonly ports: ReadonlySet<number>;
}

function read(
  { said, cpuMs, file, keep, ports }: Recorded,
  clientTurns: ReadonlyMap<string, Turn>,
  timing: LoadProvider['timing'],
  steadyFrom: number,
  pauses: readonly Pause[] | undefined,
): [string, string][] {
  const counts = /(\d+) packets captured[\s\S]*?(\d+) packets dropped by kernel/.exec(said);
  const captured = Buffer.from(readFileSync(file));
  if (!keep) rmSync(file, { force: true });
  const wire = wireTurns(captured, ports);
  const shares = wireShares(wire);
  // The clients stamp with performance.now(); the capture with the wall clock.
  const origin = performance.timeOrigin;
  const steady = shares.filter((s) => s.userAt >= origin + steadyFrom);
  const harnessPart: number[] = [];
  const opening: number[] = [];
  const continuing: number[] = [];
  for (const s of shares) {
    const client = clientTurns.get(s.content);
    if (client !== undefined) (client.opensSession ? opening : continuing).push(s.in + s.out);
    const at = timing(s.content);
    if (client === undefined || at === undefined) continue;
    harnessPart.push(client.firstAt - client.sentAt - (at.firstChunkAt - at.receivedAt) - (s.in + s.out));
  }
  return [
    [`server share on the wire (packet times: no harness loop in them), ${shares.length} single-attempt replies (ms)`, q3(shares.map((s) => s.in + s.out))],
    ["  of which: client's frame -> server's provider request (ms)", q3(shares.map((s) => s.in))],
    ["  of which: provider's first token -> server's first reply frame (ms)", q3(shares.map((s) => s.out))],
    // A session's first message also creates it (its row, written beside it, and the connection storm it falls in).
    [`  messages that open a session / continue one (${opening.length} / ${continuing.length})`, `${q3(opening)}  /  ${q3(continuing)}`],
    [`  messages sent after warm-up (${steady.length})`, q3(steady.map((s) => s.in + s.out))],
    // A tail made of a few moments (a GC, a core taken by another process) reads differently from a spread one.
    [
      '    those at or above that p99: n / in how many of the quarter-seconds they span',
      (({ slow, moments, span }) => `${slow} / ${moments} of ${span}`)(tailMoments(steady)),
    ],
    ...(pauses === undefined ? [] : pauseRows(wire.values(), pauses)),
    [`  the clients' figure minus the wire's, per message (${harnessPart.length}): the harness's own part (ms)`, q3(harnessPart)],
    [
      'capture: tcpdump CPU; packets captured / dropped by the kernel; bytes',
      `${(cpuMs / 1000).toFixed(1)} s; ${counts?.[1] ?? '?'} / ${counts?.[2] ?? '?'}; ${(captured.length / 2 ** 20).toFixed(0)} MiB`,
    ],
  ];
}
