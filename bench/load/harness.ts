// The whole-system load run: the real server as a child process, a fake LLM provider with real
// pacing, users who chat, reconnect, open second devices and vanish, admins who take sessions over
// and hand them back, a scraper reading /metrics every second like Prometheus, and at the end a
// reconciliation of every counter against the harness's own tally.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExposition, type Exposition } from '../../test/support/exposition.js';
import { LoadSocket, Tally } from './client.js';
import { mainThreadWakeups } from '../support/proc.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { startLoadProvider, type LoadProvider } from './provider.js';
import { watchHarness } from './harness-self.js';
import { reconcileLlm } from './reconcile-llm.js';
import { reconcileChat } from './reconcile-chat.js';
import { countStored, reconcileStore } from './reconcile-store.js';
import { reportRows, warmUpMs } from './report.js';
import { MAX_MESSAGE_BYTES, mint, newCounts, SECRET, sleep, type RunState } from './run-state.js';
import { idleLoop, userLoop } from './users.js';
import { adminLoop } from './admins.js';
import { startCapture, type Capture } from './capture.js';
import { PAUSE_PROBE, parsePauses } from './pauses.js';

export interface LoadOptions {
  readonly users: number;
  readonly durationS: number;
  readonly faults: boolean;
  /** Mean time between a user's messages. */
  readonly messageIntervalMs: number;
  readonly admins: number;
  /** Extra sockets of users who stay connected and quiet for the whole run. */
  readonly idleSockets?: number;
  /** Fake provider pacing. */
  readonly ttftMs: number;
  readonly chunkMs: number;
  readonly chunks: number;
  /** PostgreSQL instead of the embedded store. */
  readonly databaseUrl?: string;
  readonly store?: 'memory' | 'sqlite' | 'postgres';
  readonly seed?: number;
  /** Record the run's loopback traffic with tcpdump and add the server's share read from packet times. */
  readonly capture?: boolean;
  /** With capture: the server logs its GC pauses and loop gaps (pause-probe.mjs), and the report says which the slowest messages met. */
  readonly pauses?: boolean;
  readonly log?: (line: string) => void;
}

export interface LoadReport {
  readonly rows: [string, string][];
  readonly mismatches: string[];
  readonly ok: boolean;
  /** The server's CPU over the run (every thread) and the user messages it served. */
  readonly cpu?: { readonly seconds: number; readonly userMessages: number };
}

