// The reply source's new events against a scripted adapter: one gap per chunk after the first,
// exactly one llmFinished per reply with the right reason, the in-flight count back to 0 on every
// path, cached/reasoning tokens passed on; and what it sends: system prompt first, history cut to
// the model's token budget.
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachRecorder } from '../../src/events/recorder.js';
import { ProviderFailure } from '../../src/llm/failure.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import { countText, estimateTokens, PER_TURN_OVERHEAD, tokenizerFor } from '../../src/llm/tokens.js';
import type { ChatTurn, ReplyRequest } from '../../src/llm/types.js';
import { llmConfig, scriptedAdapter, spec, type ScriptedAttempt } from '../support/scripted-adapter.js';

const request = (messages: readonly ChatTurn[], signal = new AbortController().signal): ReplyRequest => ({
  model: 'm',
  messages,
  signal,
  sessionId: 's',
  userId: 'u',
});
const user = (content: string): ChatTurn => ({ role: 'user', content });

function rig(script: readonly ScriptedAttempt[], extra: Parameters<typeof spec>[2] = {}) {
  const bus = createBus();
  const recorder = attachRecorder(bus);
  const adapter = scriptedAdapter(script);
  const replies = createReplySource({ config: llmConfig([spec('m', 'openai', { model: 'gpt-4o-mini', ...extra })]), bus, random: () => 0, adapters: { openai: () => adapter } });
  return { bus, recorder, adapter, replies };
}

const ok = (chunks: string[], finishReason?: 'stop' | 'length' | 'content_filter'): ScriptedAttempt => ({
  chunks,
  usage: { inputTokens: 10, outputTokens: chunks.length, cachedInputTokens: 4, reasoningTokens: 1 },
  ...(finishReason === undefined ? {} : { finishReason }),
});

describe('reply source: LLM depth events', () => {
  it('a streamed reply: chunks - 1 gaps, one llmFinished with the provider reason, in flight 1 then 0', async () => {
    const { recorder, replies } = rig([ok(['a', 'b', 'c', 'd', 'e'], 'length')]);
    const seen: number[] = [];
    for await (const c of replies.stream(request([user('hi')]))) if (c.type === 'text') seen.push(replies.inFlight?.('openai') ?? -1);
    expect(seen).toEqual([1, 1, 1, 1, 1]);
    expect(replies.inFlight?.('openai')).toBe(0);
    expect(recorder.count('llmChunkReceived')).toBe(4);
    expect(recorder.of('llmChunkReceived').every((e) => e.gapSeconds >= 0 && e.model === 'm')).toBe(true);
    expect(recorder.of('llmFinished')).toEqual([{ provider: 'openai', model: 'm', streaming: true, reason: 'length', attempts: 1 }]);
    expect(recorder.of('llmResponded')[0]).toMatchObject({ cachedInputTokens: 4, reasoningTokens: 1 });
  });

  it('a provider that says nothing about how it finished counts as stop; complete() too', async () => {
    const { recorder, replies } = rig([ok(['x'])]);
    const reply = await replies.complete(request([user('hi')]));
    expect(reply.text).toBe('x');
    expect(recorder.of('llmFinished')).toEqual([{ provider: 'openai', model: 'm', streaming: false, reason: 'stop', attempts: 1 }]);
    expect(recorder.count('llmChunkReceived')).toBe(0);
    expect(replies.inFlight?.('openai')).toBe(0);
  });

  it('failure after every attempt finishes once with error; a retry that succeeds finishes with its reason', async () => {
    const down: ScriptedAttempt = { fail: new ProviderFailure('server_error', 503, 'down') };
    const failing = rig([down]);
    await expect(async () => {
      for await (const _ of failing.replies.stream(request([user('hi')]))) void _;
    }).rejects.toMatchObject({ code: 'LLM_UNAVAILABLE' });
    expect(failing.recorder.of('llmFinished')).toEqual([{ provider: 'openai', model: 'm', streaming: true, reason: 'error', attempts: 3 }]);
    expect(failing.recorder.of('llmFailed').every((e) => (e.durationSeconds ?? -1) >= 0)).toBe(true);
    expect(failing.replies.inFlight?.('openai')).toBe(0);

    const flaky = rig([down, ok(['y'], 'content_filter')]);
    await flaky.replies.complete(request([user('hi')]));
    expect(flaky.recorder.of('llmFinished')).toEqual([{ provider: 'openai', model: 'm', streaming: false, reason: 'content_filter', attempts: 2 }]);
  });

  it('a consumer that stops mid-reply, or a cancellation, finishes the reply as cancelled', async () => {
    const stopped = rig([ok(['a', 'b', 'c'])]);
    for await (const c of stopped.replies.stream(request([user('hi')]))) if (c.type === 'text') break;
    expect(stopped.recorder.of('llmFinished').map((e) => e.reason)).toEqual(['cancelled']);
    expect(stopped.replies.inFlight?.('openai')).toBe(0);

    // Cancelled while waiting to retry: the attempt had already failed, the reply is cancelled.
    const controller = new AbortController();
    const slow = rig([{ fail: new ProviderFailure('server_error', 500, 'down') }]);
    const bus = slow.bus;
    bus.on('llmFailed', () => controller.abort('client_left'), 'test');
    await expect(slow.replies.complete(request([user('hi')], controller.signal))).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(slow.recorder.of('llmFinished').map((e) => e.reason)).toEqual(['cancelled']);
    expect(slow.replies.inFlight?.('openai')).toBe(0);
  });
});

describe('reply source: system prompt and history budget', () => {
  it('sends the configured system prompt first', async () => {
    const { adapter, replies } = rig([ok(['x'])], { systemPrompt: 'Be brief.' });
    await replies.complete(request([user('hi')]));
    expect(adapter.calls[0]?.request.messages).toEqual([{ role: 'system', content: 'Be brief.' }, user('hi')]);
  });

  it('drops the oldest turns whole until the rest fits the budget; the newest always goes', async () => {
    const turns = Array.from({ length: 10 }, (_, i) => user(`message number ${i} ${'word '.repeat(20)}`));
    const perTurn = countText('o200k_base', turns[0]!.content) + PER_TURN_OVERHEAD;
    const { adapter, replies } = rig([ok(['x'])], { systemPrompt: 'S', historyTokens: perTurn * 3 + 10 });
    await replies.complete(request(turns));
    const sent = adapter.calls[0]!.request.messages;
    expect(sent[0]).toEqual({ role: 'system', content: 'S' });
    expect(sent.slice(1)).toEqual(turns.slice(-3));

    const tiny = rig([ok(['x'])], { historyTokens: 1 });
    await tiny.replies.complete(request(turns));
    expect(tiny.adapter.calls[0]!.request.messages).toEqual(turns.slice(-1));
  });

  it('counts OpenAI families with their real tokenizer, others with the documented estimate', () => {
    expect(tokenizerFor({ provider: 'openai', model: 'gpt-4o-mini' })).toBe('o200k_base');
    expect(tokenizerFor({ provider: 'openai', model: 'gpt-4-turbo' })).toBe('cl100k_base');
    expect(tokenizerFor({ provider: 'openai', model: 'llama3.1' })).toBe('estimate');
    expect(tokenizerFor({ provider: 'anthropic', model: 'claude-3-5-haiku-latest' })).toBe('estimate');
    expect(countText('o200k_base', 'hello world')).toBe(2);
    expect(countText('cl100k_base', 'hello world')).toBe(2);
    expect(estimateTokens('hello world')).toBe(4);
    expect(estimateTokens('日本語')).toBe(3);
  });
});
