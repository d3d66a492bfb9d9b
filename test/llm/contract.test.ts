// One contract, every provider, streamed and not: the real adapters (undici + eventsource-parser,
// src/llm/providers/) against the fake provider server.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer, type FakeProvider } from '../support/fake-llm-server.js';
import { FAKE_MODEL_IDS, collect, createRig, fakeConfig, metricSum, request, type LlmRig } from '../support/fake-llm/harness.js';
import type { Reply, ReplyRequest } from '../../src/llm/types.js';

const PROVIDERS: readonly FakeProvider[] = ['openai', 'anthropic', 'dify'];
const CASES = PROVIDERS.flatMap((provider) => [
  { provider, streaming: true },
  { provider, streaming: false },
]);

let fake: FakeLlmServer;
let rig: LlmRig;

beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(async () => {
  await rig?.close();
  rig = createRig(fakeConfig(fake));
});

/** One reply through stream() or complete(), as the text chunks seen and the usage. */
async function ask(streaming: boolean, req: ReplyRequest): Promise<{ chunks: string[]; text: string; usage: Reply['usage'] | undefined; dones: number }> {
  if (streaming) {
    const r = await collect(rig.replies, req);
    return { ...r, text: r.chunks.join('') };
  }
  const reply = await rig.replies.complete(req);
  return { chunks: [reply.text], text: reply.text, usage: reply.usage, dones: 1 };
}

