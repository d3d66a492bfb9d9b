// The metrics subscriber: turns bus events into prom-client series.
//
// Counters are plain numbers bumped by the handlers (a few ns, no allocation) and handed to
// prom-client in collect(), at scrape time; a labelled inc() per event would build a string key
// each time. Histograms are preallocated slots (slot-histogram.ts), one per closed label set, for
// the same reason: prom-client's labelled observe() hashes its labels on every call, and a chat
// turn observes two storage operations and three LLM timings. Gauges are read from the authoritative state at scrape time when the caller gives a
// state source, else from the count the last event carried, so they never drift.
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import {
  DROP_REASONS,
  LIMITERS,
  PROVIDERS,
  STORAGE_OPERATIONS,
  type ChatEvents,
  type DropReason,
  type Limiter,
  type Provider,
  type StorageOperation,
} from '../events/catalog.js';
import { subscribe, type Bus } from '../events/bus.js';
import { METRICS, type MetricSpec } from './contract.js';
import { ChatboxError } from '../errors.js';
import { attachDepthMetrics, type DepthOptions } from './depth.js';
import { replaceEventLoopLag } from './event-loop-lag.js';
import { attachAuthFailureMetrics } from './auth-failures.js';
import { attachClusterMetrics } from './cluster.js';
import { SlotHistogram, type Slot } from './slot-histogram.js';

/** Authoritative counts, read at scrape time. */
export interface GaugeSources {
  /** Size of the live connection registry. */
  readonly connections?: () => number;
  /** The store's count of this process's open sessions. */
  readonly sessions?: () => number;
  /** The reply source's count of LLM attempts in flight (chatbox_llm_in_flight). */
  readonly llmInFlight?: (provider: Provider) => number;
}

export interface MetricsOptions {
  /** Provider names configured in this process: their series exist at 0 from the first scrape. */
  readonly providers?: readonly Provider[];
  readonly gauges?: GaugeSources;
  /** Register prom-client's process_* and nodejs_* metrics too (default true). */
  readonly defaultMetrics?: boolean;
  /** Period of the nodejs_eventloop_lag_* sampler (ms; default 10, prom-client's). */
  readonly eventLoopLagResolutionMs?: number;
  /** Configured models: the closed set of `model` label values, with their prices. */
  readonly models?: DepthOptions['models'];
  /** A shared broker is configured: the chatbox_cluster_* series exist (default false). */
  readonly cluster?: boolean;
}

type PerProvider = Record<Provider, number>;
const perProvider = (): PerProvider => ({ openai: 0, anthropic: 0, dify: 0, demo: 0 });

/** The running totals; a class so every handler sees one stable object shape. */
class Totals {
  received = 0;
  sent = 0;
  messageErrors = 0;
  sessionsCreated = 0;
  sessionsEnded = 0;
  takeovers = 0;
  handbacks = 0;
  openConnections = 0;
  openSessions = 0;
  llmRequests = perProvider();
  llmErrors = perProvider();
  llmRetries = perProvider();
  tokensIn = perProvider();
  tokensOut = perProvider();
  dropped: Record<DropReason, number> = { backpressure: 0, closed: 0, unreachable: 0 };
  rateLimited = Object.fromEntries(LIMITERS.map((l) => [l, 0])) as Record<Limiter, number>;
}

/** Everything registered on one registry; shared by successive attachments to it. */
interface RegistryState {
  readonly totals: Totals;
  readonly histograms: {
    readonly llmLatency: Record<Provider, Slot>;
    /** By provider, then streaming (index 1) or not (index 0). */
    readonly llmRequestDuration: Record<Provider, readonly [Slot, Slot]>;
    readonly llmTimeToFirstToken: Record<Provider, Slot>;
    readonly connectionDuration: Slot;
    readonly storageOperation: Record<StorageOperation, Slot>;
  };
  providers: readonly Provider[];
  gauges: GaugeSources;
  bus: Bus | undefined;
  /** The live attachment's identity; undefined while detached. */
  attachment: object | undefined;
}

// A bad reading from a producer (negative clock step, NaN usage) must not poison a series
// that can only go up.
const seconds = (v: number): number => (v > 0 && Number.isFinite(v) ? v : 0);
const count = (v: number): number => (v > 0 && Number.isFinite(v) ? Math.floor(v) : 0);

const states = new WeakMap<Registry, RegistryState>();

const DEFAULT_PROVIDERS: readonly Provider[] = ['openai', 'anthropic', 'dify'];

function base(spec: MetricSpec, registry: Registry) {
  return { name: spec.name, help: spec.help, labelNames: spec.labels, registers: [registry] };
}

function setCounter(counter: Counter<string>, value: number): void {
  counter.reset();
  counter.inc(value);
}

const byProvider = <T>(make: (provider: Provider) => T): Record<Provider, T> =>
  Object.fromEntries(PROVIDERS.map((p) => [p, make(p)])) as Record<Provider, T>;

