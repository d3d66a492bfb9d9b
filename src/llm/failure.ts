// How one failed attempt is described, and the retry policy that reads that description.
// Adapters throw ProviderFailure for everything they can classify; the reply source classifies
// the rest (timeouts and cancellation it knows itself; anything else by whether headers came).
import type { LlmFailureReason } from '../events/catalog.js';
import type { RetryPolicy } from './config.js';

export class ProviderFailure extends Error {
  override readonly name = 'ProviderFailure';
  constructor(
    readonly reason: LlmFailureReason,
    /** HTTP status, or 0 when there was none (network error, in-stream error event). */
    readonly status: number,
    message: string,
    /** Server-requested delay (Retry-After), already parsed; undefined when absent. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The failure reason an HTTP status maps to. */
export function reasonForStatus(status: number): LlmFailureReason {
  if (status === 429) return 'rate_limited';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  // A 1xx/3xx that reached us, or a 2xx we could not use.
  return 'bad_response';
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date. Undefined when absent or
 * unparseable; never negative.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names its day and month; without letters it is no date (Date.parse('-5') is one).
  if (!/[A-Za-z]/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** A failure built from an HTTP error status and its headers. */
export function statusFailure(status: number, headers: { get(name: string): string | null } | undefined, detail: string): ProviderFailure {
  const reason = reasonForStatus(status);
  const retryAfter = status === 429 || status === 503 ? parseRetryAfter(headers?.get('retry-after')) : undefined;
  return new ProviderFailure(reason, status, `HTTP ${status}${detail === '' ? '' : `: ${detail}`}`, retryAfter);
}

/** Whether this kind of failure may succeed on another attempt. */
export function isRetryableReason(reason: LlmFailureReason): boolean {
  return reason !== 'client_error';
}

/**
 * Delay before the attempt after `attempt` (1-based): full jitter over an exponential ceiling,
 * or the server's Retry-After (capped) when it gave one.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number | undefined, random: () => number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}
