// Anthropic's messages wire format: the named SSE events from message_start to message_stop,
// the whole-message body and the error body.
import type { FakeFinish, FakeUsage } from '../fake-llm-server.js';
import { sse, type Wire } from './wire.js';

export const ANTHROPIC_FINISH: Record<FakeFinish, string> = { stop: 'end_turn', length: 'max_tokens', content_filter: 'refusal', tool_calls: 'tool_use', stop_sequence: 'stop_sequence' };

/** Anthropic's input_tokens leave the cache reads out; the adapter adds them back. */
const anthropicUsage = (u: FakeUsage) => ({
  input_tokens: u.input - (u.cachedInput ?? 0),
  output_tokens: u.output,
  ...(u.cachedInput === undefined ? {} : { cache_read_input_tokens: u.cachedInput, cache_creation_input_tokens: 0 }),
});

export function anthropicWire(model: string): Wire {
  return {
    start: () => [
      sse(
        {
          type: 'message_start',
          message: { id: 'msg_fake', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null },
        },
        'message_start',
      ),
      sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
      sse({ type: 'ping' }, 'ping'),
    ],
    text: (text) => sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
    end: (usage, finish) => [
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
      sse(
        {
          type: 'message_delta',
          delta: { stop_reason: finish, stop_sequence: null },
          ...(usage === undefined ? {} : { usage: anthropicUsage(usage) }),
        },
        'message_delta',
      ),
      sse({ type: 'message_stop' }, 'message_stop'),
    ],
    malformed: () => sse('{"type":"content_block_delta","delta":{"text":"bro', 'content_block_delta'),
    errorEvent: () => sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error'),
    whole: (text, usage, finish) => ({
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: finish,
      stop_sequence: null,
      ...(usage === undefined ? {} : { usage: anthropicUsage(usage) }),
    }),
    error: (status) => ({
      type: 'error',
      error: { type: status === 429 ? 'rate_limit_error' : status >= 500 ? 'api_error' : 'invalid_request_error', message: `fake error ${status}` },
    }),
  };
}
