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
const refused = (res: RateLimiterRes): LimitDecision => ({ allowed: false, retryAfterMs: Math.max(1, res.msBeforeNext) });

/** Wraps a rate-limiter-flexible limiter: a rejection with a RateLimiterRes is a refusal; any
 * other rejection is a fault of the backing store, which the caller decides about. */
export function wrapFlexible(name: string, limiter: { consume(key: string, points?: number): Promise<RateLimiterRes> }): Limiter {
  return {
    name,
    async consume(key, points = 1) {
      try {
        return allowed(await limiter.consume(key, points));
      } catch (error) {
        if (error instanceof RateLimiterRes) return refused(error);
        throw error;
      }
    },
  };
}

/** In-process limiters: one process is the whole service. */
export const memoryLimiters: LimiterFactory = (spec) =>
  wrapFlexible(spec.name, new RateLimiterMemory({ keyPrefix: spec.name, points: spec.points, duration: spec.durationS }));
