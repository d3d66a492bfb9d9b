// The live-metrics subscriber: per-second rollups of the last 15 minutes, from the same bus
// events the metrics subscriber counts and the same gauge readers it reads at scrape time, so
// the console's figures agree with /metrics. Pushed to admin consoles by src/console.
//
// Each second is one slot of a ring of preallocated typed arrays; the handlers bump a number in
// the open slot, and a 1 s timer closes it (reads the gauges, turns the second's time-to-first-
// token samples into p50/p95). Totals run from attach, like the metrics subscriber's counters.
import { subscribe, type Bus } from '../events/bus.js';
import type { ChatEvents, Provider } from '../events/catalog.js';
import type { LiveCurrentJson, LiveMetricsJson } from '../protocol/wire.js';
import { percentile } from './percentile.js';

export interface LiveGauges {
  readonly connections: () => number;
  readonly sessions: () => number;
}

export interface LiveMetricsOptions {
  readonly providers: readonly Provider[];
  readonly gauges: LiveGauges;
  /** Seconds kept (default 900: 15 minutes). */
  readonly windowSeconds?: number;
  /** Epoch milliseconds (tests pass a fake clock). */
  readonly clock?: () => number;
  /** Start the 1 s timer (default true); tests call tick() instead. */
  readonly timer?: boolean;
}

export interface LiveMetrics {
  /** Points of the last `seconds` closed seconds (all kept when omitted) and the current figures. */
  snapshot(seconds?: number): LiveMetricsJson;
  current(): LiveCurrentJson;
  /** Closes the open second now (the timer does this every second). */
  tick(): void;
  /** Idempotent: stops the timer and removes exactly this subscriber's handlers. */
  detach(): void;
}

/** Samples kept per second for the percentiles; more in one second are ignored for them only. */
const MAX_SAMPLES = 512;
const TTFT_CURRENT_SECONDS = 60;

class Ring {
  readonly data: Float64Array;
  constructor(size: number) {
    this.data = new Float64Array(size).fill(Number.NaN);
  }
}

