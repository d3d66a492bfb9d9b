// OpenAI's chat-completions wire format (also what the OpenAI-compatible servers speak): chunks,
// the closing usage chunk and [DONE], the whole-reply body and the error body.
import type { FakeFinish, FakeUsage } from '../fake-llm-server.js';
import { sse, type Wire } from './wire.js';

export const OPENAI_FINISH: Record<FakeFinish, string> = { stop: 'stop', length: 'length', content_filter: 'content_filter', tool_calls: 'tool_calls', stop_sequence: 'stop' };

const openaiUsage = (u: FakeUsage) => ({
  prompt_tokens: u.input,
  completion_tokens: u.output,
  total_tokens: u.input + u.output,
  ...(u.cachedInput === undefined ? {} : { prompt_tokens_details: { cached_tokens: u.cachedInput, audio_tokens: 0 } }),
  ...(u.reasoning === undefined ? {} : { completion_tokens_details: { reasoning_tokens: u.reasoning, audio_tokens: 0 } }),
});

export function openaiWire(model: string): Wire {
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1700000000, model };
  return {
    start: () => [sse({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })],
    text: (text) => sse({ ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }),
    end: (usage, finish) => [
      sse({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] }),
      ...(usage === undefined ? [] : [sse({ ...base, choices: [], usage: openaiUsage(usage) })]),
      sse('[DONE]'),
    ],
    malformed: () => sse('{"id":"chatcmpl-fake","choices":[{"delta":{"content":"bro'),
    errorEvent: () => sse({ error: { message: 'The server had an error while processing your request.', type: 'server_error' } }),
    whole: (text, usage, finish) => ({
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: 1700000000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
      ...(usage === undefined ? {} : { usage: openaiUsage(usage) }),
    }),
    error: (status) => ({ error: { message: `fake error ${status}`, type: status === 429 ? 'rate_limit_exceeded' : 'fake_error', code: null } }),
  };
}
