// The built-in demo model: deterministic, streamed through the same reply source (so the same
// events and metrics), cancellable, and clearly named.
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachRecorder } from '../../src/events/recorder.js';
import { loadModelConfig } from '../../src/llm/config.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import { demoChunks } from '../../src/llm/providers/demo.js';
import type { ReplyRequest } from '../../src/llm/types.js';

const req = (content: string, signal = new AbortController().signal): ReplyRequest => ({
  model: 'demo',
  messages: [
    { role: 'user', content: 'earlier question' },
    { role: 'assistant', content: 'earlier answer' },
    { role: 'user', content },
  ],
  signal,
  sessionId: 's',
  userId: 'u',
});

describe('demo model', () => {
  it('streams a deterministic reply derived from the last user message, with word-count usage', async () => {
    const bus = createBus();
    const recorder = attachRecorder(bus);
    const replies = createReplySource({ config: await loadModelConfig({}), bus, demoChunkDelayMs: 0 });
    expect(replies.models()).toEqual([{ id: 'demo', name: expect.stringMatching(/built-in demo.*not an LLM/i), provider: 'demo' }]);
    expect(replies.defaultModel()).toBe('demo');
    const chunks: string[] = [];
    let usage;
    for await (const c of replies.stream(req('how are   you?'))) {
      if (c.type === 'text') chunks.push(c.text);
      else usage = c.usage;
    }
    expect(chunks).toEqual(demoChunks(req('how are   you?')));
    expect(chunks.join('')).toContain('You said: "how are you?"');
    expect(chunks.length).toBeGreaterThan(5);
    expect(usage).toEqual({ inputTokens: 7, outputTokens: chunks.length });
    expect(recorder.events.map((e) => e.type)).toEqual([
      'llmRequested',
      'llmFirstToken',
      ...chunks.slice(1).map(() => 'llmChunkReceived'),
      'llmResponded',
      'llmFinished',
    ]);
    expect(recorder.of('llmFinished')).toEqual([{ provider: 'demo', model: 'demo', streaming: true, reason: 'stop', attempts: 1 }]);
    expect(recorder.of('llmResponded')[0]).toMatchObject({ provider: 'demo', model: 'demo', streaming: true, inputTokens: 7 });
    const whole = await replies.complete(req('how are   you?'));
    expect(whole.text).toBe(chunks.join(''));
    await replies.close();
  });

  it('stops at once when cancelled mid-reply', async () => {
    const bus = createBus();
    const recorder = attachRecorder(bus);
    const replies = createReplySource({ config: await loadModelConfig({}), bus, demoChunkDelayMs: 20 });
    const controller = new AbortController();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of replies.stream(req('hello', controller.signal))) {
          if (c.type === 'text') seen.push(c.text);
          if (seen.length === 3) controller.abort('takeover');
        }
      })(),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toHaveLength(3);
    expect(recorder.of('llmCancelled')).toEqual([{ provider: 'demo', model: 'demo', streaming: true, cause: 'takeover' }]);
    await replies.close();
  });
});
