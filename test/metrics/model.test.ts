// Model-based test of the metrics subscriber: random sequences of catalog events, socket and
// session state changes, duplicate closes and attach/detach of the subscriber. After every step
// the scraped exposition equals a model made of plain numbers, and gauges never go negative.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBus, type Bus } from '../../src/events/bus.js';
import {
  DROP_REASONS,
  HTTP_METHODS,
  LIMITERS,
  LLM_FINISH_REASONS,
  PROVIDERS,
  STORAGE_OPERATIONS,
  type LlmFinishReason,
  type Provider,
} from '../../src/events/catalog.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry, renderMetrics, type MetricsRegistry } from '../../src/metrics/render.js';
import { anyEvent, type AnyEvent } from '../support/arbitraries.js';
import { parseExposition } from '../support/exposition.js';

const CONFIGURED: Provider[] = ['openai', 'anthropic', 'dify'];
// The closed set of model ids; the arbitraries also emit ids outside it ('dify-app', 'demo').
const MODELS = [
  { id: 'gpt-4o-mini', provider: 'openai', prices: { input: 0.5, output: 1.5, cachedInput: 0.25 } },
  { id: 'claude-haiku', provider: 'anthropic' },
] as const;
const ROUTES = ['/metrics', '/chatbox/healthz', '/chatbox/sessions/:id', 'unmatched'];
const STATUS = ['2xx', '3xx', '4xx', '5xx'] as const;
const statusClass = (s: number): string => STATUS[s < 300 ? 0 : s < 400 ? 1 : s < 500 ? 2 : 3] as string;

/** What the scrape must show, as plain numbers. */
class Model {
  attached = false;
  counters = new Map<string, number>();
  // The authoritative state (what the connection registry and the store would hold).
  liveConnections = 0;
  liveSessions = 0;
  // The last counts carried by events (what a subscriber without state sources reports).
  carriedConnections = 0;
  carriedSessions = 0;
  // Attempts in flight: as the reply source counts them (exact), and as events imply (clamped at 0).
  liveInFlight: Record<Provider, number> = { openai: 0, anthropic: 0, dify: 0, demo: 0 };
  carriedInFlight: Record<Provider, number> = { openai: 0, anthropic: 0, dify: 0, demo: 0 };
  cost = 0;

  add(key: string, n = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }
  get(key: string): number {
    return this.counters.get(key) ?? 0;
  }

  settle(provider: Provider): void {
    if (this.carriedInFlight[provider] > 0) this.carriedInFlight[provider]--;
  }

