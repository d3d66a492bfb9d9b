// The whole-system load run: the real server as a child process, a fake LLM provider with real
// pacing, users who chat, reconnect, open second devices and vanish, admins who take sessions over
// and hand them back, a scraper reading /metrics every second like Prometheus, and at the end a
// reconciliation of every counter against the harness's own tally.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { parseExposition, type Exposition } from '../../test/support/exposition.js';
import { arrivedAt, LoadSocket, Tally, type Frame } from './client.js';
import { mainThreadWakeups } from '../support/proc.js';
import { startServerProcess, type ServerProcess } from './server-process.js';
import { startLoadProvider, type LoadProvider } from './provider.js';
import { latencyRows, q3, type Turn } from './latency.js';
import { watchHarness } from './harness-self.js';
import { reconcileLlm } from './reconcile-llm.js';

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
  readonly log?: (line: string) => void;
}

export interface LoadReport {
  readonly rows: [string, string][];
  readonly mismatches: string[];
  readonly ok: boolean;
  /** The server's CPU over the run (every thread) and the user messages it served. */
  readonly cpu?: { readonly seconds: number; readonly userMessages: number };
}

const SECRET = 'load-secret-load-secret-load-secret-0123456789';
const PREFIX = '/chatbox';
const MAX_MESSAGE_BYTES = 8192;
const REPLY_TIMEOUT_MS = 30_000;

