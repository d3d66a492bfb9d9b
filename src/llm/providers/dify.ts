// Dify chat apps: POST {baseUrl}/chat-messages over undici (http.ts), streamed replies parsed
// with eventsource-parser. Dify keeps the history itself, in a conversation: we send only the newest
// user message and remember Dify's conversation_id per chat session, so the next message of the
// same session continues the same conversation.
import type { ModelSpec } from '../config.js';
import { usageOf as usageFrom, type AttemptCall, type ProviderAdapter } from '../adapter.js';
import { ProviderFailure, statusFailure } from '../failure.js';
import type { Reply, ReplyChunk, Usage } from '../types.js';
import { endpoint, errorResponse, httpClient, jsonBody, shortDetail, sseReader, type ProviderResponse } from './http.js';

/** Sessions whose conversation id we remember; the oldest is forgotten beyond this. */
export const DIFY_MAX_CONVERSATIONS = 10_000;

interface DifyPayload {
  readonly event?: unknown;
  readonly answer?: unknown;
  readonly conversation_id?: unknown;
  readonly metadata?: { readonly usage?: DifyUsage | null } | null;
  readonly status?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
}

/** Dify's LLMUsage (prices, latency) names no cached or reasoning tokens: only the two counts. */
interface DifyUsage {
  readonly prompt_tokens?: unknown;
  readonly completion_tokens?: unknown;
}

const usageOf = (p: DifyPayload): Usage => {
  const u = p.metadata?.usage;
  return u == null ? usageFrom(0, 0) : usageFrom(u.prompt_tokens, u.completion_tokens);
};

function parse(data: string): DifyPayload {
  const value: unknown = JSON.parse(data);
  if (typeof value !== 'object' || value === null) throw new ProviderFailure('bad_response', 0, 'a Dify event is not a JSON object');
  return value as DifyPayload;
}

const detailOf = (body: unknown): string | undefined => {
  const p = body as DifyPayload | null;
  if (typeof p?.message !== 'string') return undefined;
  return typeof p.code === 'string' ? `${p.code}: ${p.message}` : p.message;
};

export function createDifyAdapter(spec: ModelSpec): ProviderAdapter {
  const target = endpoint(spec.baseUrl ?? 'https://api.dify.ai/v1', '/chat-messages');
  const client = httpClient(target.origin);
  const headers = {
    authorization: `Bearer ${spec.apiKey ?? ''}`,
    'content-type': 'application/json',
  };
  const conversations = new Map<string, string>();

  function remember(sessionId: string, id: unknown): void {
    if (typeof id !== 'string' || id === '' || conversations.get(sessionId) === id) return;
    conversations.delete(sessionId);
    conversations.set(sessionId, id);
    if (conversations.size > DIFY_MAX_CONVERSATIONS) {
      const oldest = conversations.keys().next().value;
      if (oldest !== undefined) conversations.delete(oldest);
    }
  }

  async function post(call: AttemptCall, mode: 'streaming' | 'blocking'): Promise<ProviderResponse> {
    const { messages, sessionId, userId } = call.request;
    let query: string | undefined;
    for (let i = messages.length - 1; i >= 0; i--) {
      const turn = messages[i]!;
      if (turn.role === 'user') {
        query = turn.content;
        break;
      }
    }
    if (query === undefined) throw new ProviderFailure('client_error', 0, 'there is no user message to send to Dify');
    const body = JSON.stringify({
      inputs: {},
      query,
      response_mode: mode,
      conversation_id: conversations.get(sessionId) ?? '',
      user: userId,
    });
    const response = await client.post(target.path, headers, body, call.signal);
    if (response.statusCode < 200 || response.statusCode > 299) {
      // The conversation is gone on Dify's side: the next message starts a new one.
      if (response.statusCode === 404) conversations.delete(sessionId);
      throw await errorResponse(response, detailOf);
    }
    call.onHeaders();
    return response;
  }

  async function* stream(call: AttemptCall): AsyncGenerator<ReplyChunk, void, undefined> {
    const response = await post(call, 'streaming');
    let end: Usage | undefined;
    try {
      // Read to the end of the body (Dify ends it after message_end): the socket then goes back
      // to the pool at once. Events after message_end (tts_message_end, say) add no text.
      const reader = sseReader(response.body);
      for (let events = await reader.next(); events !== null; events = await reader.next()) {
        for (let i = 0; i < events.length; i++) {
          const sse = events[i]!;
          if (sse.data === '' || end !== undefined) continue;
          const p = parse(sse.data);
          switch (p.event) {
            case 'message':
            case 'agent_message':
              remember(call.request.sessionId, p.conversation_id);
              if (typeof p.answer === 'string' && p.answer !== '') yield { type: 'text', text: p.answer };
              break;
            case 'message_end':
              remember(call.request.sessionId, p.conversation_id);
              end = usageOf(p);
              break;
            case 'error': {
              const status = typeof p.status === 'number' ? p.status : 0;
              const detail = shortDetail(`${typeof p.code === 'string' ? `${p.code}: ` : ''}${typeof p.message === 'string' ? p.message : 'error event'}`);
              throw status >= 400 ? statusFailure(status, undefined, detail) : new ProviderFailure('server_error', 0, `error event in the stream: ${detail}`);
            }
            default:
              // ping, workflow_*, node_*, agent_thought, message_file, tts_*: not part of the text.
              break;
          }
        }
      }
    } finally {
      response.body.release();
    }
    // Dify's chat API names no finish reason: message_end is a reply that ran to its end.
    if (end !== undefined) yield { type: 'done', usage: end, finishReason: 'stop' };
  }

  async function complete(call: AttemptCall): Promise<Reply> {
    const response = await post(call, 'blocking');
    // Read with the same size cap as every other provider body.
    const p = (await jsonBody(response)) as DifyPayload;
    if (typeof p.answer !== 'string') throw new ProviderFailure('bad_response', 0, 'the Dify reply has no answer');
    remember(call.request.sessionId, p.conversation_id);
    return { text: p.answer, usage: usageOf(p), finishReason: 'stop' };
  }

  return {
    stream,
    complete,
    async close() {
      conversations.clear();
      await client.close();
    },
  };
}
