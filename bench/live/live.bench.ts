// Question: what does the live-metrics subscriber (src/live, the console's per-second rollups)
// add to a hot event on top of the metrics subscriber, and does it allocate per event?
//
//   node --import tsx bench/live/live.bench.ts
import { bytesPerOp, interleaved, nsPerOp, pairedDiff } from '../events/measure.js';
import { createBus, type Bus } from '../../src/events/bus.js';
import { attachLiveMetrics } from '../../src/live/attach-live.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { formatTable, machine } from '../events/report.js';

const gauges = { connections: () => 1, sessions: () => 1 };
const metricsOnly = createBus();
attachMetrics(metricsOnly, createMetricsRegistry(), { defaultMetrics: false, providers: ['openai'] });
const both = createBus();
attachMetrics(both, createMetricsRegistry(), { defaultMetrics: false, providers: ['openai'] });
// The timer stays off: the bench measures the per-event handlers, not the once-a-second close.
const live = attachLiveMetrics(both, { providers: ['openai'], gauges, timer: false });

const received = (bus: Bus) => (): void => bus.emit('messageReceived', { bytes: 42 });
const requested = (bus: Bus) => (): void => bus.emit('llmRequested', { provider: 'openai', model: 'm', streaming: true, attempt: 1 });
const cases = {
  receivedMetrics: received(metricsOnly),
  receivedBoth: received(both),
  requestedMetrics: requested(metricsOnly),
  requestedBoth: requested(both),
};
const names: Record<keyof typeof cases, string> = {
  receivedMetrics: 'messageReceived: metrics subscriber',
  receivedBoth: 'messageReceived: metrics + live subscriber',
  requestedMetrics: 'llmRequested: metrics subscriber',
  requestedBoth: 'llmRequested: metrics + live subscriber',
};
for (let i = 0; i < 20_000; i++) for (const fn of Object.values(cases)) fn();

const rounds = await interleaved(cases, { rounds: 41, perRound: 20_000 });
const ids = Object.keys(cases) as (keyof typeof cases)[];
console.log(`\n${machine()}\n`);
console.log(
  formatTable(
    ['case', 'ns/op', 'bytes/op'],
    ids.map((id) => [names[id], nsPerOp(rounds, id).toFixed(1), bytesPerOp(cases[id]).toFixed(0)]),
  ),
);
const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(1)} ns`;
console.log(
  `\nlive subscriber adds (messageReceived): ${signed(pairedDiff(rounds, 'receivedBoth', 'receivedMetrics'))}` +
    `\nlive subscriber adds (llmRequested):    ${signed(pairedDiff(rounds, 'requestedBoth', 'requestedMetrics'))}` +
    '\n(medians of per-round differences; a shared, loaded machine: compare ratios, not absolute times)',
);
live.detach();