  apply(e: AnyEvent): void {
    if (!this.attached) return;
    const p = e.payload;
    switch (e.type) {
      case 'connectionOpened':
        this.carriedConnections = e.payload.open;
        return;
      case 'connectionClosed':
        this.carriedConnections = e.payload.open;
        this.add('conn_duration_count');
        return;
      case 'messageReceived':
        return this.add('received');
      case 'messageSent':
        return this.add('sent');
      case 'messageFailed':
        return this.add('errors');
      case 'messageDropped':
        return this.add(`dropped:${e.payload.reason}`);
      case 'rateLimited':
        return this.add(`limited:${e.payload.limiter}`);
      case 'llmRequested':
        this.add(`requests:${e.payload.provider}`);
        if (e.payload.attempt > 1) this.add(`retries:${e.payload.provider}`);
        this.carriedInFlight[e.payload.provider]++;
        if (MODELS.some((m) => m.id === e.payload.model)) this.add(`model_requests:${e.payload.model}`);
        return;
      case 'llmChunkReceived':
        return this.add(`inter_token_count:${e.payload.provider}`);
      case 'llmFinished':
        this.add('replies_finished');
        return this.add(`finished:${e.payload.provider}:${e.payload.reason}`);
      case 'httpResponded': {
        const route = e.payload.route;
        this.add(`http:${route}:${e.payload.method}:${statusClass(e.payload.status)}`);
        return this.add(`http_count:${route}:${e.payload.method}`);
      }
      case 'llmFirstToken':
        return this.add(`ttft_count:${e.payload.provider}`);
      case 'llmResponded':
        this.add(`latency_count:${e.payload.provider}`);
        this.add(`duration_count:${e.payload.provider}:${String(e.payload.streaming)}`);
        this.add(`tokens_in:${e.payload.provider}`, e.payload.inputTokens);
        this.add(`tokens_out:${e.payload.provider}`, e.payload.outputTokens);
        this.settle(e.payload.provider);
        {
          const cached = Math.min(e.payload.cachedInputTokens ?? 0, e.payload.inputTokens);
          this.add(`cached:${e.payload.provider}`, cached);
          this.add(`reasoning:${e.payload.provider}`, e.payload.reasoningTokens ?? 0);
          if (e.payload.model === 'gpt-4o-mini') {
            this.cost += ((e.payload.inputTokens - cached) * 0.5 + cached * 0.25 + e.payload.outputTokens * 1.5) / 1e6;
          }
        }
        return;
      case 'llmFailed':
        this.settle(e.payload.provider);
        return this.add(`llm_errors:${e.payload.provider}`);
      case 'llmCancelled':
        return this.settle(e.payload.provider);
      case 'sessionCreated':
        this.carriedSessions = e.payload.open;
        return this.add('sessions_created');
      case 'sessionEnded':
        this.carriedSessions = e.payload.open;
        return this.add('sessions_ended');
      case 'adminTookOver':
        return this.add('takeovers');
      case 'adminHandedBack':
        return this.add('handbacks');
      case 'storageOperation':
        return this.add(`storage_count:${e.payload.operation}`);
    }
    void p;
  }
}

interface Real {
  readonly bus: Bus;
  readonly registry: MetricsRegistry;
  readonly withSources: boolean;
  detach: (() => void) | undefined;
  state: { connections: number; sessions: number; inFlight: Record<Provider, number> };
}

