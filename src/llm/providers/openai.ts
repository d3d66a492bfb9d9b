// OpenAI chat completions over undici (http.ts). The base URL is configurable, so any
// OpenAI-compatible server works: vLLM and Ollama (`http://host:port/v1`), LiteLLM, and
// Azure-style deployments (`https://res.openai.azure.com/openai/deployments/NAME?api-version=...`,
// which also get the key as `api-key`). No retries here: the reply source owns retries, timeouts
// and cancellation.
import type { ModelSpec } from '../config.js';
import { sampling, usageOf, type AttemptCall, type ProviderAdapter } from '../adapter.js';
import { ProviderFailure } from '../failure.js';
import type { FinishReason, Reply, ReplyChunk, Usage } from '../types.js';
import { endpoint, errorResponse, httpClient, jsonBody, shortDetail, sseReader } from './http.js';

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

interface OpenAiUsage {
  readonly prompt_tokens?: unknown;
  readonly completion_tokens?: unknown;
  readonly prompt_tokens_details?: { readonly cached_tokens?: unknown } | null;
  readonly completion_tokens_details?: { readonly reasoning_tokens?: unknown } | null;
}

interface OpenAiChoice {
  readonly delta?: { readonly content?: unknown } | null;
  readonly message?: { readonly content?: unknown } | null;
  readonly finish_reason?: unknown;
}

interface OpenAiPayload {
  readonly choices?: readonly OpenAiChoice[] | null;
  readonly usage?: OpenAiUsage | null;
  readonly error?: { readonly message?: unknown } | string | null;
}

const usageFrom = (u: OpenAiUsage | null | undefined): Usage =>
  u == null
    ? usageOf(0, 0)
    : usageOf(u.prompt_tokens, u.completion_tokens, u.prompt_tokens_details?.cached_tokens, u.completion_tokens_details?.reasoning_tokens);

/** OpenAI's finish_reason on the contract's set; a tool call ends the text as a stop does. */
export function openAiFinish(reason: unknown): FinishReason | undefined {
  switch (reason) {
    case 'stop':
    case 'tool_calls':
    case 'function_call':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    default:
      return undefined;
  }
}

const errorText = (e: OpenAiPayload['error']): string =>
  typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : 'error event';

function parse(data: string): OpenAiPayload {
  const value: unknown = JSON.parse(data);
  if (typeof value !== 'object' || value === null) throw new ProviderFailure('bad_response', 0, 'a stream event is not a JSON object');
  return value as OpenAiPayload;
}

export function createOpenAiAdapter(spec: ModelSpec): ProviderAdapter {
  const base = spec.baseUrl ?? DEFAULT_OPENAI_BASE_URL;
  const target = endpoint(base, '/chat/completions');
  const client = httpClient(target.origin);
  const azure = /\.azure\.com$/i.test(new URL(base).hostname) || target.path.includes('/openai/deployments/');
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  // Local OpenAI-compatible servers need no key; sending none is what they expect.
  if (spec.apiKey !== undefined) {
    headers['authorization'] = `Bearer ${spec.apiKey}`;
    if (azure) headers['api-key'] = spec.apiKey;
  }
  const streamHeaders = { ...headers, accept: 'text/event-stream' };
  const { maxTokens, temperature } = sampling(spec);

  const body = (call: AttemptCall, stream: boolean): string =>
    JSON.stringify({
      model: spec.model,
      messages: call.request.messages.map((t) => ({ role: t.role, content: t.content })),
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      ...(maxTokens === undefined ? {} : { max_completion_tokens: maxTokens }),
      ...(temperature === undefined ? {} : { temperature }),
    });

  const detailOf = (b: unknown): string | undefined => {
    const e = (b as OpenAiPayload | null)?.error;
    return e == null ? undefined : errorText(e);
  };

  async function* stream(call: AttemptCall): AsyncGenerator<ReplyChunk, void, undefined> {
    const res = await client.post(target.path, streamHeaders, body(call, true), call.signal);
    if (res.statusCode < 200 || res.statusCode > 299) throw await errorResponse(res, detailOf);
    call.onHeaders();
    let finish: FinishReason | undefined;
    let finished = false;
    let usage: Usage | undefined;
    let doneSeen = false;
    try {
      // Read to the end of the body, as the SDK does: the socket then goes back to the pool at once.
      const sse = sseReader(res.body);
      for (let events = await sse.next(); events !== null; events = await sse.next()) {
        for (let i = 0; i < events.length; i++) {
          const e = events[i]!;
          if (doneSeen) break;
          if (e.data === '[DONE]') {
            doneSeen = true;
            break;
          }
          const p = parse(e.data);
          if (e.event === 'error' || p.error != null) {
            throw new ProviderFailure('server_error', 0, `error event in the stream: ${shortDetail(errorText(p.error))}`);
          }
          // With include_usage the last chunk has no choices and carries the usage.
          if (p.usage != null) usage = usageFrom(p.usage);
          const choice = Array.isArray(p.choices) ? (p.choices[0] as OpenAiChoice | null | undefined) : undefined;
          if (choice == null || typeof choice !== 'object') continue;
          const text = choice.delta?.content;
          if (typeof text === 'string' && text !== '') yield { type: 'text', text };
          if (choice.finish_reason != null) {
            finished = true;
            finish = openAiFinish(choice.finish_reason);
          }
        }
      }
    } finally {
      res.body.release();
    }
    // No finish_reason: the stream ended early (or was aborted); the reply source decides which.
    if (finished) yield { type: 'done', usage: usage ?? usageOf(0, 0), ...(finish === undefined ? {} : { finishReason: finish }) };
  }

  async function complete(call: AttemptCall): Promise<Reply> {
    const res = await client.post(target.path, headers, body(call, false), call.signal);
    if (res.statusCode < 200 || res.statusCode > 299) throw await errorResponse(res, detailOf);
    call.onHeaders();
    const p = (await jsonBody(res)) as OpenAiPayload;
    const choice = Array.isArray(p.choices) ? (p.choices[0] as OpenAiChoice | null | undefined) : undefined;
    const text = typeof choice === 'object' && choice !== null ? choice.message?.content : undefined;
    if (typeof text !== 'string') throw new ProviderFailure('bad_response', 0, 'the reply has no choices[0].message.content');
    const finish = openAiFinish((choice as OpenAiChoice).finish_reason);
    return { text, usage: usageFrom(p.usage), ...(finish === undefined ? {} : { finishReason: finish }) };
  }

  return { stream, complete, close: () => client.close() };
}
