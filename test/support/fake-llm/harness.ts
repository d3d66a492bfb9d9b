// Wiring for LLM tests and benchmarks: a config whose three models point at the fake server, and
// a reply source + bus + recorder + metrics registry around it.
import { createBus, type Bus } from '../../../src/events/bus.js';
import { attachRecorder, type Recorder } from '../../../src/events/recorder.js';
import { attachMetrics } from '../../../src/metrics/attach.js';
import { createMetricsRegistry, type MetricsRegistry } from '../../../src/metrics/render.js';
import type { LlmConfig, ModelSpec, RetryPolicy, Timeouts } from '../../../src/llm/config.js';
import { createReplySource } from '../../../src/llm/reply-source.js';
import type { ReplyRequest, ReplySource } from '../../../src/llm/types.js';
import type { FakeLlmServer, FakeProvider } from '../fake-llm-server.js';

export const FAKE_MODEL_IDS: Record<FakeProvider, string> = {
  openai: 'gpt-fake',
  anthropic: 'claude-fake',
  dify: 'dify-fake',
};

export function fakeModels(fake: Pick<FakeLlmServer, 'baseUrls'>): ModelSpec[] {
  return [
    { id: FAKE_MODEL_IDS.openai, name: 'Fake OpenAI', provider: 'openai', model: 'gpt-fake-1', baseUrl: fake.baseUrls.openai, apiKey: 'sk-test', maxTokens: undefined },
    { id: FAKE_MODEL_IDS.anthropic, name: 'Fake Anthropic', provider: 'anthropic', model: 'claude-fake-1', baseUrl: fake.baseUrls.anthropic, apiKey: 'ak-test', maxTokens: 256 },
    { id: FAKE_MODEL_IDS.dify, name: 'Fake Dify', provider: 'dify', model: 'dify-app', baseUrl: fake.baseUrls.dify, apiKey: 'dk-test', maxTokens: undefined },
  ];
}

export function fakeConfig(
  fake: Pick<FakeLlmServer, 'baseUrls'>,
  overrides: { retry?: Partial<RetryPolicy>; timeouts?: Partial<Timeouts> } = {},
): LlmConfig {
  return {
    models: fakeModels(fake),
    demoOnly: false,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 4, maxRetryAfterMs: 50, ...overrides.retry },
    timeouts: { connectMs: 2_000, firstTokenMs: 3_000, totalMs: 5_000, ...overrides.timeouts },
  };
}

export interface LlmRig {
  readonly bus: Bus;
  readonly recorder: Recorder;
  readonly registry: MetricsRegistry;
  readonly replies: ReplySource;
  close(): Promise<void>;
}

export function createRig(config: LlmConfig): LlmRig {
  const bus = createBus();
  const recorder = attachRecorder(bus);
  const registry = createMetricsRegistry();
  const detach = attachMetrics(bus, registry, { providers: ['openai', 'anthropic', 'dify'], defaultMetrics: false });
  const replies = createReplySource({ config, bus, demoChunkDelayMs: 0, random: () => 0.5 });
  return {
    bus,
    recorder,
    registry,
    replies,
    async close() {
      await replies.close();
      detach();
      recorder.detach();
    },
  };
}

export function request(model: string, text: string, extra: Partial<ReplyRequest> = {}): ReplyRequest {
  return {
    model,
    messages: [
      { role: 'system', content: 'You are a test.' },
      { role: 'user', content: text },
    ],
    signal: new AbortController().signal,
    sessionId: 'session-1',
    userId: 'user-1',
    ...extra,
  };
}

/** Drains a stream into its text and final usage; rethrows what the stream throws. */
export async function collect(replies: ReplySource, req: ReplyRequest): Promise<{ chunks: string[]; usage: { inputTokens: number; outputTokens: number } | undefined; dones: number }> {
  const chunks: string[] = [];
  let usage: { inputTokens: number; outputTokens: number } | undefined;
  let dones = 0;
  for await (const c of replies.stream(req)) {
    if (c.type === 'text') chunks.push(c.text);
    else {
      usage = c.usage;
      dones++;
    }
  }
  return { chunks, usage, dones };
}

