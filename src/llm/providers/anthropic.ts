// Anthropic messages API through the official SDK: raw streaming events (message_start carries
// the input usage, message_delta the running output usage, message_stop ends the reply). The
// SDK's own retries are off: the reply source owns retries, timeouts and cancellation.
import Anthropic, { APIConnectionError } from '@anthropic-ai/sdk';
import type { MessageParam, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import type { ModelSpec } from '../config.js';
import { tokens, type AttemptCall, type ProviderAdapter } from '../adapter.js';
import { ProviderFailure } from '../failure.js';
import type { ChatTurn, Reply, ReplyChunk, Usage } from '../types.js';
import { fromSdkError } from './sdk-errors.js';

const SDK_TIMEOUT_MS = 60 * 60 * 1000;
/** Anthropic requires a limit; this one is used when the model entry sets none. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 1024;

/** Anthropic takes the system prompt apart from the turns. */
function split(turns: readonly ChatTurn[]): { system: string | undefined; messages: MessageParam[] } {
  const system: string[] = [];
  const messages: MessageParam[] = [];
  for (const t of turns) {
    if (t.role === 'system') system.push(t.content);
    else messages.push({ role: t.role, content: t.content });
  }
  return { system: system.length > 0 ? system.join('\n\n') : undefined, messages };
}

interface AnthropicUsage {
  readonly input_tokens?: unknown;
  readonly output_tokens?: unknown;
  readonly cache_creation_input_tokens?: unknown;
  readonly cache_read_input_tokens?: unknown;
}

/** Input counts cached prompt tokens too: they were processed (and billed, at another rate). */
const inputOf = (u: AnthropicUsage | null | undefined): number =>
  u == null ? 0 : tokens(u.input_tokens) + tokens(u.cache_creation_input_tokens) + tokens(u.cache_read_input_tokens);

export function createAnthropicAdapter(spec: ModelSpec): ProviderAdapter {
  const client = new Anthropic({
    apiKey: spec.apiKey ?? null,
    ...(spec.baseUrl === undefined ? {} : { baseURL: spec.baseUrl }),
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    logLevel: 'off',
  });
  const maxTokens = spec.maxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS;

  const params = (call: AttemptCall) => {
    const { system, messages } = split(call.request.messages);
    return { model: spec.model, max_tokens: maxTokens, messages, ...(system === undefined ? {} : { system }) };
  };

  async function* stream(call: AttemptCall): AsyncGenerator<ReplyChunk, void, undefined> {
    let events: AsyncIterable<RawMessageStreamEvent>;
    try {
      events = await client.messages.create({ ...params(call), stream: true }, { signal: call.signal });
    } catch (error) {
      throw fromSdkError(error, APIConnectionError);
    }
    call.onHeaders();
    let input = 0;
    let output = 0;
    let stopped = false;
    try {
      for await (const event of events) {
        switch (event.type) {
          case 'content_block_delta':
            if (event.delta.type === 'text_delta' && event.delta.text !== '') yield { type: 'text', text: event.delta.text };
            break;
          case 'message_start':
            input = inputOf(event.message.usage);
            output = tokens(event.message.usage?.output_tokens);
            break;
          case 'message_delta': {
            // Counts here are cumulative; input may be repeated (or absent) here.
            const u = event.usage as AnthropicUsage | null | undefined;
            input = Math.max(input, inputOf(u));
            output = Math.max(output, tokens(u?.output_tokens));
            break;
          }
          case 'message_stop':
            stopped = true;
            break;
          default:
            break;
        }
      }
    } catch (error) {
      throw fromSdkError(error, APIConnectionError);
    }
    if (stopped) yield { type: 'done', usage: { inputTokens: input, outputTokens: output } satisfies Usage };
  }

  async function complete(call: AttemptCall): Promise<Reply> {
    try {
      const pending = client.messages.create({ ...params(call), stream: false }, { signal: call.signal });
      await pending.asResponse();
      call.onHeaders();
      const message = await pending;
      if (!Array.isArray(message.content)) throw new ProviderFailure('bad_response', 0, 'the reply has no content list');
      let text = '';
      for (const block of message.content) if (block.type === 'text') text += block.text;
      return { text, usage: { inputTokens: inputOf(message.usage), outputTokens: tokens(message.usage?.output_tokens) } };
    } catch (error) {
      throw fromSdkError(error, APIConnectionError);
    }
  }

  return { stream, complete, close: async () => {} };
}