function histograms(registry: Registry): RegistryState['histograms'] {
  const h = (spec: MetricSpec): SlotHistogram => new SlotHistogram(spec, registry, spec.buckets ?? []);
  const latency = h(METRICS.llmLatency);
  const duration = h(METRICS.llmRequestDuration);
  const ttft = h(METRICS.llmTimeToFirstToken);
  const storage = h(METRICS.storageOperation);
  return {
    llmLatency: byProvider((provider) => latency.slot({ provider })),
    llmRequestDuration: byProvider((provider) => [duration.slot({ provider, streaming: 'false' }), duration.slot({ provider, streaming: 'true' })] as const),
    llmTimeToFirstToken: byProvider((provider) => ttft.slot({ provider })),
    connectionDuration: h(METRICS.connectionDuration).slot({}),
    // Every operation from the first scrape, so rate() and the quantiles work at once.
    storageOperation: Object.fromEntries(STORAGE_OPERATIONS.map((operation) => [operation, storage.slot({ operation })])) as Record<StorageOperation, Slot>,
  };
}

/**
 * Configured providers' LLM series exist at 0 from the first scrape; others once they have data.
 * A series once shown stays shown (a re-attach with fewer providers does not hide it).
 */
function keepConfigured(state: RegistryState, first = false): void {
  const h = state.histograms;
  for (const provider of PROVIDERS) {
    const slots = [h.llmLatency[provider], h.llmTimeToFirstToken[provider], ...h.llmRequestDuration[provider]];
    const configured = state.providers.includes(provider);
    for (const slot of slots) slot.keep = configured || (!first && slot.keep);
  }
}

function createState(registry: Registry, options: MetricsOptions): RegistryState {
  const totals = new Totals();
  const state: RegistryState = {
    totals,
    providers: options.providers ?? DEFAULT_PROVIDERS,
    gauges: options.gauges ?? {},
    bus: undefined,
    attachment: undefined,
    histograms: histograms(registry),
  };

  const shownProviders = (values: PerProvider): Provider[] =>
    PROVIDERS.filter((p) => state.providers.includes(p) || values[p] > 0);

  new Gauge({
    ...base(METRICS.connections, registry),
    collect() {
      this.set(state.gauges.connections?.() ?? totals.openConnections);
    },
  });
  new Gauge({
    ...base(METRICS.activeSessions, registry),
    collect() {
      this.set(state.gauges.sessions?.() ?? totals.openSessions);
    },
  });

  const plain: [MetricSpec, () => number][] = [
    [METRICS.messagesReceived, () => totals.received],
    [METRICS.messagesSent, () => totals.sent],
    [METRICS.messageErrors, () => totals.messageErrors],
    [METRICS.sessionsCreated, () => totals.sessionsCreated],
    [METRICS.sessionsEnded, () => totals.sessionsEnded],
    [METRICS.adminTakeovers, () => totals.takeovers],
    [METRICS.adminHandbacks, () => totals.handbacks],
  ];
  for (const [spec, read] of plain) {
    new Counter({
      ...base(spec, registry),
      collect() {
        setCounter(this, read());
      },
    });
  }

  const byProvider: [MetricSpec, (p: Provider) => number][] = [
    [METRICS.llmRequests, (p) => totals.llmRequests[p]],
    [METRICS.llmErrors, (p) => totals.llmErrors[p]],
    [METRICS.llmRetries, (p) => totals.llmRetries[p]],
    [METRICS.tokensUsed, (p) => totals.tokensIn[p] + totals.tokensOut[p]],
  ];
  for (const [spec, read] of byProvider) {
    new Counter({
      ...base(spec, registry),
      collect() {
        this.reset();
        for (const provider of PROVIDERS) {
          const value = read(provider);
          if (value > 0 || state.providers.includes(provider)) this.inc({ provider }, value);
        }
      },
    });
  }

  new Counter({
    ...base(METRICS.llmTokens, registry),
    collect() {
      this.reset();
      for (const provider of shownProviders(totals.tokensIn)) this.inc({ provider, type: 'input' }, totals.tokensIn[provider]);
      for (const provider of shownProviders(totals.tokensOut)) this.inc({ provider, type: 'output' }, totals.tokensOut[provider]);
    },
  });
  new Counter({
    ...base(METRICS.messagesDropped, registry),
    collect() {
      this.reset();
      for (const reason of DROP_REASONS) this.inc({ reason }, totals.dropped[reason]);
    },
  });
  new Counter({
    ...base(METRICS.rateLimitBlocked, registry),
    collect() {
      this.reset();
      for (const limiter of LIMITERS) this.inc({ limiter }, totals.rateLimited[limiter]);
    },
  });
  new Counter({
    ...base(METRICS.subscriberErrors, registry),
    collect() {
      this.reset();
      const bus = state.bus;
      if (bus === undefined) return;
      const errors = bus.subscriberErrors();
      for (const subscriber of bus.subscribers()) this.inc({ subscriber }, errors.get(subscriber) ?? 0);
      for (const [subscriber, n] of errors) if (!bus.subscribers().has(subscriber)) this.inc({ subscriber }, n);
    },
  });

  keepConfigured(state, true);

  if (options.defaultMetrics !== false) {
    // The same nodejs_eventloop_lag_* series, without the ~0.5 ms per scrape prom-client's cost.
    collectDefaultMetrics({ register: registry });
    replaceEventLoopLag(registry, options.eventLoopLagResolutionMs);
  }
  return state;
}

