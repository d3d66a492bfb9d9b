// What a provider adapter does for the reply source: one HTTP attempt, nothing more. Retries,
// timeouts, events and cancellation live in reply-source.ts, the same for every provider.
import type { ModelSpec } from './config.js';
import type { Reply, ReplyChunk, ReplyRequest, Usage } from './types.js';
import type { StopSignal } from './stop.js';

export interface AttemptCall {
  readonly spec: ModelSpec;
  readonly request: ReplyRequest;
  /** Aborted on cancellation and on our timeouts; hand it to the HTTP client. */
  readonly signal: StopSignal;
  /** Call when the response headers arrived with a 2xx status: stops the connect timer. */
  readonly onHeaders: () => void;
}

export interface ProviderAdapter {
  /**
   * One streamed attempt: text chunks in order, then exactly one `done` with the usage the
   * provider reported (0 where it reported none). Ending without `done` means the stream broke.
   * Throws ProviderFailure for failures it can classify; may end early when `signal` aborts.
   */
  stream(call: AttemptCall): AsyncIterable<ReplyChunk>;
  /** One non-streamed attempt. */
  complete(call: AttemptCall): Promise<Reply>;
  /** Releases what the adapter holds (clients, per-session state). */
  close(): Promise<void>;
}

export const NO_USAGE = { inputTokens: 0, outputTokens: 0 } as const;

/** A token count from a provider payload: a finite non-negative number, else 0 (never invented). */
export const tokens = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/** A Usage from provider counts; the details appear only when the provider reported some. */
export function usageOf(input: unknown, output: unknown, cachedInput?: unknown, reasoning?: unknown): Usage {
  const cached = tokens(cachedInput);
  const thought = tokens(reasoning);
  if (cached === 0 && thought === 0) return { inputTokens: tokens(input), outputTokens: tokens(output) };
  return {
    inputTokens: tokens(input),
    outputTokens: tokens(output),
    ...(cached === 0 ? {} : { cachedInputTokens: cached }),
    ...(thought === 0 ? {} : { reasoningTokens: thought }),
  };
}

/** The sampling settings a model entry may set, for the request body (absent ones are left out). */
export function sampling(spec: ModelSpec): { readonly maxTokens: number | undefined; readonly temperature: number | undefined } {
  // ModelSpec gains `temperature` with the observability work; read it without depending on that.
  const t = (spec as { temperature?: unknown }).temperature;
  return { maxTokens: spec.maxTokens, temperature: typeof t === 'number' && Number.isFinite(t) ? t : undefined };
}
