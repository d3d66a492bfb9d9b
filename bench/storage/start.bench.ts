// Question: what does the embedded store cost a fresh `npm start`: idle RSS of the server
// process, and the time from spawning it to the first `readyz` 200, on a fresh and on an existing
// DATA_DIR? Side by side with STORE=memory (and PostgreSQL when DATABASE_URL is set), in one run.
//
// Targets (issue 11): idle RSS <= 150 MiB on a fresh DATA_DIR; start to readyz <= 1 s on an
// existing one (server process only: the build step of `npm start` apart, so this runs the built
// dist/main.js and builds it first).
//
//   node --import tsx bench/storage/start.bench.ts         BENCH_ROUNDS=2 (median of rounds)
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { formatTable, machine, type Row } from '../events/report.js';
import { processRss } from '../support/proc.js';
import { shippedNodeFlags } from '../load/server-process.js';
import { freePort } from '../../test/support/net.js';

// Two rounds by default keep the file inside the bench runner's 90 s per-file limit.
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const DATABASE_URL = process.env['DATABASE_URL'];
const root = fileURLToPath(new URL('../..', import.meta.url));
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Start {
  readonly readyMs: number;
  readonly idleRss: number;
  readonly peakRss: number;
}

function peak(pid: number | undefined): number {
  try {
    const status = execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Spawns dist/main.js with `npm start`'s Node flags, polls readyz until 200, waits for the process to settle, reads RSS, stops it. */
async function startOnce(env: Record<string, string>): Promise<Start> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...shippedNodeFlags(), join(root, 'dist/main.js')], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', JWT_SECRET: 'start-bench-secret-start-bench-secret-0123456789' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  let readyMs = Number.NaN;
  for (let i = 0; i < 3000; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/chatbox/readyz`);
      if (res.status === 200) {
        readyMs = performance.now() - t0;
        break;
      }
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    await sleep(5);
  }
  // Idle: let start-up garbage be collected and the heap settle.
  await sleep(3000);
  const idleRss = processRss(child.pid);
  const peakRss = peak(child.pid);
  child.kill('SIGTERM');
  await exited;
  return { readyMs, idleRss, peakRss };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

interface Case {
  readonly name: string;
  readonly env: (dataDir: string) => Record<string, string>;
}

async function main(): Promise<void> {
  process.stdout.write(`${machine()}\nbuilding dist/ (npm run build)...\n`);
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  const cases: Case[] = [
    { name: 'sqlite', env: (d) => ({ STORE: 'sqlite', DATA_DIR: d, DATABASE_URL: '' }) },
    { name: 'memory', env: (d) => ({ STORE: 'memory', DATA_DIR: d, DATABASE_URL: '' }) },
  ];
  const schema = `chatbox_start_${process.pid}_${randomUUID().slice(0, 6)}`;
  const admin = DATABASE_URL === undefined ? undefined : new pg.Client({ connectionString: DATABASE_URL });
  if (admin !== undefined && DATABASE_URL !== undefined) {
    // A schema of its own (search_path in the URL), dropped at the end.
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    cases.push({ name: 'postgres', env: (d) => ({ STORE: 'postgres', DATA_DIR: d, DATABASE_URL: url.toString() }) });
  }
  const results = new Map<string, { fresh: Start[]; existing: Start[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, so a burst of load from elsewhere hits every case alike.
    for (const c of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'chatbox-start-bench-'));
      try {
        const fresh = await startOnce(c.env(dir));
        const existing = await startOnce(c.env(dir));
        const r = results.get(c.name) ?? { fresh: [], existing: [] };
        r.fresh.push(fresh);
        r.existing.push(existing);
        results.set(c.name, r);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  if (admin !== undefined) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
  const memory = results.get('memory');
  const rows: Row[] = [...results].map(([name, r]) => {
    const rss = median(r.fresh.map((s) => s.idleRss));
    return [
      name,
      (rss / MiB).toFixed(1),
      memory === undefined ? '' : `${(rss / median(memory.fresh.map((s) => s.idleRss))).toFixed(2)}x`,
      (median(r.fresh.map((s) => s.peakRss)) / MiB).toFixed(1),
      median(r.fresh.map((s) => s.readyMs)).toFixed(0),
      median(r.existing.map((s) => s.readyMs)).toFixed(0),
      memory === undefined ? '' : `${(median(r.existing.map((s) => s.readyMs)) / median(memory.existing.map((s) => s.readyMs))).toFixed(2)}x`,
    ];
  });
  process.stdout.write(
    `\n${ROUNDS} rounds, medians; node ${[...shippedNodeFlags(), 'dist/main.js'].join(' ')}, idle 3 s after readyz\n\n` +
      formatTable(['store', 'idle RSS MiB (fresh dir)', 'vs memory', 'peak RSS MiB', 'start→readyz ms (fresh)', 'start→readyz ms (existing)', 'vs memory'], rows) +
      '\n\nTargets: sqlite idle RSS <= 150 MiB; start to readyz on an existing DATA_DIR <= 1000 ms.\n',
  );
}

await main();
