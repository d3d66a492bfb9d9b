// The reply-source interface the router talks to. Every provider (OpenAI, Anthropic, Dify and
// the built-in demo model) sits behind it; the router never knows which one answers.
import type { StopSignal } from './stop.js';
import type { Provider } from '../events/catalog.js';

export interface ModelInfo {
  /** Configured model id, offered to clients (`models[].id`, `model_id`). */
  readonly id: string;
  /** Display name for clients. */
  readonly name: string;
  readonly provider: Provider;
  /** USD per million tokens, for chatbox_llm_cost_usd_total; absent: spend is not counted. Never sent to clients. */
  readonly prices?: ModelPrices;
}

/** USD per million tokens. Cached input tokens are priced at `cachedInput` when given, else at `input`. */
export interface ModelPrices {
  readonly input: number;
  readonly output: number;
  readonly cachedInput?: number;
}

export interface ChatTurn {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface ReplyRequest {
  /** A configured model id; unknown ids are refused with LLM_UNAVAILABLE. */
  readonly model: string;
  readonly messages: readonly ChatTurn[];
  /** Aborts the reply: the user left, an admin took over, the server is shutting down. */
  readonly signal: StopSignal;
  /** The chat session this reply belongs to (Dify keeps a conversation per session). */
  readonly sessionId: string;
  /** The end user's id, for providers that want one (Dify's `user`). Never emitted on the bus. */
  readonly userId: string;
}

export interface Usage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Of inputTokens, those the provider reports as served from its prompt cache (0 or absent: none). */
  readonly cachedInputTokens?: number;
  /** Of outputTokens, those the provider reports as reasoning (0 or absent: none). */
  readonly reasoningTokens?: number;
}

/** How the provider says a reply finished, mapped onto the contract's closed set
 * (OpenAI `finish_reason`, Anthropic `stop_reason`, Dify's end event). Our own cancellation and
 * failures are not provider finish reasons: the reply source reports those. */
export type FinishReason = 'stop' | 'length' | 'content_filter';

export type ReplyChunk =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'done'; readonly usage: Usage; readonly finishReason?: FinishReason };

export interface Reply {
  readonly text: string;
  readonly usage: Usage;
  readonly finishReason?: FinishReason;
}

export interface ReplySource {
  models(): readonly ModelInfo[];
  /** The first configured model. */
  defaultModel(): string;
  /**
   * Streams a reply: text chunks in order, then exactly one `done` with usage. Throws a
   * ChatboxError with code LLM_UNAVAILABLE when every attempt failed, or an AbortError-like
   * ChatboxError with code CANCELLED when `signal` aborted.
   */
  stream(req: ReplyRequest): AsyncIterable<ReplyChunk>;
  /** Attempts to `provider` started and not yet finished, now (chatbox_llm_in_flight). */
  inFlight?(provider: Provider): number;
  /** The whole reply at once (non-streaming attempt). Same errors as stream(). */
  complete(req: ReplyRequest): Promise<Reply>;
  /** Releases timers, agents and sockets. */
  close(): Promise<void>;
}