/** Small deterministic PRNG so a run can be repeated with --seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** The bucket bound under which a fraction `q` of a histogram's observations fall (as Prometheus's histogram_quantile, without interpolation). */
function bucketQuantile(e: Exposition, name: string, labels: Record<string, string>, q: number): number | undefined {
  const buckets = e.samples
    .filter((s) => s.name === `${name}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .map((s) => ({ le: Number(s.labels['le'] === '+Inf' ? Infinity : s.labels['le']), n: s.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.n ?? 0;
  if (total === 0) return undefined;
  return buckets.find((b) => b.n >= q * total)?.le;
}

async function mint(userId: string, admin: boolean): Promise<string> {
  return new SignJWT({ user_id: userId, name: userId, roles: admin ? ['user', 'admin'] : ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(SECRET));
}

interface Counts {
  userMessages: number;
  adminMessages: number;
  repliesCompleted: number;
  repliesCancelled: number;
  llmUnavailable: number;
  noReplyTakenOver: number;
  hung: number;
  takeovers: number;
  handbacks: number;
  reconnects: number;
  abandoned: number;
  secondDevices: number;
  /** Sockets the server closed without being asked (close code -> count). */
  unexpectedCloses: Map<number, number>;
  malformed: number;
  oversize: number;
  firstChunkMs: number[];
  /** Content -> when the client sent it and got the first chunk, matched with the provider's timing later. */
  pending: Map<string, Turn>;
  /** Idle sockets that stayed open for the whole run / that the server closed. */
  idleHeld: number;
  idleLost: number;
  /** Opening handshakes that failed (timed out or refused) and were tried again. */
  connectFailures: number;
  /** Every user message sent, and those whose whole reply the client saw. */
  sentContents: string[];
  answeredContents: Set<string>;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const random = rng(options.seed ?? 42);
  const dataDir = mkdtempSync(join(tmpdir(), 'chatbox-load-'));
  const tally = new Tally();
  const counts: Counts = {
    userMessages: 0,
    adminMessages: 0,
    repliesCompleted: 0,
    repliesCancelled: 0,
    llmUnavailable: 0,
    noReplyTakenOver: 0,
    unexpectedCloses: new Map(),
    hung: 0,
    takeovers: 0,
    handbacks: 0,
    reconnects: 0,
    abandoned: 0,
    secondDevices: 0,
    malformed: 0,
    oversize: 0,
    firstChunkMs: [],
    pending: new Map(),
    idleHeld: 0,
    idleLost: 0,
    sentContents: [],
    answeredContents: new Set(),
    connectFailures: 0,
  };
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

  try {
    server = await startServerProcess({
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
    });
    const srv = server;
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

    async function userLoop(i: number): Promise<void> {
      const token = await mint(`${run}-user-${i}`, false);
      const sessionId = randomUUID();
      // Stagger arrivals over the first interval.
      await sleep(random() * options.messageIntervalMs);
      // What this user's sockets were told about a human holding the session (the admin loop's
      // own bookkeeping lags behind the frames).
      let heldByAdmin = false;
      const watch = (s: LoadSocket, tag: string): LoadSocket => {
        s.tag = tag;
        s.onFrame = (f) => {
          if (f.type === 'admin_join') heldByAdmin = true;
          else if (f.type === 'admin_leave') heldByAdmin = false;
        };
        return s;
      };
      /**
       * Lets an admin who holds this session hand it back, then the last frames for `s` arrive,
       * so none is in flight when the user leaves (the server counted them as sent).
       */
      const settled = async (s: LoadSocket): Promise<void> => {
        while (takenOver.has(sessionId)) await sleep(50);
        await s.quiet(300, REPLY_TIMEOUT_MS);
      };
      let sock = watch(await connect(token, sessionId), 'first');
      await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
      while (Date.now() < deadline) {
        await sleep(options.messageIntervalMs * (0.5 + random()));
        if (Date.now() >= deadline) break;
        if (!sock.open) {
          // The server dropped this socket on its own: a real client reconnects, and so do we.
          const code = sock.closeCode ?? 0;
          counts.unexpectedCloses.set(code, (counts.unexpectedCloses.get(code) ?? 0) + 1);
          log(`load: user ${i}: server closed the socket (${sock.recent()}); reconnecting`);
          sock = watch(await connect(token, sessionId), 'after-unexpected-close');
          await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
          counts.reconnects++;
        }
        const r = random();
        if (options.faults && r < 0.04) {
          counts.malformed++;
          sock.sendRaw(r < 0.02 ? '{"type": "user_message", "content": ' : JSON.stringify({ type: 'user_message', content: 42 }));
          await sock.wait((f) => f.type === 'error', 10_000);
          continue;
        }
        if (options.faults && r < 0.06) {
          counts.oversize++;
          tally.oversizeSent++;
          available.delete(sessionId);
          sock.sendRaw(JSON.stringify({ type: 'user_message', content: 'x'.repeat(MAX_MESSAGE_BYTES + 100) }));
          await sock.closed;
          sock = watch(await connect(token, sessionId), 'after-oversize');
          counts.reconnects++;
          continue;
        }
        if (r > 0.9 && r < 0.95) {
          // Reconnect (a page reload) or vanish without a close frame, then come back.
          available.delete(sessionId);
          if (r < 0.925) {
            await sock.close();
          } else {
            counts.abandoned++;
            // Vanishing drops whatever the server had already written to this socket, which it
            // counted as sent (no new takeover starts: the session is no longer available).
            await settled(sock);
            await sock.terminate();
          }
          counts.reconnects++;
          sock = watch(await connect(token, sessionId), r < 0.925 ? 'after-reload' : 'after-abandon');
          await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
        }
        const second = r > 0.97 ? await connect(token, sessionId) : undefined;
        if (second !== undefined) {
          counts.secondDevices++;
          await second.wait((f) => f.type === 'connection_status', 10_000, 0);
        }
        const wasTakenOver = heldByAdmin || takenOver.has(sessionId);
        if (!sock.open) continue; // dropped while opening a second device: reconnect first
        const content = `message ${counts.userMessages} from user ${i}`;
        const sentAt = sock.count;
        const t0 = performance.now();
        sock.send({ type: 'user_message', content });
        counts.userMessages++;
        counts.sentContents.push(content);
        const opening = !sessionsUsed.has(sessionId);
        sessionsUsed.add(sessionId);
        // The server answers a message either with `loading` (the AI path) or, when a human holds
        // the session, with nothing: the message goes to the admin.
        const started = await sock.wait(
          (f) => f.type === 'loading' || f.type === 'error' || f.type === 'admin_join',
          wasTakenOver ? 2000 : REPLY_TIMEOUT_MS,
          sentAt,
        );
        if (started === undefined && !sock.open) {
          // The socket went away under us; the next turn reconnects and counts it.
        } else if (started === undefined || started.type === 'admin_join') {
          if (wasTakenOver || takenOver.has(sessionId) || started?.type === 'admin_join') counts.noReplyTakenOver++;
          else {
            counts.hung++;
            mismatches.push(`user ${i}: nothing came back within ${REPLY_TIMEOUT_MS} ms (session ${sessionId}, last frames ${sock.recent()})`);
          }
        } else if (started.type === 'error') {
          if (started.error?.code === 'LLM_UNAVAILABLE') counts.llmUnavailable++;
        } else {
          const first = await sock.wait(
            (f) => (f.type === 'ai_response' && f.sender === 'ai') || f.type === 'error',
            REPLY_TIMEOUT_MS,
            sentAt,
          );
          if (first === undefined && !sock.open) {
            // dropped mid-reply: counted on reconnect
          } else if (first === undefined) {
            counts.hung++;
            mismatches.push(`user ${i}: loading but no reply within ${REPLY_TIMEOUT_MS} ms`);
          } else if (first.type === 'error') {
            if (first.error?.code === 'LLM_UNAVAILABLE') counts.llmUnavailable++;
          } else {
            if (first.metadata?.['cancelled'] === undefined) {
              const firstAt = arrivedAt(first);
              counts.firstChunkMs.push(firstAt - t0);
              counts.pending.set(content, { sentAt: t0, firstAt, opensSession: opening });
            }
            const done =
              first.metadata?.['done'] === 'true'
                ? first
                : await sock.wait((f) => (f.type === 'ai_response' && f.metadata?.['done'] === 'true') || f.type === 'error', REPLY_TIMEOUT_MS, sentAt);
            if (done === undefined && !sock.open) {
              // dropped mid-reply: counted on reconnect
            } else if (done === undefined) {
              counts.hung++;
              mismatches.push(`user ${i}: a reply started but never finished (session ${sessionId}, last frames ${sock.recent()})`);
            } else if (done.type === 'error') {
              if (done.error?.code === 'LLM_UNAVAILABLE') counts.llmUnavailable++;
            } else if (done.metadata?.['cancelled'] !== undefined) {
              counts.repliesCancelled++;
            } else {
              counts.repliesCompleted++;
              counts.answeredContents.add(content);
            }
          }
        }
        if (sock.open && !takenOver.has(sessionId)) available.add(sessionId);
        if (second !== undefined) await second.close();
        // The turn's waits are over: its frames need not outlive it (see forget()).
        sock.forget();
      }
      available.delete(sessionId);
      await settled(sock);
      await sock.close();
    }

    /** A user who connects, says nothing and must stay connected until the run ends. */
    async function idleLoop(k: number): Promise<void> {
      const token = await mint(`${run}-idle-${k}`, false);
      await sleep(random() * options.messageIntervalMs);
      let sock: LoadSocket;
      try {
        sock = await connect(token);
      } catch (error) {
        counts.idleLost++;
        mismatches.push(`idle socket ${k}: could not connect: ${(error as Error).message}`);
        return;
      }
      sock.tag = 'idle';
      await sock.wait((f) => f.type === 'connection_status', 30_000, 0);
      await Promise.race([sock.closed, sleep(deadline - Date.now())]);
      if (!sock.open) {
        counts.idleLost++;
        mismatches.push(`idle socket ${k}: the server closed it mid-run (${sock.recent()})`);
        return;
      }
      counts.idleHeld++;
      await sock.close();
    }

    async function adminLoop(j: number): Promise<void> {
      const adminToken = await mint(`${run}-admin-${j}`, true);
      let sock = await connect(adminToken);
      await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
      while (Date.now() < deadline - 4000) {
        await sleep(1500 + random() * 2000);
        if (!sock.open) {
          const code = sock.closeCode ?? 0;
          counts.unexpectedCloses.set(code, (counts.unexpectedCloses.get(code) ?? 0) + 1);
          log(`load: admin ${j}: server closed the socket (${sock.recent()}); reconnecting`);
          sock = await connect(adminToken);
          await sock.wait((f) => f.type === 'connection_status', 10_000, 0);
        }
        const candidates = [...available];
        if (candidates.length === 0) continue;
        const target = candidates[Math.floor(random() * candidates.length)] as string;
        available.delete(target);
        takenOver.add(target);
        sock.send({ type: 'admin_join', session_id: target });
        const joined = await sock.wait((f: Frame) => (f.type === 'connection_status' && f.session_id === target) || f.type === 'error', REPLY_TIMEOUT_MS);
        if (joined === undefined || joined.type === 'error') {
          takenOver.delete(target);
          mismatches.push(`admin ${j}: admin_join on ${target} failed: ${JSON.stringify(joined)}`);
          continue;
        }
        counts.takeovers++;
        await sleep(500 + random() * 1000);
        sock.send({ type: 'user_message', session_id: target, content: `admin ${j} here` });
        counts.adminMessages++;
        await sleep(500 + random() * 1000);
        sock.send({ type: 'admin_leave', session_id: target });
        const left = await sock.wait((f) => (f.type === 'admin_leave' && f.session_id === target) || f.type === 'error', REPLY_TIMEOUT_MS);
        if (left?.type === 'admin_leave') counts.handbacks++;
        else mismatches.push(`admin ${j}: admin_leave on ${target} failed: ${JSON.stringify(left)}`);
        takenOver.delete(target);
      }
      await sock.close();
    }

    await Promise.all([
      ...Array.from({ length: options.users }, (_, i) => userLoop(i)),
      ...Array.from({ length: options.admins }, (_, j) => adminLoop(j)),
      ...Array.from({ length: options.idleSockets ?? 0 }, (_, k) => idleLoop(k)),
    ]);
    const selfRows = self.stop();

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

    // Reconcile every counter against the harness's tally.
    const expectEq = (what: string, actual: number | undefined, expected: number): void => {
      if (actual !== expected) mismatches.push(`${what}: /metrics says ${actual ?? 'absent'}, harness counted ${expected}`);
    };
    const v = (name: string, labels?: Record<string, string>) => final.value(name, labels) ?? 0;
    expectEq('chatbox_websocket_connections_total (all clients gone)', final.value('chatbox_websocket_connections_total'), 0);
    expectEq('chatbox_messages_received_total', v('chatbox_messages_received_total'), tally.framesSent);
    expectEq('chatbox_messages_sent_total', v('chatbox_messages_sent_total'), tally.framesReceived);
    expectEq(
      'chatbox_message_errors_total',
      v('chatbox_message_errors_total'),
      tally.frameErrors + counts.llmUnavailable + tally.oversizeSent + v('chatbox_messages_dropped_total', { reason: 'backpressure' }) + v('chatbox_messages_dropped_total', { reason: 'closed' }),
    );
    expectEq('chatbox_sessions_created_total', v('chatbox_sessions_created_total'), sessionsUsed.size);
    expectEq('chatbox_active_sessions_total', v('chatbox_active_sessions_total'), sessionsUsed.size - v('chatbox_sessions_ended_total'));
    expectEq('chatbox_admin_takeovers_total', v('chatbox_admin_takeovers_total'), counts.takeovers);
    expectEq('chatbox_admin_handbacks_total', v('chatbox_admin_handbacks_total'), counts.handbacks);
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
    const expectStored = (what: string, actual: number, expected: number): void => {
      if (actual !== expected) mismatches.push(`stored ${what}: the store has ${actual}, clients sent ${expected}`);
    };
    expectStored('user messages', stored.user, counts.userMessages);
    expectStored('admin messages', stored.admin, counts.adminMessages);
    expectStored('sessions', stored.sessions, sessionsUsed.size);

    exitCode = await srv.stop();
    server = undefined;
    if (exitCode !== 0) mismatches.push(`server exited with ${exitCode} after SIGTERM`);

    const lat = [...counts.firstChunkMs];
    const warmUpMs = (options.durationS * 1000) / 4;
    const latency = latencyRows(
      counts.pending,
      provider.timing,
      wallStart + warmUpMs,
      `the first quarter, ${(warmUpMs / 1000).toFixed(0)} s`,
      self.pauses(),
    );
    // The first scrapes still see start-up (migrations, JIT); the peak is read after warm-up.
    const peakLag = Math.max(0, ...scrapes.slice(3).map((s) => s.value('nodejs_eventloop_lag_p99_seconds') ?? 0));
    const peakConnections = Math.max(0, ...scrapes.map((s) => s.value('chatbox_websocket_connections_total') ?? 0));
    const errors = [...tally.errorsByCode].map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
    const rows: [string, string][] = [
      ['users / admins / duration', `${options.users} / ${options.admins} / ${options.durationS}s${options.faults ? ' (faults)' : ''}`],
      ['frames sent / received by clients', `${tally.framesSent} / ${tally.framesReceived}`],
      ['user messages sent (all stored)', `${counts.userMessages} (${stored.user} stored)`],
      ['replies completed / cancelled by takeover', `${counts.repliesCompleted} / ${counts.repliesCancelled}`],
      ['no reply: session taken over', String(counts.noReplyTakenOver)],
      ['LLM_UNAVAILABLE to users', String(counts.llmUnavailable)],
      ['hung conversations', String(counts.hung)],
      ['error frames by code', errors],
      ['oversize frames (closed 1009) / malformed', `${counts.oversize} / ${counts.malformed}`],
      ['reconnects / abandoned / second devices', `${counts.reconnects} / ${counts.abandoned} / ${counts.secondDevices}`],
      // The server may have finished such a handshake and sent connection_status on a socket the
      // client had given up on: messages_sent_total can then exceed the clients' tally by as many.
      ['opening handshakes that failed and were retried', String(counts.connectFailures)],
      [
        'sockets the server closed unasked (code: n)',
        counts.unexpectedCloses.size === 0 ? 'none' : [...counts.unexpectedCloses].map(([c, n]) => `${c}: ${n}`).join(', '),
      ],
      ['takeovers / handbacks', `${counts.takeovers} / ${counts.handbacks}`],
      ['LLM attempts / not delivered: failed or cancelled (provider tally)', `${llm.requests} / ${llm.failures}`],
      ['first reply chunk p50 / p95 / p99 (ms)', q3(lat)],
      ...latency,
      [
        'storage calls p95 <= bucket, from /metrics (create_session / get_session / append_message)',
        ['create_session', 'get_session', 'append_message']
          .map((operation) => {
            const le = bucketQuantile(final, 'chatbox_storage_operation_seconds', { operation }, 0.95);
            return le === undefined ? '-' : `${(le * 1000).toFixed(0)} ms`;
          })
          .join(' / '),
      ],
      ['peak connections / server event-loop lag p99, peak of scrapes', `${peakConnections} / ${(peakLag * 1000).toFixed(1)} ms`],
      ...selfRows,
      ...((options.idleSockets ?? 0) > 0
        ? [['idle sockets held for the whole run / closed by the server', `${counts.idleHeld} / ${counts.idleLost}`] as [string, string]]
        : []),
      [
        'server CPU (all threads): seconds / share of one core / ms per user message',
        `${cpuUsed.toFixed(1)} s / ${((cpuUsed / wallS) * 100).toFixed(0)} % / ${counts.userMessages === 0 ? '-' : ((cpuUsed * 1000) / counts.userMessages).toFixed(2)}`,
      ],
      [
        // Each wake-up of a sleeping event loop costs ~0.1 ms of CPU on a small VM before any work
        // (bench/README.md, "An idle replica"): with the CPU figure, what a message costs.
        'server event-loop wake-ups (main thread): per second / per user message',
        `${(wakeups / wallS).toFixed(0)} / ${counts.userMessages === 0 ? '-' : (wakeups / counts.userMessages).toFixed(1)}`,
      ],
      ['server RSS start -> end', `${(rssStart / 2 ** 20).toFixed(1)} MiB -> ${(rssEnd / 2 ** 20).toFixed(1)} MiB`],
      [
        'server RSS after warm-up (first quarter) -> end, growth',
        (() => {
          const warm = rssSamples[Math.floor(rssSamples.length / 4)] ?? rssStart;
          const last = rssSamples[rssSamples.length - 1] ?? rssEnd;
          return `${(warm / 2 ** 20).toFixed(1)} MiB -> ${(last / 2 ** 20).toFixed(1)} MiB, ${(((last - warm) / warm) * 100).toFixed(1)} %`;
        })(),
      ],
      [
        'server RSS / JS heap used, MiB, at each tenth of the run (a leak keeps climbing)',
        (() => {
          const at = (xs: number[], k: number): number | undefined => xs[Math.min(xs.length - 1, Math.floor((k * xs.length) / 10))];
          const heaps = scrapes.map((e) => e.value('nodejs_heap_size_used_bytes') ?? 0);
          const mib = (b: number | undefined): string => (b === undefined ? '-' : (b / 2 ** 20).toFixed(0));
          return Array.from({ length: 11 }, (_, k) => `${mib(at(rssSamples, k))}/${mib(at(heaps, k))}`).join(' ');
        })(),
      ],
      ['reconciliation', mismatches.length === 0 ? 'every counter matches' : `${mismatches.length} MISMATCH(ES)`],
    ];
    return { rows, mismatches, ok: mismatches.length === 0, cpu: { seconds: cpuUsed, userMessages: counts.userMessages } };
  } finally {
    scraping = false;
    if (server !== undefined) await server.stop(2000);
    await provider.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Counts stored sessions and messages through the admin REST API, as an auditor would. */
async function countStored(url: string, adminToken: string, userPrefix: string): Promise<{ sessions: number; user: number; admin: number }> {
  const headers = { authorization: `Bearer ${adminToken}` };
  let cursor: string | null = null;
  let sessions = 0;
  let user = 0;
  let admin = 0;
  do {
    const q = new URLSearchParams({ limit: '100' });
    if (cursor !== null) q.set('cursor', cursor);
    const page = (await (await fetch(`${url}${PREFIX}/admin/sessions?${q.toString()}`, { headers })).json()) as {
      sessions: { id: string; user_id?: string }[];
      next_cursor: string | null;
    };
    for (const s of page.sessions) {
      if (s.user_id?.startsWith(userPrefix) !== true) continue;
      const detail = (await (await fetch(`${url}${PREFIX}/sessions/${s.id}`, { headers })).json()) as { messages: { sender: string }[] };
      if (!detail.messages.some((m) => m.sender === 'user')) continue;
      sessions++;
      for (const m of detail.messages) {
        if (m.sender === 'user') user++;
        else if (m.sender === 'admin') admin++;
      }
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
  return { sessions, user, admin };
}

export function printReport(report: LoadReport, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): void {
  const width = Math.max(...report.rows.map(([k]) => k.length));
  out('');
  for (const [k, v] of report.rows) out(`${k.padEnd(width)}  ${v}`);
  for (const m of report.mismatches) out(`MISMATCH  ${m}`);
}
