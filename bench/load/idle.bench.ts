// What a replica costs when nothing happens: the real server (src/main.ts, memory store) idle,
// idle with a scrape every second, connecting USERS sockets, then holding them idle, at the
// event-loop-lag sampler's default 10 ms and at 100 ms (EVENT_LOOP_LAG_RESOLUTION_MS), alternating
// round after round. The server's CPU (all threads, from /proc) and its main thread's voluntary
// context switches (each one a sleep of the event loop, so a wake-up) per phase.
// `node --import tsx bench/load/idle.bench.ts` (defaults fit `npm run bench`'s 90 s per file; the
// figures in bench/README.md used BENCH_PHASE_S=15 BENCH_ROUNDS=2, BENCH_USERS defaults to 300).
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { mainThreadWakeups } from '../support/proc.js';
import { startServerProcess } from './server-process.js';

const SECRET = 'idle-bench-secret-idle-bench-secret-0123';
const PHASE_S = Number(process.env['BENCH_PHASE_S'] ?? 6);
const USERS = Number(process.env['BENCH_USERS'] ?? 300);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 1);
const RESOLUTIONS = [10, 100] as const;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Phase {
  readonly name: string;
  /** % of one core over the phase, or CPU seconds for a phase measured by its work (unit 's'). */
  readonly cpu: number;
  readonly unit: '%' | 's';
  readonly wakesPerS?: number;
}

async function round(resolutionMs: number): Promise<Phase[]> {
  const srv = await startServerProcess({
    JWT_SECRET: SECRET,
    STORE: 'memory',
    EVENT_LOOP_LAG_RESOLUTION_MS: String(resolutionMs),
    UPGRADE_RATE_LIMIT_PER_MINUTE: '1000000',
    HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
  });
  const pid = srv.child.pid;
  const phases: Phase[] = [];
  const phase = async (name: string, during: () => Promise<void>): Promise<void> => {
    const c0 = srv.cpuSeconds();
    const w0 = mainThreadWakeups(pid);
    const t0 = performance.now();
    await during();
    const wall = (performance.now() - t0) / 1000;
    phases.push({ name, cpu: ((srv.cpuSeconds() - c0) / wall) * 100, unit: '%', wakesPerS: (mainThreadWakeups(pid) - w0) / wall });
  };
  const scraping = async (): Promise<void> => {
    for (let i = 0; i < PHASE_S; i++) {
      await (await fetch(`${srv.url}/metrics`)).text();
      await sleep(1000);
    }
  };
  const sockets: WebSocket[] = [];
  try {
    await sleep(3000); // start-up's JIT and GC settle
    await phase('idle, just after start', () => sleep(PHASE_S * 1000));
    await phase('idle, scraped every second', scraping);
    const key = new TextEncoder().encode(SECRET);
    const c0 = srv.cpuSeconds();
    for (let i = 0; i < USERS; i++) {
      const token = await new SignJWT({ user_id: `idle-${i}`, roles: ['user'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
      const ws = new WebSocket(`${srv.wsUrl}?token=${token}`);
      await new Promise((resolve, reject) => {
        ws.once('message', resolve); // connection_status
        ws.once('error', reject);
      });
      sockets.push(ws);
    }
    phases.push({ name: `connecting ${USERS} sockets`, cpu: srv.cpuSeconds() - c0, unit: 's' });
    await phase(`${USERS} sockets idle`, () => sleep(PHASE_S * 1000));
    await phase(`${USERS} sockets idle, scraped every second`, scraping);
    return phases;
  } finally {
    for (const ws of sockets) ws.terminate();
    await srv.stop(5000);
  }
}

const results = new Map<number, Phase[][]>();
for (let r = 0; r < ROUNDS; r++) for (const res of RESOLUTIONS) results.set(res, [...(results.get(res) ?? []), await round(res)]);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`${PHASE_S} s per phase, median of ${ROUNDS} alternating rounds; server CPU as % of one core (all threads), main-thread wake-ups per second`);
console.log(`${'phase'.padEnd(42)} ${RESOLUTIONS.map((r) => `lag sampler ${r} ms`.padStart(26)).join('')}   ratio`);
const names = (results.get(RESOLUTIONS[0])?.[0] ?? []).map((p) => p.name);
names.forEach((name, i) => {
  const cells = RESOLUTIONS.map((res) => {
    const ps = (results.get(res) ?? []).map((run) => run[i] as Phase);
    const cpu = median(ps.map((p) => p.cpu));
    if (ps[0]?.unit === 's') return { cpu, text: `${cpu.toFixed(2)} s` };
    return { cpu, text: `${cpu.toFixed(2)} % / ${median(ps.map((p) => p.wakesPerS ?? 0)).toFixed(0)}/s` };
  });
  // /proc counts CPU in 10 ms ticks: a short phase can read 0.
  const [a, b] = [cells[0]?.cpu ?? 0, cells[1]?.cpu ?? 0];
  console.log(`${name.padEnd(42)} ${cells.map((c) => c.text.padStart(26)).join('')}   ${b > 0 ? `${(a / b).toFixed(2)}x` : '-'}`);
});
