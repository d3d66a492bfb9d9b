// Question: how long does one `/metrics` scrape take to render with every contract series
// populated, in both exposition formats, and how big is the body?
//
// Target (issue 2): under 2 ms per render. Baselines: the same registry without prom-client's
// default process/runtime metrics (what the contract alone costs), and a freshly attached
// registry that has seen no events.
//
//   node --import tsx bench/metrics/render.bench.ts
// measure.js first: it exposes gc() before mitata looks for one.
import { interleaved, nsPerOp, pairedDiff } from '../events/measure.js';
import { bench, group, run, summary } from 'mitata';
// prom-client only as the baseline: its own default metrics with its own event-loop-lag group.
import { collectDefaultMetrics } from 'prom-client';
import { createBus, subscribe, type Bus } from '../../src/events/bus.js';
import {
  CLOSE_REASONS,
  DROP_REASONS,
  LLM_FINISH_REASONS,
  LIMITERS,
  ROLES,
  SESSION_END_REASONS,
  STORAGE_OPERATIONS,
  VIAS,
  type Provider,
} from '../../src/events/catalog.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { EVENT_LOOP_LAG_NAMES } from '../../src/metrics/event-loop-lag.js';
import {
  createMetricsRegistry,
  renderMetrics,
  type ExpositionFormat,
  type MetricsRegistry,
} from '../../src/metrics/render.js';
import { formatTable, machine, type Row } from '../events/report.js';

const PROVIDERS: readonly Provider[] = ['openai', 'anthropic', 'dify'];

/** A registry fed like a busy process: every provider, reason, limiter and operation has values. */
function populated(defaultMetrics: boolean): MetricsRegistry {
  const bus = createBus();
  // Other subscribers first, so the subscriber-error series has several names; one of them fails.
  subscribe(bus, 'logger', { messageFailed: () => undefined });
  subscribe(bus, 'recorder', { messageReceived: () => undefined });
  let failures = 3;
  subscribe(bus, 'audit', {
    adminTookOver: () => {
      if (failures-- > 0) throw new Error('audit sink down');
    },
  });
  const registry = createMetricsRegistry();
  attachMetrics(bus, registry, { providers: PROVIDERS, defaultMetrics, models: MODELS });
  feed(bus);
  feedDepth(bus);
  return registry;
}

const MODELS = [
  { id: 'openai-model', provider: 'openai', prices: { input: 0.15, output: 0.6, cachedInput: 0.075 } },
  { id: 'anthropic-model', provider: 'anthropic', prices: { input: 0.8, output: 4 } },
  { id: 'dify-model', provider: 'dify' },
] as const;

// A route table's worth of patterns, every method and status class the REST API answers.
const ROUTES = ['/metrics', '/chatbox/healthz', '/chatbox/readyz', '/chatbox/sessions', '/chatbox/sessions/:id', '/chatbox/sessions/:id/end', '/chatbox/admin/sessions', '/chatbox/admin/sessions/:id/takeover', '/', '/console', 'unmatched'];
const HTTP: readonly ['GET' | 'POST' | 'DELETE' | 'OPTIONS', number][] = [['GET', 200], ['GET', 404], ['POST', 201], ['POST', 400], ['DELETE', 204], ['OPTIONS', 204], ['GET', 500]];

/** The LLM-depth and REST series, every label value populated. */
function feedDepth(bus: Bus): void {
  for (const provider of PROVIDERS) {
    const model = `${provider}-model`;
    for (let i = 0; i < 300; i++) bus.emit('llmChunkReceived', { provider, model, gapSeconds: 0.004 * (1 + (i % 120)) });
    for (const [k, reason] of LLM_FINISH_REASONS.entries()) {
      for (let i = 0; i <= k + 3; i++) bus.emit('llmFinished', { provider, model, streaming: i % 2 === 0, reason, attempts: 1 + (i % 2) });
    }
    bus.emit('llmResponded', { provider, model, streaming: true, latencySeconds: 0.2, durationSeconds: 1, inputTokens: 900, outputTokens: 300, cachedInputTokens: 400, reasoningTokens: 50 });
  }
  for (const [k, route] of ROUTES.entries()) {
    for (const [method, status] of HTTP) for (let i = 0; i < 3 + k; i++) bus.emit('httpResponded', { route, method, status, seconds: 0.0003 * (1 + ((i * 7) % 50)) });
  }
}