async function check(model: Model, real: Real): Promise<void> {
  const x = parseExposition((await renderMetrics(real.registry)).body);
  const v = (name: string, labels: Record<string, string> = {}): number => x.value(name, labels) ?? 0;
  const connections = v('chatbox_websocket_connections_total');
  const sessions = v('chatbox_active_sessions_total');
  expect(connections).toBeGreaterThanOrEqual(0);
  expect(sessions).toBeGreaterThanOrEqual(0);
  if (real.withSources) {
    expect(connections).toBe(model.liveConnections);
    expect(sessions).toBe(model.liveSessions);
  } else {
    expect(connections).toBe(model.carriedConnections);
    expect(sessions).toBe(model.carriedSessions);
  }
  expect(v('chatbox_messages_received_total')).toBe(model.get('received'));
  expect(v('chatbox_messages_sent_total')).toBe(model.get('sent'));
  expect(v('chatbox_message_errors_total')).toBe(model.get('errors'));
  expect(v('chatbox_sessions_created_total')).toBe(model.get('sessions_created'));
  expect(v('chatbox_sessions_ended_total')).toBe(model.get('sessions_ended'));
  expect(v('chatbox_admin_takeovers_total')).toBe(model.get('takeovers'));
  expect(v('chatbox_admin_handbacks_total')).toBe(model.get('handbacks'));
  expect(v('chatbox_websocket_connection_duration_seconds_count')).toBe(model.get('conn_duration_count'));
  for (const provider of PROVIDERS) {
    const l = { provider };
    expect(v('chatbox_llm_requests_total', l)).toBe(model.get(`requests:${provider}`));
    expect(v('chatbox_llm_retries_total', l)).toBe(model.get(`retries:${provider}`));
    expect(v('chatbox_llm_errors_total', l)).toBe(model.get(`llm_errors:${provider}`));
    expect(v('chatbox_llm_latency_seconds_count', l)).toBe(model.get(`latency_count:${provider}`));
    expect(v('chatbox_llm_time_to_first_token_seconds_count', l)).toBe(model.get(`ttft_count:${provider}`));
    const tin = model.get(`tokens_in:${provider}`);
    const tout = model.get(`tokens_out:${provider}`);
    expect(v('chatbox_tokens_used_total', l)).toBe(tin + tout);
    expect(v('chatbox_llm_tokens_total', { provider, type: 'input' })).toBe(tin);
    expect(v('chatbox_llm_tokens_total', { provider, type: 'output' })).toBe(tout);
    for (const streaming of ['true', 'false']) {
      expect(v('chatbox_llm_request_duration_seconds_count', { provider, streaming })).toBe(
        model.get(`duration_count:${provider}:${streaming}`),
      );
    }
  }
  let finished = 0;
  for (const provider of PROVIDERS) {
    const l = { provider };
    const inFlight = v('chatbox_llm_in_flight', l);
    expect(inFlight).toBeGreaterThanOrEqual(0);
    expect(inFlight).toBe(real.withSources ? model.liveInFlight[provider] : model.carriedInFlight[provider]);
    expect(v('chatbox_llm_inter_token_seconds_count', l)).toBe(model.get(`inter_token_count:${provider}`));
    expect(v('chatbox_llm_token_details_total', { provider, type: 'cached_input' })).toBe(model.get(`cached:${provider}`));
    expect(v('chatbox_llm_token_details_total', { provider, type: 'reasoning' })).toBe(model.get(`reasoning:${provider}`));
    for (const reason of LLM_FINISH_REASONS) {
      const n = v('chatbox_llm_finished_total', { provider, reason });
      expect(n).toBe(model.get(`finished:${provider}:${reason}`));
      finished += n;
    }
  }
  // Finish reasons sum to the replies that ended.
  expect(finished).toBe(model.get('replies_finished'));
  for (const m of MODELS) {
    expect(v('chatbox_llm_model_requests_total', { provider: m.provider, model: m.id })).toBe(model.get(`model_requests:${m.id}`));
  }
  // Only configured ids are model label values; only priced ones have a cost series.
  const modelLabels = new Set(x.samples.filter((s) => s.name === 'chatbox_llm_model_requests_total').map((s) => s.labels['model']));
  expect([...modelLabels].sort()).toEqual(MODELS.map((m) => m.id).sort());
  expect(v('chatbox_llm_cost_usd_total', { provider: 'openai', model: 'gpt-4o-mini' })).toBeCloseTo(model.cost, 9);
  expect(x.value('chatbox_llm_cost_usd_total', { provider: 'anthropic', model: 'claude-haiku' })).toBeUndefined();
  for (const route of ROUTES) {
    for (const method of HTTP_METHODS) {
      for (const status of STATUS) {
        expect(v('chatbox_http_requests_total', { route, method, status })).toBe(model.get(`http:${route}:${method}:${status}`));
      }
      expect(v('chatbox_http_request_duration_seconds_count', { route, method })).toBe(model.get(`http_count:${route}:${method}`));
    }
  }
  for (const reason of DROP_REASONS) expect(v('chatbox_messages_dropped_total', { reason })).toBe(model.get(`dropped:${reason}`));
  for (const limiter of LIMITERS) expect(v('chatbox_ratelimit_blocked_total', { limiter })).toBe(model.get(`limited:${limiter}`));
  for (const operation of STORAGE_OPERATIONS) {
    expect(v('chatbox_storage_operation_seconds_count', { operation })).toBe(model.get(`storage_count:${operation}`));
  }
}

type Cmd = fc.AsyncCommand<Model, Real>;

class Emit implements Cmd {
  constructor(readonly event: AnyEvent) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    r.bus.emit(this.event.type, this.event.payload as never);
    m.apply(this.event);
    await check(m, r);
  }
  toString = (): string => `emit(${this.event.type})`;
}

