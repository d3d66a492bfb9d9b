// What the adapters read off the real wire formats beyond text and token counts: how a reply
// finished (OpenAI finish_reason, Anthropic stop_reason, Dify's message_end), cached input and
// reasoning tokens, and the sampling settings they send. The adapters are driven directly (the
// reply source passes what they report on); against the fake provider server.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeFinish, type FakeLlmServer, type FakeProvider } from '../support/fake-llm-server.js';
import { fakeModels, request } from '../support/fake-llm/harness.js';
import type { ModelSpec } from '../../src/llm/config.js';
import type { ProviderAdapter } from '../../src/llm/adapter.js';
import { createOpenAiAdapter } from '../../src/llm/providers/openai.js';
import { createAnthropicAdapter } from '../../src/llm/providers/anthropic.js';
import { createDifyAdapter } from '../../src/llm/providers/dify.js';
import type { FinishReason, Usage } from '../../src/llm/types.js';

const FACTORIES: Record<FakeProvider, (spec: ModelSpec) => ProviderAdapter> = {
  openai: createOpenAiAdapter,
  anthropic: createAnthropicAdapter,
  dify: createDifyAdapter,
};

let fake: FakeLlmServer;
const open: ProviderAdapter[] = [];

beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await Promise.all(open.map((a) => a.close()));
  await fake.close();
});
beforeEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()));
  fake.reset();
});

const spec = (provider: FakeProvider, extra: Record<string, unknown> = {}): ModelSpec =>
  ({ ...fakeModels(fake).find((m) => m.provider === provider)!, ...extra }) as ModelSpec;

/** One attempt straight through the provider's adapter, as what it reported. */
async function ask(
  provider: FakeProvider,
  streaming: boolean,
  text: string,
  extra: Record<string, unknown> = {},
): Promise<{ text: string; usage: Usage | undefined; finishReason: FinishReason | undefined; dones: number }> {
  const s = spec(provider, extra);
  const adapter = FACTORIES[provider](s);
  open.push(adapter);
  const call = { spec: s, request: request(s.id, text), signal: new AbortController().signal, onHeaders: () => {} };
  if (!streaming) {
    const reply = await adapter.complete(call);
    return { text: reply.text, usage: reply.usage, finishReason: reply.finishReason, dones: 1 };
  }
  let out = '';
  let usage: Usage | undefined;
  let finishReason: FinishReason | undefined;
  let dones = 0;
  for await (const c of adapter.stream(call)) {
    if (c.type === 'text') out += c.text;
    else {
      dones++;
      usage = c.usage;
      finishReason = c.finishReason;
    }
  }
  return { text: out, usage, finishReason, dones };
}

const CASES = (['openai', 'anthropic', 'dify'] as const).flatMap((provider) => [true, false].map((streaming) => ({ provider, streaming })));

describe.each(CASES)('finish reasons: $provider, streaming=$streaming', ({ provider, streaming }) => {
  // Dify's chat API names no finish reason: every message_end is a reply that ran to its end.
  const expected: Record<FakeFinish, FinishReason> =
    provider === 'dify'
      ? { stop: 'stop', length: 'stop', content_filter: 'stop', tool_calls: 'stop', stop_sequence: 'stop' }
      : { stop: 'stop', length: 'length', content_filter: 'content_filter', tool_calls: 'stop', stop_sequence: 'stop' };

  it.each(Object.keys(expected) as FakeFinish[])('maps %s', async (finish) => {
    fake.script([{ finish }]);
    const got = await ask(provider, streaming, `finish ${finish}`);
    expect(got.text).toBe('Hello from the fake provider.');
    expect(got.dones).toBe(1);
    expect(got.finishReason).toBe(expected[finish]);
  });

  it('reports no finish reason for a word it does not know, and still completes the reply', async () => {
    fake.script([{ rawFinish: 'something_new' }]);
    const got = await ask(provider, streaming, 'unknown finish');
    expect(got.text).toBe('Hello from the fake provider.');
    expect(got.finishReason).toBe(provider === 'dify' ? 'stop' : undefined);
    expect(got.dones).toBe(1);
  });
});

describe.each(CASES)('token details: $provider, streaming=$streaming', ({ provider, streaming }) => {

  it('reads cached input and reasoning tokens where the wire carries them', async () => {
    fake.script([{ usage: { input: 40, output: 9, cachedInput: 30, reasoning: 4 } }]);
    const got = await ask(provider, streaming, 'details');
    const want: Record<FakeProvider, Usage> = {
      openai: { inputTokens: 40, outputTokens: 9, cachedInputTokens: 30, reasoningTokens: 4 },
      // Anthropic counts cache reads apart from input_tokens; reasoning is not reported apart.
      anthropic: { inputTokens: 40, outputTokens: 9, cachedInputTokens: 30 },
      // Dify's usage has the two counts only.
      dify: { inputTokens: 40, outputTokens: 9 },
    };
    expect(got.usage).toStrictEqual(want[provider]);
  });

  it('leaves the details out when the provider reports none', async () => {
    fake.script([{ usage: { input: 5, output: 2 } }]);
    expect((await ask(provider, streaming, 'plain')).usage).toStrictEqual({ inputTokens: 5, outputTokens: 2 });
  });
});

describe('sampling settings in the request body', () => {
  it.each([true, false])('sends maxTokens and temperature to OpenAI and Anthropic, not to Dify (streaming=%s)', async (streaming) => {
    const before = fake.requests().length;
    for (const provider of ['openai', 'anthropic', 'dify'] as const) await ask(provider, streaming, 'sampled', { maxTokens: 77, temperature: 0.25 });
    const [openai, anthropic, dify] = fake.requests().slice(before);
    expect(openai!.body).toMatchObject({ max_completion_tokens: 77, temperature: 0.25 });
    expect(anthropic!.body).toMatchObject({ max_tokens: 77, temperature: 0.25 });
    // A Dify app's model settings live in the app; its API takes none.
    expect(dify!.body).not.toHaveProperty('temperature');
    expect(dify!.body).not.toHaveProperty('max_tokens');
  });

  it('leaves temperature out when the model entry sets none', async () => {
    const before = fake.requests().length;
    await ask('openai', true, 'default');
    await ask('anthropic', true, 'default');
    const [openai, anthropic] = fake.requests().slice(before);
    expect(openai!.body).not.toHaveProperty('temperature');
    expect(openai!.body).not.toHaveProperty('max_completion_tokens');
    expect(anthropic!.body).not.toHaveProperty('temperature');
    expect(anthropic!.body['max_tokens']).toBe(256);
  });
});

describe('server-wide defaults', () => {
  it('applies the server options finish and token details to every step that sets none', async () => {
    const other = await startFakeLlmServer({ finish: 'length', cachedInput: 3, reasoning: 2 });
    const s = { ...spec('openai'), baseUrl: other.baseUrls.openai };
    const adapter = createOpenAiAdapter(s);
    try {
      const call = { spec: s, request: request(s.id, 'defaults'), signal: new AbortController().signal, onHeaders: () => {} };
      const reply = await adapter.complete(call);
      expect(reply.finishReason).toBe('length');
      expect(reply.usage).toStrictEqual({ inputTokens: 12, outputTokens: 6, cachedInputTokens: 3, reasoningTokens: 2 });
    } finally {
      await adapter.close();
      await other.close();
    }
  });
});
