// The OpenTelemetry subscriber: the same bus events as the Prometheus subscriber, as OTel
// instruments on a MeterProvider the caller owns (ours from the OTEL_* variables, or an
// embedding service's own). LLM series follow the GenAI semantic conventions; the chat-service
// series are chatbox.* instruments.
//
// Counters are plain numbers bumped by the handlers and reported by observable instruments at
// collection time (the SDK hashes the attribute set on every add()/record(), so only histograms,
// which cannot be observed, pay for it per event).
import type { Attributes, BatchObservableCallback, MeterProvider, Observable } from '@opentelemetry/api';
import { subscribe, type Bus } from '../events/bus.js';
import {
  DROP_REASONS,
  LLM_FINISH_REASONS,
  PROVIDERS,
  type ChatEvents,
  type DropReason,
  type LlmFinishReason,
  type Provider,
} from '../events/catalog.js';
import { ATTR, CHATBOX, DURATION_BUCKETS, GEN_AI, GEN_AI_PROVIDER, HTTP_BUCKETS, HTTP_SERVER_DURATION, TOKEN_BUCKETS } from './names.js';

export interface OpenTelemetryOptions {
  /** Authoritative counts read at collection time (as for attachMetrics). */
  readonly gauges?: {
    readonly connections?: () => number;
    readonly sessions?: () => number;
    readonly llmInFlight?: (provider: Provider) => number;
  };
  /** Providers whose in-flight and finished series are reported from the start (default: all seen). */
  readonly providers?: readonly Provider[];
  /** Meter (instrumentation scope) name; default `chatbox`. */
  readonly meterName?: string;
}

/** The attribute sets of one (provider, model), built once. */
class ModelAttributes {
  readonly base: Attributes;
  readonly input: Attributes;
  readonly output: Attributes;
  private readonly errors = new Map<string, Attributes>();
  constructor(provider: Provider, model: string) {
    this.base = { [ATTR.operationName]: 'chat', [ATTR.providerName]: GEN_AI_PROVIDER[provider], [ATTR.requestModel]: model };
    this.input = { ...this.base, [ATTR.tokenType]: 'input' };
    this.output = { ...this.base, [ATTR.tokenType]: 'output' };
  }
  error(type: string): Attributes {
    let a = this.errors.get(type);
    if (a === undefined) {
      a = { ...this.base, [ATTR.errorType]: type };
      this.errors.set(type, a);
    }
    return a;
  }
}

// More (provider, model) pairs than any configuration has: past it, attributes are built per
// event instead of cached, so a caller emitting unbounded model ids cannot grow this map.
const MAX_CACHED_MODELS = 512;

const seconds = (v: number): number => (v > 0 && Number.isFinite(v) ? v : 0);
const count = (v: number): number => (v > 0 && Number.isFinite(v) ? Math.floor(v) : 0);

type PerProvider = Record<Provider, number>;
const perProvider = (): PerProvider => ({ openai: 0, anthropic: 0, dify: 0, demo: 0 });

/**
 * Attaches the OpenTelemetry subscriber to `bus`, creating its instruments on a meter of
 * `meterProvider`. Returns an idempotent detach that removes the bus handlers and the observable
 * callbacks (the instruments stay registered with the provider, as the SDK keeps them).
 */
