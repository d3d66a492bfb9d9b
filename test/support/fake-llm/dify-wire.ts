// Dify's chat-messages wire format: message events carrying the conversation id, message_end
// with the usage in its metadata, the blocking-mode body and the error body.
import type { FakeUsage } from '../fake-llm-server.js';
import { sse, type Wire } from './wire.js';

export function difyWire(conversationId: string): Wire {
  const ids = { task_id: 'task-fake', message_id: 'msg-fake', conversation_id: conversationId };
  const usageOf = (u: FakeUsage) => ({
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    total_price: '0',
    currency: 'USD',
    latency: 0.1,
  });
  return {
    start: () => [sse({ event: 'workflow_started', ...ids, data: {} })],
    text: (text) => sse({ event: 'message', ...ids, id: 'msg-fake', answer: text, created_at: 1700000000 }),
    end: (usage) => [sse({ event: 'message_end', ...ids, id: 'msg-fake', metadata: usage === undefined ? {} : { usage: usageOf(usage) } })],
    malformed: () => sse('{"event":"message","answer":"bro'),
    errorEvent: () => sse({ event: 'error', ...ids, status: 500, code: 'internal_error', message: 'fake in-stream error' }),
    whole: (text, usage) => ({
      event: 'message',
      ...ids,
      id: 'msg-fake',
      mode: 'chat',
      answer: text,
      metadata: usage === undefined ? {} : { usage: usageOf(usage) },
      created_at: 1700000000,
    }),
    error: (status) => ({ code: status === 429 ? 'too_many_requests' : 'fake_error', message: `fake error ${status}`, status }),
  };
}
