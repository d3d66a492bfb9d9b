// The metrics subscriber: turns bus events into prom-client series.
//
// Counters are plain numbers bumped by the handlers (a few ns, no allocation) and handed to
// prom-client in collect(), at scrape time; a labelled inc() per event would build a string key
// each time. Histograms are preallocated slots (slot-histogram.ts), one per closed label set, for
// the same reason: prom-client's labelled observe() hashes its labels on every call, and a chat
// turn observes two storage operations and three LLM timings. Gauges are read from the
// authoritative state at scrape time when the caller gives a state source, else from the count
// the last event carried, so they never drift. What is set up once per registry and read at
// scrape time (the series, the running totals) is registry-state.ts.
import type { Registry } from 'prom-client';
import type { ChatEvents, Provider } from '../events/catalog.js';
import { subscribe, type Bus } from '../events/bus.js';
import { ChatboxError } from '../errors.js';
import { attachDepthMetrics, type DepthOptions } from './depth.js';
import { attachAuthFailureMetrics } from './auth-failures.js';
import { attachClusterMetrics } from './cluster.js';
import { createState, keepConfigured, type RegistryState } from './registry-state.js';

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

// A bad reading from a producer (negative clock step, NaN usage) must not poison a series
// that can only go up.
const seconds = (v: number): number => (v > 0 && Number.isFinite(v) ? v : 0);
const count = (v: number): number => (v > 0 && Number.isFinite(v) ? Math.floor(v) : 0);

const states = new WeakMap<Registry, RegistryState>();

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