/** Bounded, deterministic spread of every catalogue event (about 4 000 events). */
function feed(bus: Bus): void {
  let open = 0;
  for (let i = 0; i < 200; i++) {
    const role = ROLES[i % ROLES.length] ?? 'user';
    bus.emit('connectionOpened', { role, transport: i % 3 === 0 ? 'ws' : 'uws', open: ++open });
    if (i % 4 !== 3) {
      const reason = CLOSE_REASONS[i % CLOSE_REASONS.length] ?? 'client';
      const durationSeconds = (i * 37) % 4000;
      bus.emit('connectionClosed', { role, transport: 'uws', reason, durationSeconds, open: --open });
    }
  }
  for (let i = 0; i < 1000; i++) {
    bus.emit('messageReceived', { bytes: 100 + i });
    bus.emit('messageSent', { bytes: 200 + i });
    if (i % 50 === 0) bus.emit('messageFailed', { code: 'INVALID_JSON' });
  }
  for (const [k, reason] of DROP_REASONS.entries()) for (let i = 0; i <= k + 2; i++) bus.emit('messageDropped', { reason });
  for (const [k, limiter] of LIMITERS.entries()) for (let i = 0; i <= k + 4; i++) bus.emit('rateLimited', { limiter });
  for (const provider of PROVIDERS) {
    for (let i = 0; i < 150; i++) {
      const streaming = i % 2 === 0;
      const model = `${provider}-model`;
      bus.emit('llmRequested', { provider, model, streaming, attempt: i % 10 === 0 ? 2 : 1 });
      if (i % 15 === 0) {
        bus.emit('llmFailed', { provider, model, streaming, reason: 'timeout', willRetry: true, status: 0 });
        continue;
      }
      const first = 0.03 * (1 + (i % 40));
      if (streaming) bus.emit('llmFirstToken', { provider, model, seconds: first });
      bus.emit('llmResponded', {
        provider,
        model,
        streaming,
        latencySeconds: first,
        durationSeconds: first * (1 + (i % 7)),
        inputTokens: 120 + i,
        outputTokens: 300 + 2 * i,
      });
    }
  }
  let sessions = 0;
  for (let i = 0; i < 100; i++) {
    bus.emit('sessionCreated', { open: ++sessions });
    if (i % 3 === 0) {
      const reason = SESSION_END_REASONS[i % SESSION_END_REASONS.length] ?? 'user';
      bus.emit('sessionEnded', { reason, open: --sessions });
    }
  }
  for (let i = 0; i < 12; i++) {
    const via = VIAS[i % VIAS.length] ?? 'rest';
    bus.emit('adminTookOver', { via });
    if (i % 2 === 0) bus.emit('adminHandedBack', { via });
  }
  for (const [k, operation] of STORAGE_OPERATIONS.entries()) {
    for (let i = 0; i < 40; i++) {
      bus.emit('storageOperation', { operation, seconds: 0.0002 * (1 + ((i * (k + 3)) % 60)), ok: i % 25 !== 0 });
    }
  }
}

// prom-client's event-loop-lag collector reads mean and stddev of a monitorEventLoopDelay HDR
// histogram on every scrape; both walk every bucket (stddev alone ~0.6 ms on a 1.7 GHz core).
const EVENT_LOOP_LAG = EVENT_LOOP_LAG_NAMES;
function withoutEventLoopLag(registry: MetricsRegistry): MetricsRegistry {
  for (const name of EVENT_LOOP_LAG) registry.removeSingleMetric(name);
  return registry;
}

/** The same, with prom-client's own nodejs_eventloop_lag_* group (what /metrics served before). */
function populatedWithPromClientLag(): MetricsRegistry {
  const registry = populated(false);
  collectDefaultMetrics({ register: registry });
  return registry;
}

