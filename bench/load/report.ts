// The report's table: what the run did, as the clients, the provider, /metrics and /proc saw it,
// from readings taken once the run is over. Cold code, apart so the harness reads as the run itself.
import type { Exposition } from '../../test/support/exposition.js';
import type { Tally } from './client.js';
import type { LoadOptions } from './harness.js';
import type { Pause } from './harness-self.js';
import { latencyRows, q3, quantile } from './latency.js';
import type { LoadProvider } from './provider.js';
import type { StoredCounts } from './reconcile-store.js';
import type { Counts } from './run-state.js';

/** Everything the table is made from, read at the end of the run. */
export interface RunReadings {
  readonly options: LoadOptions;
  readonly tally: Tally;
  readonly counts: Counts;
  readonly stored: StoredCounts;
  /** The provider's own tally and its timing of each message. */
  readonly llm: ReturnType<LoadProvider['tally']>;
  readonly timing: LoadProvider['timing'];
  /** performance.now() when the clients started. */
  readonly wallStart: number;
  /** The server's share read from a capture (--capture), or none. */
  readonly wireRows: [string, string][];
  /** The harness's own rows and GC pauses (harness-self.ts). */
  readonly selfRows: [string, string][];
  readonly harnessPauses: readonly Pause[];
  /** The scrape after every client left, and those taken every second. */
  readonly final: Exposition;
  readonly scrapes: readonly Exposition[];
  /** The server process: CPU seconds and main-thread wake-ups over the run, its RSS (bytes). */
  readonly cpuUsed: number;
  readonly wallS: number;
  readonly wakeups: number;
  readonly rssStart: number;
  readonly rssEnd: number;
  readonly rssSamples: number[];
  readonly mismatches: readonly string[];
}

/**
 * The bucket bound under which a fraction `q` of a histogram's observations fall (as Prometheus's
 * histogram_quantile, without interpolation). Past the largest finite bucket a histogram only says
 * "more than" it: `over` is then true and `le` that bound.
 */
function bucketQuantile(e: Exposition, name: string, labels: Record<string, string>, q: number): { le: number; over: boolean } | undefined {
  const buckets = e.samples
    .filter((s) => s.name === `${name}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .map((s) => ({ le: Number(s.labels['le'] === '+Inf' ? Infinity : s.labels['le']), n: s.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.n ?? 0;
  if (total === 0) return undefined;
  const i = buckets.findIndex((b) => b.n >= q * total);
  const b = buckets[i];
  if (b === undefined) return undefined;
  return b.le === Infinity ? { le: buckets[i - 1]?.le ?? 0, over: true } : { le: b.le, over: false };
}

/** The warm-up left out of the steady figures: the run's first quarter. */
export const warmUpMs = (options: LoadOptions): number => (options.durationS * 1000) / 4;

export function reportRows(r: RunReadings): [string, string][] {
  const { options, tally, counts, stored, llm, wallStart, selfRows, final, scrapes, cpuUsed, wallS, wakeups, rssStart, rssEnd, rssSamples, mismatches } = r;
  const lat = [...counts.firstChunkMs];
  const warmUp = warmUpMs(options);
  const latency = latencyRows(
    counts.pending,
    r.timing,
    wallStart + warmUp,
    `the first quarter, ${(warmUp / 1000).toFixed(0)} s`,
    r.harnessPauses,
  );
  // The first scrapes still see start-up (migrations, JIT); the peak is read after warm-up.
  const peakLag = Math.max(0, ...scrapes.slice(3).map((s) => s.value('nodejs_eventloop_lag_p99_seconds') ?? 0));
  const peakConnections = Math.max(0, ...scrapes.map((s) => s.value('chatbox_websocket_connections_total') ?? 0));
  const errors = [...tally.errorsByCode].map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  return [
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
    ...r.wireRows,
    [
      'storage calls p95 <= bucket, from /metrics (create_session / get_session / append_message)',
      ['create_session', 'get_session', 'append_message']
        .map((operation) => {
          const p95 = bucketQuantile(final, 'chatbox_storage_operation_seconds', { operation }, 0.95);
          return p95 === undefined ? '-' : `${p95.over ? '> ' : ''}${(p95.le * 1000).toFixed(0)} ms`;
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
      // A heap that may double before a full GC (--heap-growing-percent) takes minutes to reach its
      // size, so the quarter-mark sample can sit before that climb: the second half tells a leak apart.
      'server RSS over the second half (median of its first tenth -> of the last tenth), growth',
      (({ from, to }) => (from === undefined || to === undefined ? '-' : `${(from / 2 ** 20).toFixed(1)} MiB -> ${(to / 2 ** 20).toFixed(1)} MiB, ${(((to - from) / from) * 100).toFixed(1)} %`))(
        secondHalfRss(rssSamples),
      ),
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
}

/** The median RSS of the tenth of the run that starts its second half, and of its last tenth. */
export function secondHalfRss(samples: readonly number[]): { from: number | undefined; to: number | undefined } {
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const median = (xs: number[]): number => quantile(xs.sort((a, b) => a - b), 0.5);
  if (samples.length < 2) return { from: undefined, to: undefined };
  const mid = Math.floor(samples.length / 2);
  return { from: median(samples.slice(mid, mid + tenth)), to: median(samples.slice(samples.length - tenth)) };
}