/** A socket opens or closes as the registry would see it; `twice` repeats the close event. */
class Socket implements Cmd {
  constructor(readonly open: boolean, readonly twice: boolean) {}
  check = (m: Readonly<Model>): boolean => this.open || m.liveConnections > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.liveConnections += this.open ? 1 : -1;
    r.state.connections = m.liveConnections;
    const times = this.twice && !this.open ? 2 : 1;
    for (let i = 0; i < times; i++) {
      const e: AnyEvent = this.open
        ? { type: 'connectionOpened', payload: { role: 'user', transport: 'uws', open: m.liveConnections } }
        : { type: 'connectionClosed', payload: { role: 'user', transport: 'uws', reason: 'client', durationSeconds: 1, open: m.liveConnections } };
      // A duplicate close is not re-counted by the registry: it emits nothing the second time.
      if (i === 0) {
        r.bus.emit(e.type, e.payload as never);
        m.apply(e);
      }
    }
    await check(m, r);
  }
  toString = (): string => `socket(${this.open ? 'open' : 'close'}${this.twice ? ', twice' : ''})`;
}

class Session implements Cmd {
  constructor(readonly start: boolean) {}
  check = (m: Readonly<Model>): boolean => this.start || m.liveSessions > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.liveSessions += this.start ? 1 : -1;
    r.state.sessions = m.liveSessions;
    const e: AnyEvent = this.start
      ? { type: 'sessionCreated', payload: { open: m.liveSessions } }
      : { type: 'sessionEnded', payload: { reason: 'user', open: m.liveSessions } };
    r.bus.emit(e.type, e.payload as never);
    m.apply(e);
    await check(m, r);
  }
  toString = (): string => `session(${this.start ? 'start' : 'end'})`;
}

/** One attempt starts, as the reply source would run it: its count goes up, then llmRequested. */
class StartAttempt implements Cmd {
  constructor(readonly provider: Provider) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    m.liveInFlight[this.provider]++;
    r.state.inFlight[this.provider]++;
    emit(m, r, { type: 'llmRequested', payload: { provider: this.provider, model: 'gpt-4o-mini', streaming: true, attempt: 1 } });
    await check(m, r);
  }
  toString = (): string => `start(${this.provider})`;
}

type Outcome = 'responded' | 'failed' | 'cancelled';

/**
 * An open attempt ends: a streamed reply of `chunks` chunks (first token, then chunks - 1 gaps),
 * or a failure, or a cancellation; then its reply finishes. Mirrors the reply source's order.
 */
class EndAttempt implements Cmd {
  constructor(readonly provider: Provider, readonly outcome: Outcome, readonly chunks: number, readonly reason: LlmFinishReason) {}
  check = (m: Readonly<Model>): boolean => m.liveInFlight[this.provider] > 0;
  async run(m: Model, r: Real): Promise<void> {
    const provider = this.provider;
    const model = 'gpt-4o-mini';
    const before = m.get(`inter_token_count:${provider}`);
    m.liveInFlight[provider]--;
    r.state.inFlight[provider]--;
    let finish: LlmFinishReason = this.outcome === 'failed' ? 'error' : this.outcome === 'cancelled' ? 'cancelled' : this.reason;
    if (this.outcome === 'responded') {
      emit(m, r, { type: 'llmFirstToken', payload: { provider, model, seconds: 0.1 } });
      for (let i = 1; i < this.chunks; i++) emit(m, r, { type: 'llmChunkReceived', payload: { provider, model, gapSeconds: 0.02 * i } });
      emit(m, r, {
        type: 'llmResponded',
        payload: { provider, model, streaming: true, latencySeconds: 0.1, durationSeconds: 1, inputTokens: 30, outputTokens: this.chunks, cachedInputTokens: 10, reasoningTokens: 1 },
      });
      if (finish === 'error' || finish === 'cancelled') finish = 'stop';
    } else if (this.outcome === 'failed') {
      emit(m, r, { type: 'llmFailed', payload: { provider, model, streaming: true, reason: 'server_error', willRetry: false, status: 500 } });
    } else {
      emit(m, r, { type: 'llmCancelled', payload: { provider, model, streaming: true, cause: 'client_left' } });
    }
    emit(m, r, { type: 'llmFinished', payload: { provider, model, streaming: true, reason: finish, attempts: 1 } });
    // Inter-token observations = chunks - 1 for a streamed attempt that answered, 0 otherwise.
    if (m.attached) expect(m.get(`inter_token_count:${provider}`) - before).toBe(this.outcome === 'responded' ? this.chunks - 1 : 0);
    await check(m, r);
  }
  toString = (): string => `end(${this.provider}, ${this.outcome}, ${this.chunks}, ${this.reason})`;
}

