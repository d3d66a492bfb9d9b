// OpenAI chat completions through the official SDK. The base URL is configurable, so any
// OpenAI-compatible server (vLLM, Ollama, LiteLLM) works. The SDK's own retries are off: the
// reply source owns retries, timeouts and cancellation.
import OpenAI, { APIConnectionError } from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ModelSpec } from '../config.js';
import { NO_USAGE, tokens, type AttemptCall, type ProviderAdapter } from '../adapter.js';
import { ProviderFailure } from '../failure.js';
import type { ChatTurn, Reply, ReplyChunk, Usage } from '../types.js';
import { fromSdkError } from './sdk-errors.js';

// Our timers decide; the SDK's own timeout is only a backstop far beyond them.
const SDK_TIMEOUT_MS = 60 * 60 * 1000;

const toMessages = (turns: readonly ChatTurn[]): ChatCompletionMessageParam[] =>
  turns.map((t) => ({ role: t.role, content: t.content }));

const usageOf = (u: { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined): Usage =>
  u == null ? NO_USAGE : { inputTokens: tokens(u.prompt_tokens), outputTokens: tokens(u.completion_tokens) };

export function createOpenAiAdapter(spec: ModelSpec): ProviderAdapter {
  const client = new OpenAI({
    // Local OpenAI-compatible servers accept any key; the SDK insists on one.
    apiKey: spec.apiKey ?? 'not-needed',
    ...(spec.baseUrl === undefined ? {} : { baseURL: spec.baseUrl }),
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    logLevel: 'off',
  });
  const limit = spec.maxTokens === undefined ? {} : { max_completion_tokens: spec.maxTokens };

  async function* stream(call: AttemptCall): AsyncGenerator<ReplyChunk, void, undefined> {
    let chunks: AsyncIterable<ChatCompletionChunk>;
    try {
      chunks = await client.chat.completions.create(
        {
          model: spec.model,
          messages: toMessages(call.request.messages),
          stream: true,
          stream_options: { include_usage: true },
          ...limit,
        },
        { signal: call.signal },
      );
    } catch (error) {
      throw fromSdkError(error, APIConnectionError);
    }
    call.onHeaders();
    let finished = false;
    let usage: Usage = NO_USAGE;
    try {
      for await (const chunk of chunks) {
        // With include_usage the last chunk has no choices and carries the usage.
        if (chunk.usage != null) usage = usageOf(chunk.usage);
        const choice = chunk.choices?.[0];
        if (choice === undefined) continue;
        const text = choice.delta?.content;
        if (typeof text === 'string' && text !== '') yield { type: 'text', text };
        if (choice.finish_reason != null) finished = true;
      }
    } catch (error) {
      throw fromSdkError(error, APIConnectionError);
    }
    // No finish_reason: the stream ended early (or was aborted); the reply source decides which.
    if (finished) yield { type: 'done', usage };
  }

  async function complete(call: AttemptCall): Promise<Reply> {
    try {
      const pending = client.chat.completions.create(
        { model: spec.model, messages: toMessages(call.request.messages), ...limit },
        { signal: call.signal },
      );
      await pending.asResponse();
      call.onHeaders();
      const body = await pending;
      const text = body.choices?.[0]?.message?.content;
      if (typeof text !== 'string') throw new ProviderFailure('bad_response', 0, 'the reply has no choices[0].message.content');
      return { text, usage: usageOf(body.usage) };
    } catch (error) {
      throw fromSdkError(error, APIConnectionError);
    }
  }

  return { stream, complete, close: async () => {} };
}