/**
 * Attaches the metrics subscriber to `bus`, registering every contract metric on `registry`
 * (once per registry). Returns an idempotent detach. Detaching stops counting; the series stay
 * registered with their values, and attaching again to the same registry continues from them, so
 * counters never go backwards.
 */
export function attachMetrics(bus: Bus, registry: Registry, options: MetricsOptions = {}): () => void {
  let state = states.get(registry);
  if (state === undefined) {
    state = createState(registry, options);
    states.set(registry, state);
  } else {
    if (state.attachment !== undefined) {
      throw new ChatboxError(
        'CHATBOX_ERR_METRICS_ATTACHED',
        'attachMetrics: this registry already has an attached metrics subscriber; detach it first or use another registry',
      );
    }
    if (options.providers !== undefined) {
      state.providers = options.providers;
      keepConfigured(state);
    }
    if (options.gauges !== undefined) state.gauges = options.gauges;
  }
  const s = state;
  const t = s.totals;
  const h = s.histograms;
  const attachment = {};
  s.attachment = attachment;
  s.bus = bus;

  // Named handlers, created once per attachment; the hot ones touch one number and return.
  const detach = subscribe(bus, 'metrics', {
    connectionOpened: function onConnectionOpened(e: ChatEvents['connectionOpened']) {
      t.openConnections = e.open;
    },
    connectionClosed: function onConnectionClosed(e: ChatEvents['connectionClosed']) {
      t.openConnections = e.open;
      h.connectionDuration.observe(seconds(e.durationSeconds));
    },
    messageReceived: function onMessageReceived() {
      t.received++;
    },
    messageSent: function onMessageSent() {
      t.sent++;
    },
    messageFailed: function onMessageFailed() {
      t.messageErrors++;
    },
    messageDropped: function onMessageDropped(e: ChatEvents['messageDropped']) {
      t.dropped[e.reason]++;
    },
    rateLimited: function onRateLimited(e: ChatEvents['rateLimited']) {
      t.rateLimited[e.limiter]++;
    },
    llmRequested: function onLlmRequested(e: ChatEvents['llmRequested']) {
      t.llmRequests[e.provider]++;
      if (e.attempt > 1) t.llmRetries[e.provider]++;
    },
    llmFirstToken: function onLlmFirstToken(e: ChatEvents['llmFirstToken']) {
      h.llmTimeToFirstToken[e.provider].observe(seconds(e.seconds));
    },
    llmResponded: function onLlmResponded(e: ChatEvents['llmResponded']) {
      h.llmLatency[e.provider].observe(seconds(e.latencySeconds));
      h.llmRequestDuration[e.provider][e.streaming ? 1 : 0].observe(seconds(e.durationSeconds));
      t.tokensIn[e.provider] += count(e.inputTokens);
      t.tokensOut[e.provider] += count(e.outputTokens);
    },
    llmFailed: function onLlmFailed(e: ChatEvents['llmFailed']) {
      t.llmErrors[e.provider]++;
    },
    sessionCreated: function onSessionCreated(e: ChatEvents['sessionCreated']) {
      t.sessionsCreated++;
      t.openSessions = e.open;
    },
    sessionEnded: function onSessionEnded(e: ChatEvents['sessionEnded']) {
      t.sessionsEnded++;
      t.openSessions = e.open;
    },
    adminTookOver: function onAdminTookOver() {
      t.takeovers++;
    },
    adminHandedBack: function onAdminHandedBack() {
      t.handbacks++;
    },
    storageOperation: function onStorageOperation(e: ChatEvents['storageOperation']) {
      h.storageOperation[e.operation].observe(seconds(e.seconds));
    },
  });

  const detachDepth = attachDepthMetrics(bus, registry, { ...options, providers: s.providers, llmInFlight: s.gauges.llmInFlight });
  const detachAuthFailures = attachAuthFailureMetrics(bus, registry);
  const detachCluster = options.cluster === true ? attachClusterMetrics(bus, registry) : () => {};

  return function detachMetrics(): void {
    if (s.attachment !== attachment) return;
    detachCluster();
    detach();
    detachDepth();
    detachAuthFailures();
    s.attachment = undefined;
  };
}
