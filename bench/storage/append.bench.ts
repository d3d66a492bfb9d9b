// Question: how many appends per second do the SQL stores take while 1,000 sessions append at
// once (each session awaits its previous append, as a conversation does), and how much does that
// add to the event loop's delay? Batched (group commit, the default) against unbatched (one
// statement per append), with the in-memory store and an idle loop as baselines.
//
// Targets (issue 5): PostgreSQL >= 5,000 appends/s; neither store adds > 10 ms p99 loop delay.
// Issue 11: SQLite (synchronous=FULL) >= PostgreSQL's appends/s with added loop p99 < 10 ms. The
// main-thread rows decide where SQLite runs; the NORMAL rows show what FULL's fsync costs.
// PostgreSQL runs only when DATABASE_URL is set (a throwaway schema, dropped afterwards).
// Knobs: BENCH_SESSIONS (1000), BENCH_SECONDS (3 per case), BENCH_BATCH_ROWS (store default 500).
// On a 2-core machine with PostgreSQL local, the loop delay includes CPU the server takes from
// the Node process; the main thread itself is idle most of the run.
//
//   node --import tsx bench/storage/append.bench.ts
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/storage/append.bench.ts
import { measure } from 'mitata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { createMemoryStore } from '../../src/storage/memory-store.js';
import type { OutcomeStore } from '../../src/storage/options.js';
import type { SqlDriver } from '../../src/storage/sql/driver.js';
import { createPgDriver } from '../../src/storage/sql/pg-driver.js';
import { createSqliteDriver } from '../../src/storage/sql/sqlite-driver.js';
import { createSqlStore } from '../../src/storage/sql/sql-store.js';
import { formatTable, machine, type Row } from '../events/report.js';