function emit(m: Model, r: Real, e: AnyEvent): void {
  r.bus.emit(e.type, e.payload as never);
  m.apply(e);
}

class Attach implements Cmd {
  check = (m: Readonly<Model>): boolean => !m.attached;
  async run(m: Model, r: Real): Promise<void> {
    r.detach = attachMetrics(r.bus, r.registry, {
      providers: CONFIGURED,
      models: MODELS,
      ...(r.withSources
        ? { gauges: { connections: () => r.state.connections, sessions: () => r.state.sessions, llmInFlight: (p: Provider) => r.state.inFlight[p] } }
        : {}),
    });
    m.attached = true;
    await check(m, r);
  }
  toString = (): string => 'attach';
}

class Detach implements Cmd {
  check = (m: Readonly<Model>): boolean => m.attached;
  async run(m: Model, r: Real): Promise<void> {
    r.detach?.();
    r.detach?.(); // idempotent
    m.attached = false;
    await check(m, r);
  }
  toString = (): string => 'detach';
}

const commands = [
  anyEvent.map((e) => new Emit(e)),
  fc.tuple(fc.boolean(), fc.boolean()).map(([open, twice]) => new Socket(open, twice)),
  fc.boolean().map((start) => new Session(start)),
  fc.constantFrom(...PROVIDERS).map((p) => new StartAttempt(p)),
  fc
    .tuple(fc.constantFrom(...PROVIDERS), fc.constantFrom<Outcome>('responded', 'failed', 'cancelled'), fc.integer({ min: 1, max: 6 }), fc.constantFrom<LlmFinishReason>('stop', 'length', 'content_filter'))
    .map(([p, o, n, reason]) => new EndAttempt(p, o, n, reason)),
  fc.constant(new Attach()),
  fc.constant(new Detach()),
];

describe.each([
  ['with state sources (exact from any attach point)', true],
  ['with event-carried counts only', false],
])('metrics subscriber model, %s', (_title, withSources) => {
  it('scraped values equal the model after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60 }), async (cmds) => {
        const bus = createBus();
        const registry = createMetricsRegistry();
        const model = new Model();
        const real: Real = {
          bus,
          registry,
          withSources,
          detach: undefined,
          state: { connections: 0, sessions: 0, inFlight: { openai: 0, anthropic: 0, dify: 0, demo: 0 } },
        };
        // The registry exists from the first step, attached or not.
        await new Attach().run(model, real);
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        // Every attempt still open ends: in flight returns to 0 (exact with the reply source's count).
        for (const provider of PROVIDERS) {
          while (model.liveInFlight[provider] > 0) await new EndAttempt(provider, 'cancelled', 1, 'stop').run(model, real);
        }
        if (withSources) for (const provider of PROVIDERS) expect(model.liveInFlight[provider]).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});

describe('attachMetrics setup errors', () => {
  it('refuses a second live attachment to the same registry, with a code', () => {
    const registry = createMetricsRegistry();
    const bus = createBus();
    const detach = attachMetrics(bus, registry, { defaultMetrics: false });
    expect(() => attachMetrics(bus, registry)).toThrowError(expect.objectContaining({ code: 'CHATBOX_ERR_METRICS_ATTACHED' }));
    detach();
    expect(() => attachMetrics(bus, registry)()).not.toThrow();
  });

  it('a stale detach does not remove a newer attachment', async () => {
    const registry = createMetricsRegistry();
    const bus = createBus();
    const first = attachMetrics(bus, registry, { defaultMetrics: false });
    first();
    attachMetrics(bus, registry);
    first();
    bus.emit('messageReceived', { bytes: 1 });
    const x = parseExposition((await renderMetrics(registry)).body);
    expect(x.value('chatbox_messages_received_total')).toBe(1);
  });
});