/** Small deterministic PRNG: --seed fixes the random choices (the same run is not repeated exactly: the clients follow the clock and the server's timing). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const random = rng(options.seed ?? 42);
  const dataDir = mkdtempSync(join(tmpdir(), 'chatbox-load-'));
  const tally = new Tally();
  const counts = newCounts();
  const mismatches: string[] = [];
  // Users of this run only: a PostgreSQL database keeps earlier runs' sessions.
  const run = `load-${randomUUID().slice(0, 8)}`;
  const provider: LoadProvider = await startLoadProvider({
    faults: options.faults,
    ttftMs: options.ttftMs,
    chunkMs: options.chunkMs,
    chunks: options.chunks,
    random,
  });
  const store = options.store ?? (options.databaseUrl !== undefined ? 'postgres' : 'sqlite');
  let server: ServerProcess | undefined;
  const scrapes: Exposition[] = [];
  const rssSamples: number[] = [];
  let scraping = true;
  let exitCode: number | null = null;
  let capture: Capture | undefined;
  const pauseLog = options.pauses === true ? join(dataDir, 'pauses.log') : undefined;

  try {
    server = await startServerProcess(
      {
        JWT_SECRET: SECRET,
        DATA_DIR: dataDir,
        STORE: store,
        ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
        MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
        RATE_LIMIT_PER_MINUTE: '600',
        HTTP_RATE_LIMIT_PER_MINUTE: '100000',
        // every simulated user connects from 127.0.0.1: the per-address upgrade limit would refuse them
        UPGRADE_RATE_LIMIT_PER_MINUTE: '1000000',
        INSTANCE_ID: `load-${process.pid}`,
        ...provider.env,
        ...(pauseLog === undefined ? {} : { LOAD_PAUSE_LOG: pauseLog }),
      },
      undefined,
      pauseLog === undefined ? [] : ['--import', PAUSE_PROBE],
    );
    const srv = server;
    if (options.capture === true) {
      const port = (url: string): number => Number(new URL(url).port);
      // LOAD_CAPTURE_FILE keeps the capture there; else it is a temporary file.
      const keep = process.env['LOAD_CAPTURE_FILE'];
      capture = await startCapture(
        keep ?? join(tmpdir(), `chatbox-load-${process.pid}-${Date.now()}.pcap`),
        [port(srv.url), port(provider.env['OPENAI_BASE_URL'] as string)],
        keep !== undefined,
      );
    }
    const rssStart = srv.rss();
    const cpuStart = srv.cpuSeconds();
    const wakeupsStart = mainThreadWakeups(srv.child.pid);
    const wallStart = performance.now();
    // The clients' own loop: its delays and pauses are in every latency they measure, so reported.
    const self = watchHarness();
    const idle = options.idleSockets ?? 0;
    log(
      `load: server on ${srv.url} (store ${store}), ${options.users} users, ${options.admins} admins${idle > 0 ? `, ${idle} idle sockets` : ''}, ${options.durationS}s${options.faults ? ', faults on' : ''}`,
    );

    const scrape = async (): Promise<Exposition> => parseExposition(await (await fetch(`${srv.url}/metrics`)).text());
    const scraper = (async () => {
      while (scraping) {
        try {
          rssSamples.push(srv.rss());
          scrapes.push(await scrape());
        } catch {
          // a failed scrape shows as a gap, like in Prometheus
        }
        await sleep(1000);
      }
    })();

    const deadline = Date.now() + options.durationS * 1000;
    /** Sessions with at least one stored message whose user is connected, free for an admin. */
    const available = new Set<string>();
    const takenOver = new Set<string>();
    const sessionsUsed = new Set<string>();

    const connect = async (token: string, sessionId?: string): Promise<LoadSocket> => {
      const q = new URLSearchParams({ token });
      if (sessionId !== undefined) q.set('session_id', sessionId);
      // A saturated server can miss the 10 s handshake timeout: a browser would try again.
      for (let attempt = 1; ; attempt++) {
        try {
          return await LoadSocket.connect(`${srv.wsUrl}?${q.toString()}`, tally);
        } catch (error) {
          counts.connectFailures++;
          if (attempt === 10) throw error;
          await sleep(1000 * attempt);
        }
      }
    };

    const state: RunState = { options, log, random, tally, counts, mismatches, run, deadline, available, takenOver, sessionsUsed, connect };

    await Promise.all([
      ...Array.from({ length: options.users }, (_, i) => userLoop(state, i)),
      ...Array.from({ length: options.admins }, (_, j) => adminLoop(state, j)),
      ...Array.from({ length: options.idleSockets ?? 0 }, (_, k) => idleLoop(state, k)),
    ]);
    const selfRows = self.stop();
    await capture?.end();

    // Everyone has left: the gauge must come back to 0.
    let final = await scrape();
    for (let k = 0; k < 50 && (final.value('chatbox_websocket_connections_total') ?? -1) !== 0; k++) {
      await sleep(100);
      final = await scrape();
    }
    scraping = false;
    await scraper;
    const rssEnd = srv.rss();
    const cpuUsed = srv.cpuSeconds() - cpuStart;
    const wakeups = mainThreadWakeups(srv.child.pid) - wakeupsStart;
    const wallS = (performance.now() - wallStart) / 1000;

    mismatches.push(...reconcileChat(final, tally, counts, sessionsUsed));
    const v = (name: string, labels?: Record<string, string>) => final.value(name, labels) ?? 0;
    const llm = provider.tally();
    const p = provider.name;
    mismatches.push(
      ...reconcileLlm({
        value: v,
        provider: p,
        tally: llm,
        // Only replies the client did not see whole may hide tokens from the server.
        unseenTokensAtMost: counts.sentContents.reduce((sum, c) => (counts.answeredContents.has(c) ? sum : sum + provider.deliveredTokens(c)), 0),
        faults: options.faults,
        llmUnavailable: counts.llmUnavailable,
      }),
    );

    // The store against what the clients sent.
    const stored = await countStored(srv.url, await mint(`${run}-auditor`, true), `${run}-`);
    mismatches.push(...reconcileStore(stored, { user: counts.userMessages, admin: counts.adminMessages, sessions: sessionsUsed.size }));

    exitCode = await srv.stop();
    server = undefined;
    if (exitCode !== 0) mismatches.push(`server exited with ${exitCode} after SIGTERM`);

    // Read once the server's CPU and the run's wall time are taken: a big capture takes seconds.
    const pauses = pauseLog === undefined ? undefined : parsePauses(existsSync(pauseLog) ? readFileSync(pauseLog, 'utf8') : '');
    const wireRows = capture === undefined ? [] : capture.rows(counts.pending, provider.timing, wallStart + warmUpMs(options), pauses);
    capture = undefined;

    const rows = reportRows({
      options,
      tally,
      counts,
      stored,
      llm,
      timing: provider.timing,
      wallStart,
      selfRows,
      wireRows,
      harnessPauses: self.pauses(),
      final,
      scrapes,
      cpuUsed,
      wallS,
      wakeups,
      rssStart,
      rssEnd,
      rssSamples,
      mismatches,
    });
    return { rows, mismatches, ok: mismatches.length === 0, cpu: { seconds: cpuUsed, userMessages: counts.userMessages } };
  } finally {
    scraping = false;
    capture?.kill();
    if (server !== undefined) await server.stop(2000);
    await provider.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function printReport(report: LoadReport, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): void {
  const width = Math.max(...report.rows.map(([k]) => k.length));
  out('');
  for (const [k, v] of report.rows) out(`${k.padEnd(width)}  ${v}`);
  for (const m of report.mismatches) out(`MISMATCH  ${m}`);
}
