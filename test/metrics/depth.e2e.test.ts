// The LLM-depth series from the providers' real wire formats: the real adapters against the fake
// provider server (finish reasons, cached and reasoning usage, paced chunks), through the reply
// source, read from /metrics as Prometheus would.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import type { ReplySource } from '../../src/llm/types.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry, renderMetrics, type MetricsRegistry } from '../../src/metrics/render.js';
import { startFakeLlmServer, type FakeLlmServer, type FakeProvider } from '../support/fake-llm-server.js';
import { FAKE_MODEL_IDS, fakeConfig, request } from '../support/fake-llm/harness.js';
import { parseExposition } from '../support/exposition.js';

let fake: FakeLlmServer;
let replies: ReplySource;
let registry: MetricsRegistry;

beforeAll(async () => {
  fake = await startFakeLlmServer();
  const config = fakeConfig(fake);
  const models = config.models.map((m) => ({ ...m, prices: { input: 1, output: 2, cachedInput: 0.5 } }));
  const bus = createBus();
  registry = createMetricsRegistry();
  replies = createReplySource({ config: { ...config, models }, bus, random: () => 0 });
  attachMetrics(bus, registry, {
    providers: ['openai', 'anthropic', 'dify'],
    models: replies.models(),
    defaultMetrics: false,
    gauges: { llmInFlight: (p) => replies.inFlight?.(p) ?? 0 },
  });
});
afterAll(async () => {
  await replies.close();
  await fake.close();
});
beforeEach(() => fake.reset());

const read = async (name: string, labels: Record<string, string>): Promise<number> =>
  parseExposition((await renderMetrics(registry)).body).value(name, labels) ?? 0;

// What each wire can say: Dify names no finish reason and reports no cached/reasoning tokens.
const EXPECT: Record<FakeProvider, { finish: string; cached: number; reasoning: number }> = {
  openai: { finish: 'length', cached: 10, reasoning: 3 },
  anthropic: { finish: 'length', cached: 10, reasoning: 0 },
  dify: { finish: 'stop', cached: 0, reasoning: 0 },
};

describe.each(['openai', 'anthropic', 'dify'] as const)('LLM depth from the %s wire', (provider) => {
  const model = FAKE_MODEL_IDS[provider];

  it('paced chunks give chunks - 1 gaps; finish reason, cached/reasoning tokens, cost; in flight 1 then 0', async () => {
    const before = {
      gaps: await read('chatbox_llm_inter_token_seconds_count', { provider }),
      finished: await read('chatbox_llm_finished_total', { provider, reason: EXPECT[provider].finish }),
    };
    fake.script([{ chunks: ['a', 'b', 'c', 'd', 'e'], chunkDelayMs: 8, finish: 'length', usage: { input: 30, output: 5, cachedInput: 10, reasoning: 3 } }]);
    const inFlight: number[] = [];
    for await (const c of replies.stream(request(model, 'hello'))) {
      if (c.type === 'text') inFlight.push(await read('chatbox_llm_in_flight', { provider }));
    }
    expect(inFlight).toEqual([1, 1, 1, 1, 1]);
    expect(await read('chatbox_llm_in_flight', { provider })).toBe(0);
    expect((await read('chatbox_llm_inter_token_seconds_count', { provider })) - before.gaps).toBe(4);
    expect((await read('chatbox_llm_finished_total', { provider, reason: EXPECT[provider].finish })) - before.finished).toBe(1);
    expect(await read('chatbox_llm_token_details_total', { provider, type: 'cached_input' })).toBe(EXPECT[provider].cached);
    expect(await read('chatbox_llm_token_details_total', { provider, type: 'reasoning' })).toBe(EXPECT[provider].reasoning);
    const cached = EXPECT[provider].cached;
    expect(await read('chatbox_llm_cost_usd_total', { provider, model })).toBeCloseTo(((30 - cached) * 1 + cached * 0.5 + 5 * 2) / 1e6, 12);
    expect(await read('chatbox_llm_model_requests_total', { provider, model })).toBe(1);
  });

  it('a provider down for every attempt finishes the reply as error, after 3 attempts', async () => {
    fake.script([{ status: 500 }, { status: 500 }, { status: 500 }]);
    await expect(replies.complete(request(model, 'hello'))).rejects.toMatchObject({ code: 'LLM_UNAVAILABLE' });
    expect(await read('chatbox_llm_finished_total', { provider, reason: 'error' })).toBe(1);
    expect(await read('chatbox_llm_model_requests_total', { provider, model })).toBe(4);
    expect(await read('chatbox_llm_in_flight', { provider })).toBe(0);
  });
});
