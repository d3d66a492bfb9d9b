// What attachMetrics registers on a registry, once: the running totals, the preallocated
// histogram slots, and the prom-client series that read them at scrape time. Apart from attach.ts
// because this is the cold side (registration, collect()); the per-event handlers stay there.
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import {
  DROP_REASONS,
  LIMITERS,
  PROVIDERS,
  STORAGE_OPERATIONS,
  type DropReason,
  type Limiter,
  type Provider,
  type StorageOperation,
} from '../events/catalog.js';
import type { Bus } from '../events/bus.js';
import { METRICS, type MetricSpec } from './contract.js';
import { replaceEventLoopLag } from './event-loop-lag.js';
import { replaceOpenFds } from './open-fds.js';
import { SlotHistogram, type Slot } from './slot-histogram.js';
import type { GaugeSources, MetricsOptions } from './attach.js';

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
export interface RegistryState {
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
export function keepConfigured(state: RegistryState, first = false): void {
  const h = state.histograms;
  for (const provider of PROVIDERS) {
    const slots = [h.llmLatency[provider], h.llmTimeToFirstToken[provider], ...h.llmRequestDuration[provider]];
    const configured = state.providers.includes(provider);
    for (const slot of slots) slot.keep = configured || (!first && slot.keep);
  }
}

export function createState(registry: Registry, options: MetricsOptions): RegistryState {
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
    // The same nodejs_eventloop_lag_* series, without the ~0.5 ms per scrape prom-client's cost,
    // and process_open_fds without a synchronous listing of every socket's descriptor.
    collectDefaultMetrics({ register: registry });
    replaceEventLoopLag(registry, options.eventLoopLagResolutionMs);
    replaceOpenFds(registry);
  }
  return state;
}
