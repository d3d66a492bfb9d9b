// Anthropic messages API over undici (http.ts): raw streaming events (message_start carries the
// input usage, message_delta the stop reason and the running output usage, message_stop ends the
// reply). No retries here: the reply source owns retries, timeouts and cancellation.
import type { ModelSpec } from '../config.js';
import { sampling, tokens, type AttemptCall, type ProviderAdapter } from '../adapter.js';
import { ProviderFailure } from '../failure.js';
import type { ChatTurn, FinishReason, Reply, ReplyChunk, Usage } from '../types.js';
import { endpoint, errorResponse, httpClient, jsonBody, shortDetail, sseReader } from './http.js';

export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
/** Anthropic requires a limit; this one is used when the model entry sets none. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 1024;
const API_VERSION = '2023-06-01';

interface Message {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

/** Anthropic takes the system prompt apart from the turns. */
function split(turns: readonly ChatTurn[]): { system: string | undefined; messages: Message[] } {
  const system: string[] = [];
  const messages: Message[] = [];
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

interface AnthropicEvent {
  readonly type?: unknown;
  readonly delta?: { readonly type?: unknown; readonly text?: unknown; readonly stop_reason?: unknown } | null;
  readonly message?: { readonly usage?: AnthropicUsage | null; readonly stop_reason?: unknown } | null;
  readonly usage?: AnthropicUsage | null;
  readonly error?: { readonly type?: unknown; readonly message?: unknown } | null;
  /** The non-streamed reply. */
  readonly content?: unknown;
  readonly stop_reason?: unknown;
}

/** Input counts cached prompt tokens too: they were processed (and billed, at another rate). */
const inputOf = (u: AnthropicUsage | null | undefined): number =>
  u == null ? 0 : tokens(u.input_tokens) + tokens(u.cache_creation_input_tokens) + tokens(u.cache_read_input_tokens);

/** Anthropic's stop_reason on the contract's set; a tool call ends the text as a stop does. */
export function anthropicFinish(reason: unknown): FinishReason | undefined {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
    case 'tool_use':
      return 'stop';
    case 'max_tokens':
      return 'length';
    case 'refusal':
      return 'content_filter';
    default:
      return undefined;
  }
}

function usage(input: number, output: number, cached: number): Usage {
  return cached > 0 ? { inputTokens: input, outputTokens: output, cachedInputTokens: cached } : { inputTokens: input, outputTokens: output };
}

function parse(data: string): AnthropicEvent {
  const value: unknown = JSON.parse(data);
  if (typeof value !== 'object' || value === null) throw new ProviderFailure('bad_response', 0, 'a stream event is not a JSON object');
  return value as AnthropicEvent;
}

const errorText = (e: AnthropicEvent['error']): string =>
  `${typeof e?.type === 'string' ? `${e.type}: ` : ''}${typeof e?.message === 'string' ? e.message : 'error event'}`;

export function createAnthropicAdapter(spec: ModelSpec): ProviderAdapter {
  const target = endpoint(spec.baseUrl ?? DEFAULT_ANTHROPIC_BASE_URL, '/v1/messages');
  const client = httpClient(target.origin);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'anthropic-version': API_VERSION,
  };
  if (spec.apiKey !== undefined) headers['x-api-key'] = spec.apiKey;
  const streamHeaders = { ...headers, accept: 'text/event-stream' };
  const { maxTokens = DEFAULT_ANTHROPIC_MAX_TOKENS, temperature } = sampling(spec);

  const body = (call: AttemptCall, stream: boolean): string => {
    const { system, messages } = split(call.request.messages);
    return JSON.stringify({
      model: spec.model,
      max_tokens: maxTokens,
      messages,
      ...(system === undefined ? {} : { system }),
      ...(temperature === undefined ? {} : { temperature }),
      ...(stream ? { stream: true } : {}),
    });
  };

  const detailOf = (b: unknown): string | undefined => {
    const e = (b as AnthropicEvent | null)?.error;
    return e == null ? undefined : errorText(e);
  };

  async function* stream(call: AttemptCall): AsyncGenerator<ReplyChunk, void, undefined> {
    const res = await client.post(target.path, streamHeaders, body(call, true), call.signal);
    if (res.statusCode < 200 || res.statusCode > 299) throw await errorResponse(res, detailOf);
    call.onHeaders();
    let input = 0;
    let output = 0;
    let cached = 0;
    let finish: FinishReason | undefined;
    let stopped = false;
    try {
      // Read to the end of the body, as the SDK does: the socket then goes back to the pool at once.
      const sse = sseReader(res.body);
      for (let events = await sse.next(); events !== null; events = await sse.next()) {
        for (let i = 0; i < events.length; i++) {
          const e = events[i]!;
          // The SDK ignores data-less events (pings may come bare); so do we.
          if (e.data === '') continue;
          const p = parse(e.data);
          switch (p.type) {
            case 'content_block_delta': {
              const text = p.delta?.type === 'text_delta' ? p.delta.text : undefined;
              if (typeof text === 'string' && text !== '') yield { type: 'text', text };
              break;
            }
            case 'message_start': {
              const u = p.message?.usage;
              input = inputOf(u);
              output = tokens(u?.output_tokens);
              cached = tokens(u?.cache_read_input_tokens);
              break;
            }
            case 'message_delta': {
              // Counts here are cumulative; input may be repeated (or absent) here.
              input = Math.max(input, inputOf(p.usage));
              output = Math.max(output, tokens(p.usage?.output_tokens));
              cached = Math.max(cached, tokens(p.usage?.cache_read_input_tokens));
              finish = anthropicFinish(p.delta?.stop_reason) ?? finish;
              break;
            }
            case 'message_stop':
              stopped = true;
              break;
            case 'error':
              throw new ProviderFailure('server_error', 0, `error event in the stream: ${shortDetail(errorText(p.error))}`);
            default:
              break;
          }
        }
      }
    } finally {
      res.body.release();
    }
    if (stopped) yield { type: 'done', usage: usage(input, output, cached), ...(finish === undefined ? {} : { finishReason: finish }) };
  }

  async function complete(call: AttemptCall): Promise<Reply> {
    const res = await client.post(target.path, headers, body(call, false), call.signal);
    if (res.statusCode < 200 || res.statusCode > 299) throw await errorResponse(res, detailOf);
    call.onHeaders();
    const message = (await jsonBody(res)) as AnthropicEvent;
    if (!Array.isArray(message.content)) throw new ProviderFailure('bad_response', 0, 'the reply has no content list');
    let text = '';
    for (const block of message.content as { type?: unknown; text?: unknown }[]) {
      if (block?.type === 'text' && typeof block.text === 'string') text += block.text;
    }
    const u = message.usage;
    const finish = anthropicFinish(message.stop_reason);
    return {
      text,
      usage: usage(inputOf(u), tokens(u?.output_tokens), tokens(u?.cache_read_input_tokens)),
      ...(finish === undefined ? {} : { finishReason: finish }),
    };
  }

  return { stream, complete, close: () => client.close() };
}