const registries = {
  full: populated(true),
  promClientLag: populatedWithPromClientLag(),
  noLag: withoutEventLoopLag(populated(true)),
  contractOnly: populated(false),
  fresh: (() => {
    const registry = createMetricsRegistry();
    attachMetrics(createBus(), registry, { providers: PROVIDERS });
    return registry;
  })(),
};

type Case = { readonly name: string; readonly registry: MetricsRegistry; readonly format: ExpositionFormat };
const CASES = {
  full: { name: 'populated, 0.0.4 (Prometheus text)', registry: registries.full, format: 'prometheus' },
  fullOm: { name: 'populated, OpenMetrics 1.0', registry: registries.full, format: 'openmetrics' },
  contractOnly: {
    name: 'populated, contract only (no process_/nodejs_), 0.0.4',
    registry: registries.contractOnly,
    format: 'prometheus',
  },
  promClientLag: {
    name: "before: populated, prom-client's own eventloop_lag group, 0.0.4",
    registry: registries.promClientLag,
    format: 'prometheus',
  },
  noLag: {
    name: 'what-if: populated, without nodejs_eventloop_lag_*, 0.0.4',
    registry: registries.noLag,
    format: 'prometheus',
  },
  fresh: { name: 'fresh registry, no events yet, 0.0.4', registry: registries.fresh, format: 'prometheus' },
} satisfies Record<string, Case>;
type CaseId = keyof typeof CASES;

// Body sizes and series counts, from one render each (also warms every path).
const bodies = new Map<CaseId, string>();
for (const id of Object.keys(CASES) as CaseId[]) {
  const { registry, format } = CASES[id];
  bodies.set(id, (await renderMetrics(registry, format)).body);
}

group('render /metrics', () => {
  summary(() => {
    for (const id of Object.keys(CASES) as CaseId[]) {
      const { registry, format } = CASES[id];
      bench(CASES[id].name, async () => (await renderMetrics(registry, format)).body);
    }
  });
});

const { benchmarks } = await run({ colors: process.stdout.isTTY === true });
const mitataP50 = new Map<string, number>();
for (const trial of benchmarks) {
  const s = trial.runs[0]?.stats;
  if (s !== undefined) mitataP50.set(trial.alias, s.p50);
}

// Interleaved rounds for the table (see measure.ts): every case rendered back to back per round.
const ids = Object.keys(CASES) as CaseId[];
const renders = Object.fromEntries(
  ids.map((id) => [id, () => renderMetrics(CASES[id].registry, CASES[id].format)]),
) as Record<CaseId, () => Promise<unknown>>;
const rounds = await interleaved(renders, { rounds: 201, perRound: 1 });

const ms = (ns: number | undefined): string => (ns === undefined ? 'n/a' : (ns / 1e6).toFixed(3));
const samples = (body: string): number => body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
console.log(`\n${machine()}\n`);
const rows: Row[] = ids.map((id) => {
  const median = nsPerOp(rounds, id);
  const body = bodies.get(id) ?? '';
  const isTarget = id === 'full' || id === 'fullOm';
  return [
    CASES[id].name,
    ms(median),
    ms(mitataP50.get(CASES[id].name)),
    `${(Buffer.byteLength(body) / 1024).toFixed(1)} KiB`,
    String(samples(body)),
    isTarget ? '< 2 ms' : '',
    isTarget ? (median < 2e6 ? 'met' : 'MISSED') : '',
  ];
});
console.log(formatTable(['render', 'ms', 'mitata p50 ms', 'body', 'samples', 'target', 'verdict'], rows));
console.log(`\nms: median of ${rounds.rounds} interleaved rounds of one render each; mitata p50: median sample above.`);
console.log(
  `prom-client default metrics (process_*, nodejs_*) cost ${ms(pairedDiff(rounds, 'full', 'contractOnly'))} ms per render;` +
    ` nodejs_eventloop_lag_* alone ${ms(pairedDiff(rounds, 'full', 'noLag'))} ms; prom-client's own lag group cost` +
    ` ${ms(pairedDiff(rounds, 'promClientLag', 'full'))} ms more than ours (medians of per-round differences).`,
);
