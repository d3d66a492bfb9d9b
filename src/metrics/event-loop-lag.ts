// prom-client's nodejs_eventloop_lag_* group, served more cheaply: same names, types and help.
//
// prom-client reads mean and stddev of a monitorEventLoopDelay HDR histogram on every scrape, and
// both walk every bucket of it natively (measured here: stddev ~0.45 ms, mean ~0.08 ms per read,
// most of a 2 ms scrape budget). This sampler is a timer (10 ms, prom-client's resolution, unless
// EVENT_LOOP_LAG_RESOLUTION_MS says otherwise) that measures its own lateness, as
// monitorEventLoopDelay does with its libuv timer, keeping count, sum and sum of squares in JS
// (mean and stddev are O(1) at scrape) and a RecordableHistogram for the percentiles (a few us).
// One timer per process, unref'd, shared by every registry, at the finest resolution any of them
// asked for; each registry keeps its own window, reset at each of its scrapes as prom-client does.
//
// The timer is what an idle replica mostly spends its CPU on: every tick wakes a sleeping event
// loop, ~0.1-0.16 ms of CPU per wake-up on the 2-core VM of bench/README.md ("An idle replica").
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';
import { ChatboxError } from '../errors.js';

/** prom-client's default (`eventLoopMonitoringPrecision`). */
export const DEFAULT_LAG_RESOLUTION_MS = 10;

class Window {
  count = 0;
  sum = 0;
  squares = 0;
  min = Infinity;
  max = 0;
  readonly histogram: RecordableHistogram = createHistogram();

  add(ns: number): void {
    this.count++;
    this.sum += ns;
    this.squares += ns * ns;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    this.histogram.record(Math.max(1, Math.round(ns)));
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.squares = 0;
    this.min = Infinity;
    this.max = 0;
    this.histogram.reset();
  }
}

const windows = new Set<WeakRef<Window>>();
let timer: NodeJS.Timeout | undefined;
let resolution = DEFAULT_LAG_RESOLUTION_MS;
let last = 0;

function sample(): void {
  const now = performance.now();
  const ns = Math.max(0, (now - last - resolution) * 1e6);
  last = now;
  for (const ref of windows) {
    const w = ref.deref();
    if (w === undefined) windows.delete(ref);
    else w.add(ns);
  }
  // Every registry that read these windows is gone: stop sampling until one asks again.
  if (windows.size === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

function openWindow(resolutionMs: number): Window {
  const w = new Window();
  windows.add(new WeakRef(w));
  if (timer === undefined || resolutionMs < resolution) {
    clearInterval(timer);
    resolution = resolutionMs;
    last = performance.now();
    timer = setInterval(sample, resolution);
    timer.unref();
  }
  return w;
}

/** The running sampler's period (ms), or undefined while no registry reads it. */
export function eventLoopLagResolutionMs(): number | undefined {
  return timer === undefined ? undefined : resolution;
}

export const EVENT_LOOP_LAG_NAMES = [
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
] as const;

/**
 * Replaces prom-client's event-loop-lag gauges on `registry` with the cheaper ones, sampled every
 * `resolutionMs` (or more often, when another registry in the process asked for a finer one).
 */
export function replaceEventLoopLag(registry: Registry, resolutionMs = DEFAULT_LAG_RESOLUTION_MS): void {
  if (!Number.isInteger(resolutionMs) || resolutionMs < 1) {
    // attachMetrics is public: an embedder's bad option fails like a bad environment variable.
    throw new ChatboxError('CHATBOX_ERR_CONFIG', `event-loop lag resolution must be a whole number of ms >= 1, got ${resolutionMs}`);
  }
  for (const name of EVENT_LOOP_LAG_NAMES) registry.removeSingleMetric(name);
  const w = openWindow(resolutionMs);
  const registers = [registry];
  const gauge = (name: string, help: string, aggregator: 'min' | 'max' | 'average') => new Gauge({ name, help, registers, aggregator });
  // As prom-client: the lag of one setImmediate at scrape time, reported by the next scrape.
  const lag = new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers,
    aggregator: 'average',
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
      const mean = w.count === 0 ? 0 : w.sum / w.count;
      const variance = w.count === 0 ? 0 : Math.max(0, w.squares / w.count - mean * mean);
      min.set(w.count === 0 ? 0 : w.min / 1e9);
      max.set(w.max / 1e9);
      meanGauge.set(mean / 1e9);
      stddev.set(Math.sqrt(variance) / 1e9);
      p50.set(w.count === 0 ? 0 : w.histogram.percentile(50) / 1e9);
      p90.set(w.count === 0 ? 0 : w.histogram.percentile(90) / 1e9);
      p99.set(w.count === 0 ? 0 : w.histogram.percentile(99) / 1e9);
      w.reset();
    },
  });
  const min = gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', 'min');
  const max = gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', 'max');
  const meanGauge = gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', 'average');
  const stddev = gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.', 'average');
  const p50 = gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', 'average');
  const p90 = gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.', 'average');
  const p99 = gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', 'average');
}