export function attachOpenTelemetry(bus: Bus, meterProvider: MeterProvider, options: OpenTelemetryOptions = {}): () => void {
  const meter = meterProvider.getMeter(options.meterName ?? 'chatbox');
  const gauges = options.gauges ?? {};
  const configured = options.providers ?? [];

  const duration = meter.createHistogram(GEN_AI.duration, {
    description: 'GenAI operation duration.',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const tokenUsage = meter.createHistogram(GEN_AI.tokenUsage, {
    description: 'Number of input and output tokens used.',
    unit: '{token}',
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  });
  const firstChunk = meter.createHistogram(GEN_AI.timeToFirstChunk, {
    description: 'Time to receive the first chunk in a streaming operation.',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const perChunk = meter.createHistogram(GEN_AI.timePerOutputChunk, {
    description: 'Time between consecutive chunks of a streaming operation.',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const httpDuration = meter.createHistogram(HTTP_SERVER_DURATION, {
    description: 'Duration of HTTP server requests.',
    unit: 's',
    advice: { explicitBucketBoundaries: HTTP_BUCKETS },
  });
  const connectionDuration = meter.createHistogram(CHATBOX.connectionDuration, {
    description: 'Lifetime of closed WebSocket connections.',
    unit: 's',
    advice: { explicitBucketBoundaries: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600] },
  });

  const connections = meter.createObservableUpDownCounter(CHATBOX.connections, { description: 'Open WebSocket connections.', unit: '{connection}' });
  const sessionsActive = meter.createObservableUpDownCounter(CHATBOX.sessionsActive, { description: 'Open chat sessions owned by this process.', unit: '{session}' });
  const inFlight = meter.createObservableUpDownCounter(CHATBOX.llmInFlight, { description: 'LLM attempts started and not yet finished.', unit: '{request}' });
  const counters = {
    sessionsCreated: meter.createObservableCounter(CHATBOX.sessionsCreated, { description: 'Sessions created.', unit: '{session}' }),
    sessionsEnded: meter.createObservableCounter(CHATBOX.sessionsEnded, { description: 'Sessions ended.', unit: '{session}' }),
    received: meter.createObservableCounter(CHATBOX.messagesReceived, { description: 'Frames received from clients.', unit: '{message}' }),
    sent: meter.createObservableCounter(CHATBOX.messagesSent, { description: 'Frames handed to client sockets.', unit: '{message}' }),
    failed: meter.createObservableCounter(CHATBOX.messagesFailed, { description: 'Frames that could not be processed or delivered.', unit: '{message}' }),
    dropped: meter.createObservableCounter(CHATBOX.messagesDropped, { description: 'Frames not delivered (congested or closing socket).', unit: '{message}' }),
    takeovers: meter.createObservableCounter(CHATBOX.takeovers, { description: 'Admin takeovers of a session.', unit: '{takeover}' }),
    handbacks: meter.createObservableCounter(CHATBOX.handbacks, { description: 'Sessions handed back to the AI.', unit: '{handback}' }),
    finished: meter.createObservableCounter(CHATBOX.llmFinished, { description: 'LLM replies that ended, by how.', unit: '{reply}' }),
  };

  const t = {
    connections: 0,
    sessions: 0,
    sessionsCreated: 0,
    sessionsEnded: 0,
    received: 0,
    sent: 0,
    failed: 0,
    takeovers: 0,
    handbacks: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    inFlight: perProvider(),
    finished: Object.fromEntries(PROVIDERS.map((p) => [p, Object.fromEntries(LLM_FINISH_REASONS.map((r) => [r, 0]))])) as Record<Provider, Record<LlmFinishReason, number>>,
  };
  const providerAttrs = Object.fromEntries(PROVIDERS.map((p) => [p, { [ATTR.providerName]: GEN_AI_PROVIDER[p] }])) as unknown as Record<Provider, Attributes>;
  const dropAttrs = Object.fromEntries(DROP_REASONS.map((r) => [r, { 'chatbox.drop.reason': r }])) as unknown as Record<DropReason, Attributes>;

  const observe: BatchObservableCallback = function observeChatbox(result) {
    result.observe(connections, gauges.connections?.() ?? t.connections);
    result.observe(sessionsActive, gauges.sessions?.() ?? t.sessions);
    result.observe(counters.sessionsCreated, t.sessionsCreated);
    result.observe(counters.sessionsEnded, t.sessionsEnded);
    result.observe(counters.received, t.received);
    result.observe(counters.sent, t.sent);
    result.observe(counters.failed, t.failed);
    result.observe(counters.takeovers, t.takeovers);
    result.observe(counters.handbacks, t.handbacks);
    for (const reason of DROP_REASONS) result.observe(counters.dropped, t.dropped[reason], dropAttrs[reason]);
    for (const provider of PROVIDERS) {
      const n = gauges.llmInFlight?.(provider) ?? t.inFlight[provider];
      const f = t.finished[provider];
      const seen = configured.includes(provider) || n > 0 || LLM_FINISH_REASONS.some((r) => f[r] > 0);
      if (!seen) continue;
      result.observe(inFlight, n, providerAttrs[provider]);
      for (const reason of LLM_FINISH_REASONS) {
        result.observe(counters.finished, f[reason], { ...providerAttrs[provider], 'chatbox.llm.finish_reason': reason });
      }
    }
  };
  const observables: Observable[] = [connections, sessionsActive, inFlight, ...Object.values(counters)];
  meter.addBatchObservableCallback(observe, observables);

  const models = new Map<string, ModelAttributes>();
  function attrs(provider: Provider, model: string): ModelAttributes {
    const key = `${provider}\u0000${model}`;
    let a = models.get(key);
    if (a === undefined) {
      a = new ModelAttributes(provider, model);
      if (models.size < MAX_CACHED_MODELS) models.set(key, a);
    }
    return a;
  }
  const settle = (provider: Provider): void => {
    if (t.inFlight[provider] > 0) t.inFlight[provider]--;
  };

  const detachBus = subscribe(bus, 'opentelemetry', {
    connectionOpened: function onConnectionOpened(e: ChatEvents['connectionOpened']) {
      t.connections = e.open;
    },
    connectionClosed: function onConnectionClosed(e: ChatEvents['connectionClosed']) {
      t.connections = e.open;
      connectionDuration.record(seconds(e.durationSeconds));
    },
    messageReceived: function onMessageReceived() {
      t.received++;
    },
    messageSent: function onMessageSent() {
      t.sent++;
    },
    messageFailed: function onMessageFailed() {
      t.failed++;
    },
    messageDropped: function onMessageDropped(e: ChatEvents['messageDropped']) {
      t.dropped[e.reason]++;
    },
    sessionCreated: function onSessionCreated(e: ChatEvents['sessionCreated']) {
      t.sessionsCreated++;
      t.sessions = e.open;
    },
    sessionEnded: function onSessionEnded(e: ChatEvents['sessionEnded']) {
      t.sessionsEnded++;
      t.sessions = e.open;
    },
    adminTookOver: function onAdminTookOver() {
      t.takeovers++;
    },
    adminHandedBack: function onAdminHandedBack() {
      t.handbacks++;
    },
    llmRequested: function onLlmRequested(e: ChatEvents['llmRequested']) {
      t.inFlight[e.provider]++;
    },
    llmFirstToken: function onLlmFirstToken(e: ChatEvents['llmFirstToken']) {
      firstChunk.record(seconds(e.seconds), attrs(e.provider, e.model).base);
    },
    llmChunkReceived: function onLlmChunk(e: ChatEvents['llmChunkReceived']) {
      perChunk.record(seconds(e.gapSeconds), attrs(e.provider, e.model).base);
    },
    llmResponded: function onLlmResponded(e: ChatEvents['llmResponded']) {
      settle(e.provider);
      const a = attrs(e.provider, e.model);
      duration.record(seconds(e.durationSeconds), a.base);
      tokenUsage.record(count(e.inputTokens), a.input);
      tokenUsage.record(count(e.outputTokens), a.output);
    },
    llmFailed: function onLlmFailed(e: ChatEvents['llmFailed']) {
      settle(e.provider);
      duration.record(seconds(e.durationSeconds ?? 0), attrs(e.provider, e.model).error(e.reason));
    },
    llmCancelled: function onLlmCancelled(e: ChatEvents['llmCancelled']) {
      settle(e.provider);
    },
    llmFinished: function onLlmFinished(e: ChatEvents['llmFinished']) {
      t.finished[e.provider][e.reason]++;
    },
    httpResponded: function onHttpResponded(e: ChatEvents['httpResponded']) {
      httpDuration.record(seconds(e.seconds), {
        [ATTR.httpRoute]: e.route,
        [ATTR.httpMethod]: e.method === 'other' ? '_OTHER' : e.method,
        [ATTR.httpStatus]: e.status,
      });
    },
  });

  let attached = true;
  return function detachOpenTelemetry(): void {
    if (!attached) return;
    attached = false;
    detachBus();
    meter.removeBatchObservableCallback(observe, observables);
  };
}