export function attachLiveMetrics(bus: Bus, options: LiveMetricsOptions): LiveMetrics {
  const size = options.windowSeconds ?? 900;
  const clock = options.clock ?? Date.now;
  const providers = [...options.providers];
  const index = new Map<Provider, number>(providers.map((p, i) => [p, i]));
  const { gauges } = options;

  const t = new Ring(size);
  const connections = new Ring(size);
  const sessions = new Ring(size);
  const framesIn = new Ring(size);
  const framesOut = new Ring(size);
  const attempts = providers.map(() => new Ring(size));
  const errors = providers.map(() => new Ring(size));
  const p50 = new Ring(size);
  const p95 = new Ring(size);
  /** Slots written so far (the newest is at (count - 1) % size). */
  let count = 0;

  // The open second.
  let openStart = Math.floor(clock() / 1000);
  let inNow = 0;
  let outNow = 0;
  const attemptsNow = new Float64Array(providers.length);
  const errorsNow = new Float64Array(providers.length);
  let samples: number[] = [];

  // Totals since attach (the metrics subscriber's counters, attached at the same time).
  let inTotal = 0;
  let outTotal = 0;
  const attemptsTotal = new Float64Array(providers.length);
  const errorsTotal = new Float64Array(providers.length);
  /** Recent samples for the current p50/p95: [epoch seconds, value]. */
  const recent: { at: number; v: number }[] = [];

  const detachBus = subscribe(bus, 'live-metrics', {
    messageReceived: function onLiveReceived() {
      inNow++;
      inTotal++;
    },
    messageSent: function onLiveSent() {
      outNow++;
      outTotal++;
    },
    llmRequested: function onLiveRequested(e: ChatEvents['llmRequested']) {
      const i = index.get(e.provider);
      if (i === undefined) return;
      attemptsNow[i]!++;
      attemptsTotal[i]!++;
    },
    llmFailed: function onLiveFailed(e: ChatEvents['llmFailed']) {
      const i = index.get(e.provider);
      if (i === undefined) return;
      errorsNow[i]!++;
      errorsTotal[i]!++;
    },
    llmFirstToken: function onLiveFirstToken(e: ChatEvents['llmFirstToken']) {
      const v = e.seconds > 0 && Number.isFinite(e.seconds) ? e.seconds : 0;
      if (samples.length < MAX_SAMPLES) samples.push(v);
      recent.push({ at: openStart, v });
    },
  });

  function close(second: number): void {
    const slot = count % size;
    t.data[slot] = second;
    connections.data[slot] = gauges.connections();
    sessions.data[slot] = gauges.sessions();
    framesIn.data[slot] = inNow;
    framesOut.data[slot] = outNow;
    for (let i = 0; i < providers.length; i++) {
      attempts[i]!.data[slot] = attemptsNow[i]!;
      errors[i]!.data[slot] = errorsNow[i]!;
      attemptsNow[i] = 0;
      errorsNow[i] = 0;
    }
    p50.data[slot] = samples.length === 0 ? Number.NaN : percentile(samples, 0.5);
    p95.data[slot] = samples.length === 0 ? Number.NaN : percentile(samples, 0.95);
    inNow = 0;
    outNow = 0;
    samples = [];
    count++;
  }

  function tick(): void {
    const second = Math.floor(clock() / 1000);
    // Seconds the timer missed (a stalled event loop) are recorded as empty ones.
    const missed = Math.min(second - openStart - 1, size);
    close(openStart);
    for (let i = 1; i <= missed; i++) close(second - missed - 1 + i);
    openStart = second;
    const cutoff = second - TTFT_CURRENT_SECONDS;
    while (recent.length > 0 && recent[0]!.at < cutoff) recent.shift();
  }

  const timer = options.timer === false ? undefined : setInterval(tick, 1000);
  timer?.unref();

  function series(ring: Ring, from: number, to: number): number[] {
    const out: number[] = [];
    for (let i = from; i < to; i++) out.push(ring.data[i % size]!);
    return out;
  }
  const nullable = (values: number[]): (number | null)[] => values.map((v) => (Number.isNaN(v) ? null : v));
  const perProvider = (values: Float64Array): Partial<Record<Provider, number>> =>
    Object.fromEntries(providers.map((p, i) => [p, values[i]!]));

  function current(): LiveCurrentJson {
    const values = recent.map((r) => r.v);
    return {
      connections: gauges.connections(),
      sessions: gauges.sessions(),
      frames_in_total: inTotal,
      frames_out_total: outTotal,
      llm_attempts_total: perProvider(attemptsTotal),
      llm_errors_total: perProvider(errorsTotal),
      ttft_p50: values.length === 0 ? null : percentile(values, 0.5),
      ttft_p95: values.length === 0 ? null : percentile(values, 0.95),
    };
  }

  function snapshot(seconds?: number): LiveMetricsJson {
    const kept = Math.min(count, size, seconds ?? size);
    const from = count - kept;
    return {
      interval_seconds: 1,
      providers,
      points: {
        t: series(t, from, count),
        connections: series(connections, from, count),
        sessions: series(sessions, from, count),
        frames_in: series(framesIn, from, count),
        frames_out: series(framesOut, from, count),
        llm_attempts: Object.fromEntries(providers.map((p, i) => [p, series(attempts[i]!, from, count)])),
        llm_errors: Object.fromEntries(providers.map((p, i) => [p, series(errors[i]!, from, count)])),
        ttft_p50: nullable(series(p50, from, count)),
        ttft_p95: nullable(series(p95, from, count)),
      },
      current: current(),
    };
  }

  let attached = true;
  return {
    snapshot,
    current,
    tick,
    detach() {
      if (!attached) return;
      attached = false;
      clearInterval(timer);
      detachBus();
    },
  };
}