/** Sum of a counter's (or a histogram's `_count`) values across labels, read from the registry. */
export async function metricSum(registry: MetricsRegistry, name: string, provider?: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  let sum = 0;
  for (const v of data.values) {
    const labels = v.labels as Record<string, string | number | undefined>;
    if (provider !== undefined && labels['provider'] !== provider) continue;
    const metricName = (v as { metricName?: string }).metricName;
    if (String(data.type) === 'histogram' && metricName !== `${name}_count`) continue;
    sum += v.value;
  }
  return sum;
}

export type AttemptOutcome =
  | { readonly attempt: number; readonly kind: 'responded' }
  | { readonly attempt: number; readonly kind: 'failed'; readonly reason: string; readonly willRetry: boolean; readonly status: number }
  | { readonly attempt: number; readonly kind: 'cancelled'; readonly cause: string };

/**
 * The outcome of every attempt, in order, from the recorded llm* events. Throws when an attempt
 * does not have exactly one outcome event, or an outcome has no attempt.
 */
export function attemptOutcomes(recorder: Recorder): AttemptOutcome[] {
  const out: AttemptOutcome[] = [];
  let open: number | undefined;
  for (const e of recorder.events) {
    if (e.type === 'llmRequested') {
      if (open !== undefined) throw new Error(`attempt ${open} has no outcome event before attempt ${e.payload.attempt}`);
      open = e.payload.attempt;
      continue;
    }
    if (e.type !== 'llmResponded' && e.type !== 'llmFailed' && e.type !== 'llmCancelled') continue;
    if (open === undefined) throw new Error(`${e.type} without an llmRequested before it`);
    if (e.type === 'llmResponded') out.push({ attempt: open, kind: 'responded' });
    else if (e.type === 'llmFailed') out.push({ attempt: open, kind: 'failed', reason: e.payload.reason, willRetry: e.payload.willRetry, status: e.payload.status });
    else out.push({ attempt: open, kind: 'cancelled', cause: e.payload.cause });
    open = undefined;
  }
  if (open !== undefined) throw new Error(`attempt ${open} has no outcome event`);
  return out;
}

/** The equalities the metrics contract promises, between the recorded events and the registry. */
export async function metricsAgreeWithEvents(rig: LlmRig): Promise<{ events: Record<string, number>; metrics: Record<string, number> }> {
  const r = rig.recorder;
  const responded = r.of('llmResponded');
  const events = {
    requests: r.count('llmRequested'),
    errors: r.count('llmFailed'),
    latency: responded.length,
    tokens: responded.reduce((n, e) => n + e.inputTokens + e.outputTokens, 0),
    retries: r.of('llmRequested').filter((e) => e.attempt > 1).length,
    firstTokens: r.count('llmFirstToken'),
  };
  const metrics = {
    requests: await metricSum(rig.registry, 'chatbox_llm_requests_total'),
    errors: await metricSum(rig.registry, 'chatbox_llm_errors_total'),
    latency: await metricSum(rig.registry, 'chatbox_llm_latency_seconds'),
    tokens: await metricSum(rig.registry, 'chatbox_tokens_used_total'),
    retries: await metricSum(rig.registry, 'chatbox_llm_retries_total'),
    firstTokens: await metricSum(rig.registry, 'chatbox_llm_time_to_first_token_seconds'),
  };
  return { events, metrics };
}

/** Waits (bounded) until no more timers are active than `baseline`; returns the count seen last. */
export async function settledTimers(baseline: number, withinMs = 1_000): Promise<number> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    // Our own polling timer is not active while we count.
    const n = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    if (n <= baseline || Date.now() >= deadline) return n;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
