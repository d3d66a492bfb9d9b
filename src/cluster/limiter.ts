// Rate limits that hold across the service. One interface: in one process it is backed by
// rate-limiter-flexible's memory limiter; with a cluster configured, src/cluster's Redis side
// supplies a LimiterFactory over the same library's Redis limiter, so callers never change.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export interface LimitSpec {
  /** Names the limiter in keys and logs (`frames`, `http`, `upgrade`, `auth`, `help`, ...). */
  readonly name: string;
  /** Points allowed per window. */
  readonly points: number;
  readonly durationS: number;
}

export type LimitDecision =
  | { readonly allowed: true; readonly remaining: number }
  | { readonly allowed: false; readonly retryAfterMs: number };

export interface Limiter {
  readonly name: string;
  /** Takes `points` (default 1) for `key`. State is kept per key for the whole window, whatever
   * happens to the caller's sockets, so reconnecting never resets it. */
  consume(key: string, points?: number): Promise<LimitDecision>;
}

export type LimiterFactory = (spec: LimitSpec) => Limiter;

const allowed = (res: RateLimiterRes): LimitDecision => ({ allowed: true, remaining: res.remainingPoints });
/** A rejection with a RateLimiterRes is a refusal; any other is a fault of the backing store. */
const refusedOrFault = (error: unknown): LimitDecision => {
  if (error instanceof RateLimiterRes) return { allowed: false, retryAfterMs: Math.max(1, error.msBeforeNext) };
  throw error;
};

/** Wraps a rate-limiter-flexible limiter; a fault of its store is the caller's to decide about.
 * One `then` rather than an async function: every user frame takes a point. */
export function wrapFlexible(name: string, limiter: { consume(key: string, points?: number): Promise<RateLimiterRes> }): Limiter {
  return {
    name,
    consume(key, points = 1) {
      try {
        return limiter.consume(key, points).then(allowed, refusedOrFault);
      } catch (error) {
        // A limiter that throws instead of rejecting still answers with a promise.
        return Promise.reject(error);
      }
    },
  };
}

/** In-process limiters: one process is the whole service. */
export const memoryLimiters: LimiterFactory = (spec) =>
  wrapFlexible(spec.name, new RateLimiterMemory({ keyPrefix: spec.name, points: spec.points, duration: spec.durationS }));
