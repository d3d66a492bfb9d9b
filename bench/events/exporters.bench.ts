// Question: what does one event cost the emitter with every exporter attached — Prometheus,
// OpenTelemetry (SDK aggregation on a MeterProvider) and the diagnostics_channel bridge — against
// Prometheus alone and the bare bus? One run, every case interleaved round by round.
//
//   node --import tsx bench/events/exporters.bench.ts
// measure.js first: it exposes gc() before anything looks for one.
import { bytesPerOp, interleaved, nsPerOp, pairedDiff } from './measure.js';
import diagnosticsChannel from 'node:diagnostics_channel';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { attachDiagnostics } from '../../src/diagnostics/channels.js';
import { createBus, type Bus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { attachOpenTelemetry } from '../../src/otel/attach.js';
import { formatTable, machine } from './report.js';

const MODELS = [{ id: 'gpt-4o-mini', provider: 'openai', prices: { input: 0.15, output: 0.6 } }] as const;

function meterProvider(): MeterProvider {
  // A reader that aggregates like a real one and never exports during the run.
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  return new MeterProvider({ readers: [reader] });
}

const prom = (bus: Bus): Bus => {
  attachMetrics(bus, createMetricsRegistry(), { defaultMetrics: false, providers: ['openai'], models: MODELS });
  return bus;
};
const all = (bus: Bus): Bus => {
  prom(bus);
  attachOpenTelemetry(bus, meterProvider(), { providers: ['openai'] });
  attachDiagnostics(bus);
  return bus;
};

const buses = { bare: createBus(), prom: prom(createBus()), all: all(createBus()), listened: all(createBus()) };
// An APM-style subscriber on every channel of one bus (channels are process-wide, so this case
// runs last in each round's rotation would not matter: subscription is what it measures).
let seen = 0;
const apm = (): void => {
  seen++;
};

const events = {
  messageReceived: (bus: Bus) => bus.emit('messageReceived', { bytes: 42 }),
  llmRequested: (bus: Bus) => bus.emit('llmRequested', { provider: 'openai', model: 'gpt-4o-mini', streaming: true, attempt: 1 }),
  llmChunkReceived: (bus: Bus) => bus.emit('llmChunkReceived', { provider: 'openai', model: 'gpt-4o-mini', gapSeconds: 0.021 }),
  llmResponded: (bus: Bus) =>
    bus.emit('llmResponded', {
      provider: 'openai',
      model: 'gpt-4o-mini',
      streaming: true,
      latencySeconds: 0.4,
      durationSeconds: 2.1,
      inputTokens: 420,
      outputTokens: 180,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    }),
  httpResponded: (bus: Bus) => bus.emit('httpResponded', { route: '/chatbox/sessions/:id', method: 'GET', status: 200, seconds: 0.0012 }),
} as const;
type EventId = keyof typeof events;
const VARIANTS = ['bare', 'prom', 'all'] as const;

const cases: Record<string, () => void> = {};
for (const e of Object.keys(events) as EventId[]) for (const v of VARIANTS) cases[`${e}:${v}`] = () => events[e](buses[v]);

// Warm every case before measuring any (shared code sees mixed type feedback, as in a process).
for (let i = 0; i < 20_000; i++) for (const fn of Object.values(cases)) fn();
const rounds = await interleaved(cases, { rounds: 25, perRound: 10_000 });

// With a subscriber on the channels: measured apart, since subscribing is process-wide.
for (const e of Object.keys(events) as EventId[]) diagnosticsChannel.subscribe(`chatbox:${e}`, apm);
const listenedCases: Record<string, () => void> = {};
for (const e of Object.keys(events) as EventId[]) {
  listenedCases[`${e}:all`] = () => events[e](buses.all);
  listenedCases[`${e}:listened`] = () => events[e](buses.listened);
}
for (let i = 0; i < 20_000; i++) for (const fn of Object.values(listenedCases)) fn();
const listened = await interleaved(listenedCases, { rounds: 15, perRound: 10_000 });
for (const e of Object.keys(events) as EventId[]) diagnosticsChannel.unsubscribe(`chatbox:${e}`, apm);

const f = (v: number): string => v.toFixed(1);
console.log(`\n${machine()}\n`);
console.log(
  formatTable(
    ['event', 'bare bus ns', 'Prometheus ns', 'Prom + OTel + diag ns', 'OTel + diag add', 'bytes/op (all)', '+ APM subscriber adds'],
    (Object.keys(events) as EventId[]).map((e) => [
      e,
      f(nsPerOp(rounds, `${e}:bare`)),
      f(nsPerOp(rounds, `${e}:prom`)),
      f(nsPerOp(rounds, `${e}:all`)),
      `${f(pairedDiff(rounds, `${e}:all`, `${e}:prom`))} ns`,
      bytesPerOp(cases[`${e}:all`] as () => void).toFixed(0),
      `${f(pairedDiff(listened, `${e}:listened`, `${e}:all`))} ns`,
    ]),
  ),
);
console.log(
  `\nns/op: median of ${rounds.rounds} interleaved rounds of 10 000 emits; "add" columns are medians of per-round differences.` +
    `\nThe last column subscribes a no-op function to every chatbox:* channel (it ran ${seen} times).`,
);
