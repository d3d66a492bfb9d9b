// Question: what does one domain event cost the emitter, with and without the metrics subscriber,
// and how does that compare with calling prom-client inline (the traditional way)?
//
// Targets (issue 2): the metrics subscriber adds at most 50 ns per counter event over the bare bus,
// and a labelled event through the subscriber is faster than an inline labelled `inc()`.
//
//   node --import tsx bench/events/emit.bench.ts
//
// prom-client is imported here only as the baseline being compared against; application code
// outside src/metrics never imports it.
// measure.js first: it exposes gc() before mitata looks for one.
import { bytesPerOp, interleaved, nsPerOp, pairedDiff, pairedRatio } from './measure.js';
import { bench, group, run, summary } from 'mitata';
import { Counter, Registry } from 'prom-client';
import { createBus, type Bus } from '../../src/events/bus.js';
import type { ChatEvents } from '../../src/events/catalog.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { formatTable, machine, type Row } from './report.js';

const withMetrics = (bus: Bus): Bus => {
  // No default metrics: they cost nothing per event and only add timers to the process.
  attachMetrics(bus, createMetricsRegistry(), { defaultMetrics: false });
  return bus;
};
const withNoop = (bus: Bus): Bus => {
  bus.on('messageReceived', function noop() {}, 'noop');
  bus.on('llmRequested', function noop() {}, 'noop');
  return bus;
};

const buses = {
  bare: createBus(),
  noop: withNoop(createBus()),
  metrics: withMetrics(createBus()),
};

// The traditional way: a component holds the counters and calls them inline.
const inlineRegistry = new Registry();
const receivedCounter = new Counter({
  name: 'inline_messages_received_total',
  help: 'baseline',
  registers: [inlineRegistry],
});
const requestsCounter = new Counter({
  name: 'inline_llm_requests_total',
  help: 'baseline',
  labelNames: ['provider'],
  registers: [inlineRegistry],
});

// Producers emit small literals at the call site, so the benchmarks do too.
type Case = { readonly name: string; readonly fn: () => void };
const llm = (bus: Bus): void =>
  bus.emit('llmRequested', {
    provider: 'openai',
    model: 'gpt-4o-mini',
    streaming: true,
    attempt: 1,
  } satisfies ChatEvents['llmRequested']);
const received = (bus: Bus): void => bus.emit('messageReceived', { bytes: 42 });

const CASES = {
  counterBare: { name: 'messageReceived: bare bus, no subscriber', fn: () => received(buses.bare) },
  counterNoop: { name: 'messageReceived: bus + no-op subscriber', fn: () => received(buses.noop) },
  counterMetrics: { name: 'messageReceived: bus + metrics subscriber', fn: () => received(buses.metrics) },
  counterInline: { name: 'inline prom-client inc()', fn: () => void receivedCounter.inc() },
  labelledBare: { name: 'llmRequested: bare bus, no subscriber', fn: () => llm(buses.bare) },
  labelledNoop: { name: 'llmRequested: bus + no-op subscriber', fn: () => llm(buses.noop) },
  labelledMetrics: { name: 'llmRequested: bus + metrics subscriber', fn: () => llm(buses.metrics) },
  labelledInline: {
    name: 'inline prom-client inc({provider})',
    fn: () => void requestsCounter.inc({ provider: 'openai' }),
  },
} satisfies Record<string, Case>;
type CaseId = keyof typeof CASES;

// Warm every case before measuring any: emit() and the handlers are shared code, so their type
// feedback should be the mixed one a real process has, whatever order mitata runs them in.
for (let i = 0; i < 20_000; i++) for (const c of Object.values(CASES)) c.fn();

group('counter event (messageReceived)', () => {
  summary(() => {
    for (const id of ['counterBare', 'counterNoop', 'counterMetrics', 'counterInline'] as const) {
      bench(CASES[id].name, CASES[id].fn);
    }
  });
});
group('labelled event (llmRequested, provider=openai)', () => {
  summary(() => {
    for (const id of ['labelledBare', 'labelledNoop', 'labelledMetrics', 'labelledInline'] as const) {
      bench(CASES[id].name, CASES[id].fn);
    }
  });
});

const { benchmarks } = await run({ colors: process.stdout.isTTY === true });
const mitataP50 = new Map<string, number>();
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (stats !== undefined) mitataP50.set(trial.alias, stats.p50);
}

// The tables below come from interleaved rounds (every case timed back to back in each round,
// comparisons as medians of per-round differences), which hold up on a busy machine far better
// than comparing benchmarks mitata timed seconds apart.
const ids = Object.keys(CASES) as CaseId[];
const fns = Object.fromEntries(ids.map((id) => [id, CASES[id].fn])) as Record<CaseId, () => void>;
const rounds = await interleaved(fns, { rounds: 41, perRound: 20_000 });
const bytes = new Map<CaseId, number>(ids.map((id) => [id, bytesPerOp(CASES[id].fn)]));

const fixed = (v: number | undefined, digits = 1): string => (v === undefined ? 'n/a' : v.toFixed(digits));
const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(1)} ns`;
console.log(`\n${machine()}\n`);
console.log(
  formatTable(
    ['case', 'ns/op', 'mitata p50', 'bytes/op'],
    ids.map((id) => [
      CASES[id].name,
      fixed(nsPerOp(rounds, id)),
      fixed(mitataP50.get(CASES[id].name)),
      fixed(bytes.get(id), 0),
    ]),
  ),
);
console.log(
  `\nns/op: median of ${rounds.rounds} interleaved rounds of 20 000 calls; mitata p50: median batch above;` +
    '\nbytes/op: heap growth per call, GC-bracketed blocks of 2 000 calls, median of 31.',
);

const addsCounter = pairedDiff(rounds, 'counterMetrics', 'counterBare');
const vsLabelled = pairedRatio(rounds, 'labelledMetrics', 'labelledInline');
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const rows: Row[] = [
  ['metrics subscriber adds over bare bus (messageReceived)', signed(addsCounter), '<= 50 ns', verdict(addsCounter <= 50)],
  ['metrics subscriber adds over bare bus (llmRequested)', signed(pairedDiff(rounds, 'labelledMetrics', 'labelledBare'))],
  ['  of which dispatch (no-op subscriber over bare bus)', signed(pairedDiff(rounds, 'counterNoop', 'counterBare'))],
  ['  of which the metrics handler (metrics over no-op)', signed(pairedDiff(rounds, 'counterMetrics', 'counterNoop'))],
  [
    'subscriber vs inline labelled inc({provider})',
    `${vsLabelled.toFixed(2)}x (${(1 / vsLabelled).toFixed(1)}x faster)`,
    'faster (< 1x)',
    verdict(vsLabelled < 1),
  ],
  ['subscriber vs inline unlabelled inc()', `${pairedRatio(rounds, 'counterMetrics', 'counterInline').toFixed(2)}x`],
];
console.log('\nTargets (issue 2); differences and ratios are medians of per-round pairs\n');
console.log(formatTable(['question', 'measured', 'target', 'verdict'], rows));
