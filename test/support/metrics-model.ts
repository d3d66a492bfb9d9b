// The metrics model tests' expected side: the model (what a scrape must show, as plain numbers)
// and check(), which compares a scrape with it. Shared by the model tests with and without state
// sources, which differ only in where the gauges come from.
import { expect } from 'vitest';
import type { Bus } from '../../src/events/bus.js';
import {
  DROP_REASONS,
  HTTP_METHODS,
  LIMITERS,
  LLM_FINISH_REASONS,
  PROVIDERS,
  STORAGE_OPERATIONS,
  type Provider,
} from '../../src/events/catalog.js';
import { renderMetrics, type MetricsRegistry } from '../../src/metrics/render.js';
import type { AnyEvent } from './arbitraries.js';
import { parseExposition } from './exposition.js';

export interface Real {
  readonly bus: Bus;
  readonly registry: MetricsRegistry;
  readonly withSources: boolean;
  detach: (() => void) | undefined;
  state: { connections: number; sessions: number; inFlight: Record<Provider, number> };
}

export const CONFIGURED: Provider[] = ['openai', 'anthropic', 'dify'];
// The closed set of model ids; the arbitraries also emit ids outside it ('dify-app', 'demo').
export const MODELS = [
  { id: 'gpt-4o-mini', provider: 'openai', prices: { input: 0.5, output: 1.5, cachedInput: 0.25 } },
  { id: 'claude-haiku', provider: 'anthropic' },
] as const;
const ROUTES = ['/metrics', '/chatbox/healthz', '/chatbox/sessions/:id', 'unmatched'];
const STATUS = ['2xx', '3xx', '4xx', '5xx'] as const;
const statusClass = (s: number): string => STATUS[s < 300 ? 0 : s < 400 ? 1 : s < 500 ? 2 : 3] as string;

/** What the scrape must show, as plain numbers. */
export class Model {
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
  }
}

export async function check(model: Model, real: Real): Promise<void> {
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