describe.each(CASES)('reply contract: $provider, streaming=$streaming', ({ provider, streaming }) => {
  const model = FAKE_MODEL_IDS[provider];

  it('delivers the text intact and in order', async () => {
    const chunks = ['Grüß', ' dich', ', 🌍', ' "quoted"', ' \\ back\nslash', ' 终'];
    fake.script([{ chunks }]);
    const r = await ask(streaming, request(model, 'hello'));
    if (streaming) expect(r.chunks).toEqual(chunks);
    expect(r.text).toBe(chunks.join(''));
    expect(r.dones).toBe(1);
  });

  it('extracts the usage the provider reported', async () => {
    fake.script([{ usage: { input: 21, output: 9 } }]);
    const r = await ask(streaming, request(model, 'count me'));
    expect(r.usage).toEqual({ inputTokens: 21, outputTokens: 9 });
    const responded = rig.recorder.of('llmResponded');
    expect(responded).toHaveLength(1);
    expect(responded[0]).toMatchObject({ provider, model, streaming, inputTokens: 21, outputTokens: 9 });
    expect(await metricSum(rig.registry, 'chatbox_tokens_used_total', provider)).toBe(30);
  });

  it('reports 0 tokens when the provider reports no usage', async () => {
    fake.script([{ noUsage: true }]);
    const r = await ask(streaming, request(model, 'no usage'));
    expect(r.text).toBe('Hello from the fake provider.');
    expect(r.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    expect(rig.recorder.of('llmResponded')[0]).toMatchObject({ inputTokens: 0, outputTokens: 0 });
  });

  it('emits one attempt with the right events', async () => {
    await ask(streaming, request(model, 'events'));
    // Chunks after the first each add an llmChunkReceived (their count is checked in test/llm/depth.test.ts).
    const types = rig.recorder.events.map((e) => e.type).filter((t) => t !== 'llmChunkReceived');
    expect(types).toEqual(streaming ? ['llmRequested', 'llmFirstToken', 'llmResponded', 'llmFinished'] : ['llmRequested', 'llmResponded', 'llmFinished']);
    expect(rig.recorder.of('llmRequested')[0]).toEqual({ provider, model, streaming, attempt: 1 });
    const done = rig.recorder.of('llmResponded')[0]!;
    expect(done.durationSeconds).toBeGreaterThan(0);
    expect(done.latencySeconds).toBeGreaterThan(0);
    expect(done.latencySeconds).toBeLessThanOrEqual(done.durationSeconds);
    if (streaming) expect(rig.recorder.of('llmFirstToken')[0]).toMatchObject({ provider, model, seconds: done.latencySeconds });
    else expect(done.latencySeconds).toBe(done.durationSeconds);
  });

  it('sends the request in the provider wire format', async () => {
    const before = fake.requests().length;
    await ask(streaming, request(model, 'what is 2+2?'));
    const sent = fake.requests()[before]!;
    expect(sent.provider).toBe(provider);
    expect(sent.streaming).toBe(streaming);
    if (provider === 'openai') {
      expect(sent.body).toMatchObject({
        model: 'gpt-fake-1',
        messages: [
          { role: 'system', content: 'You are a test.' },
          { role: 'user', content: 'what is 2+2?' },
        ],
      });
      if (streaming) expect(sent.body['stream_options']).toEqual({ include_usage: true });
      expect(sent.headers['authorization']).toBe('Bearer sk-test');
    } else if (provider === 'anthropic') {
      expect(sent.body).toMatchObject({
        model: 'claude-fake-1',
        max_tokens: 256,
        system: 'You are a test.',
        messages: [{ role: 'user', content: 'what is 2+2?' }],
      });
      // SDK 1.x sends the key as a bearer token; older ones used x-api-key.
      expect([sent.headers['x-api-key'], sent.headers['authorization']]).toContain(
        sent.headers['x-api-key'] === undefined ? 'Bearer ak-test' : 'ak-test',
      );
    } else {
      expect(sent.body).toMatchObject({
        query: 'what is 2+2?',
        response_mode: streaming ? 'streaming' : 'blocking',
        user: 'user-1',
        inputs: {},
      });
      expect(sent.headers['authorization']).toBe('Bearer dk-test');
    }
  });

  it('agrees with the metrics read through the registry', async () => {
    await ask(streaming, request(model, 'one'));
    await ask(streaming, request(model, 'two'));
    expect(await metricSum(rig.registry, 'chatbox_llm_requests_total', provider)).toBe(2);
    expect(await metricSum(rig.registry, 'chatbox_llm_errors_total', provider)).toBe(0);
    expect(await metricSum(rig.registry, 'chatbox_llm_latency_seconds', provider)).toBe(2);
    expect(await metricSum(rig.registry, 'chatbox_tokens_used_total', provider)).toBe(2 * (12 + 6));
    expect(await metricSum(rig.registry, 'chatbox_llm_time_to_first_token_seconds', provider)).toBe(streaming ? 2 : 0);
  });
});

describe.each([true, false])('Dify conversations (streaming=%s)', (streaming) => {
  it('continues the same conversation per chat session, and a new one per new session', async () => {
    const before = fake.requests().length;
    const a = 'session-a';
    const b = 'session-b';
    await ask(streaming, request(FAKE_MODEL_IDS.dify, 'first', { sessionId: a }));
    await ask(streaming, request(FAKE_MODEL_IDS.dify, 'second', { sessionId: a }));
    await ask(streaming, request(FAKE_MODEL_IDS.dify, 'other', { sessionId: b }));
    await ask(streaming, request(FAKE_MODEL_IDS.dify, 'third', { sessionId: a }));
    const sent = fake.requests().slice(before).map((r) => r.body['conversation_id']);
    expect(sent[0]).toBe('');
    expect(sent[1]).toMatch(/^conv-\d+$/);
    expect(sent[2]).toBe('');
    expect(sent[3]).toBe(sent[1]);
  });

  it('forgets a conversation Dify no longer knows (404), so the next message starts afresh', async () => {
    const before = fake.requests().length;
    const s = `session-404-${streaming}`;
    await ask(streaming, request(FAKE_MODEL_IDS.dify, 'first', { sessionId: s }));
    fake.script([{ status: 404 }]);
    await expect(ask(streaming, request(FAKE_MODEL_IDS.dify, 'second', { sessionId: s }))).rejects.toMatchObject({ code: 'LLM_UNAVAILABLE' });
    await ask(streaming, request(FAKE_MODEL_IDS.dify, 'third', { sessionId: s }));
    const sent = fake.requests().slice(before).map((r) => r.body['conversation_id']);
    expect(sent[1]).toMatch(/^conv-\d+$/);
    expect(sent[2]).toBe('');
  });
});