const SESSIONS = Number(process.env['BENCH_SESSIONS'] ?? 1000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const DATABASE_URL = process.env['DATABASE_URL'];
const ROWS = process.env['BENCH_BATCH_ROWS'] === undefined ? {} : { maxBatchRows: Number(process.env['BENCH_BATCH_ROWS']) };
const CONTENT = 'How do I reset my password? I tried the link in the email but it says it expired.';

interface Result {
  readonly name: string;
  readonly appendsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly singleAppendUs: number;
}

const ms = (ns: number): number => ns / 1e6;
const fmt = (n: number, digits = 1): string => n.toFixed(digits);

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** p99 of the loop delay over `seconds` with nothing running: what the machine adds by itself. */
async function idleLoop(seconds: number): Promise<{ p99: number; max: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  h.disable();
  return { p99: ms(h.percentile(99)), max: ms(h.max) };
}

async function run(name: string, store: OutcomeStore): Promise<Result> {
  await store.init();
  // Single-append round trip on an idle store (mitata, bounded).
  const solo = await store.createSession({ userId: 'solo', modelId: 'm' });
  const single = await measure(async () => {
    await store.appendMessage(solo.id, { sender: 'user', content: CONTENT });
  }, { min_samples: 20, max_samples: 400, min_cpu_time: 300e6 });

  const sessions = await Promise.all(
    Array.from({ length: SESSIONS }, (_, i) => store.createSession({ id: `b${i}-${randomUUID().slice(0, 8)}`, userId: `u${i % 97}`, modelId: 'm' })),
  );
  const latencies = new Float64Array(2_000_000);
  let count = 0;
  let recording = false;
  let stopAt = performance.now() + 500; // warm-up first
  const loop = async (id: string): Promise<void> => {
    for (let i = 0; i < 1_000_000 && performance.now() < stopAt; i++) {
      const t0 = performance.now();
      await store.appendMessage(id, { sender: i % 2 === 0 ? 'user' : 'ai', content: CONTENT, outputTokens: 12 });
      if (recording && count < latencies.length) latencies[count++] = performance.now() - t0;
    }
  };
  await Promise.all(sessions.map((s) => loop(s.id)));

  const h = monitorEventLoopDelay({ resolution: 1 });
  recording = true;
  count = 0;
  const t0 = performance.now();
  stopAt = t0 + SECONDS * 1000;
  h.enable();
  await Promise.all(sessions.map((s) => loop(s.id)));
  h.disable();
  const elapsed = (performance.now() - t0) / 1000;
  const sorted = latencies.slice(0, count).sort();
  await store.close();
  return {
    name,
    appendsPerSecond: count / elapsed,
    latencyP50Ms: percentile(sorted, 0.5),
    latencyP99Ms: percentile(sorted, 0.99),
    loopP99Ms: ms(h.percentile(99)),
    loopMaxMs: ms(h.max),
    singleAppendUs: single.p50 / 1000,
  };
}

/** A driver whose close() is deferred, so two cases can share one database. */
const keepOpen = (driver: SqlDriver): SqlDriver => ({ ...driver, close: async () => undefined });

async function main(): Promise<void> {
  process.stdout.write(`${machine()}\n${SESSIONS} sessions appending concurrently, ${SECONDS} s per case\n\n`);
  const idle = await idleLoop(1);
  const results: Result[] = [];
  results.push(await run('memory (baseline)', createMemoryStore({ instanceId: 'bench' })));

  // SQLite: worker thread (the default) against the main thread, synchronous FULL (the default)
  // against NORMAL; each case on a fresh DATA_DIR.
  const sqliteCases = [
    { tag: 'sqlite', thread: 'worker', synchronous: 'FULL', unbatched: true },
    { tag: 'sqlite main-thread', thread: 'main', synchronous: 'FULL', unbatched: false },
    { tag: 'sqlite NORMAL', thread: 'worker', synchronous: 'NORMAL', unbatched: false },
    { tag: 'sqlite main-thread NORMAL', thread: 'main', synchronous: 'NORMAL', unbatched: false },
  ] as const;
  for (const c of sqliteCases) {
    const dir = mkdtempSync(join(tmpdir(), 'chatbox-bench-sqlite-'));
    try {
      const sqlite = await createSqliteDriver({ dataDir: dir, synchronous: c.synchronous, thread: c.thread });
      results.push(await run(`${c.tag} batched`, createSqlStore(keepOpen(sqlite), { instanceId: 'bench-1', ...ROWS })));
      if (c.unbatched) results.push(await run(`${c.tag} unbatched`, createSqlStore(keepOpen(sqlite), { instanceId: 'bench-2', batching: false })));
      await sqlite.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  if (DATABASE_URL === undefined) {
    process.stdout.write('PostgreSQL skipped: DATABASE_URL is unset\n');
  } else {
    const schema = `chatbox_bench_${process.pid}`;
    const pg = createPgDriver({ connectionString: DATABASE_URL, schema, maxConnections: 10 });
    try {
      results.push(await run('postgres batched', createSqlStore(keepOpen(pg), { instanceId: 'bench-1', ...ROWS })));
      results.push(await run('postgres unbatched', createSqlStore(keepOpen(pg), { instanceId: 'bench-2', batching: false })));
    } finally {
      await pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pg.close();
    }
  }

  const byName = new Map(results.map((r) => [r.name, r]));
  const rows: Row[] = results.map((r) => {
    const unbatched = r.name.endsWith(' batched') ? byName.get(r.name.replace(' batched', ' unbatched')) : undefined;
    return [
      r.name,
      fmt(r.appendsPerSecond, 0),
      unbatched === undefined ? '' : `${fmt(r.appendsPerSecond / unbatched.appendsPerSecond)}x`,
      fmt(r.latencyP50Ms),
      fmt(r.latencyP99Ms),
      // The memory store resolves in microtasks: the loop (and its delay monitor) never turns.
      r.name.startsWith('memory') ? 'n/a' : fmt(r.loopP99Ms),
      r.name.startsWith('memory') ? 'n/a' : fmt(r.loopP99Ms - idle.p99),
      r.name.startsWith('memory') ? 'n/a' : fmt(r.loopMaxMs),
      fmt(r.singleAppendUs, 0),
    ];
  });
  process.stdout.write(
    '\n' +
      formatTable(
        ['store', 'appends/s', 'vs unbatched', 'append p50 ms', 'append p99 ms', 'loop p99 ms', 'added p99 ms', 'loop max ms', 'solo append µs'],
        rows,
      ) +
      '\n',
  );
  process.stdout.write(
    `\nidle loop: p99 ${fmt(idle.p99)} ms, max ${fmt(idle.max)} ms (monitorEventLoopDelay, 1 ms resolution). ` +
      '"added p99" = loop p99 under load minus idle p99.\n' +
      'Targets: postgres batched >= 5000 appends/s; sqlite batched >= postgres batched; added p99 <= 10 ms for every store.\n',
  );
}

await main();
