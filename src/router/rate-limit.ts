// Token buckets keyed by user: `perMinute` tokens, refilled continuously, burst up to the same.

export interface RateLimiter {
  /** 0 when allowed (a token was taken), else the milliseconds until one is available. */
  take(key: string, now: number): number;
  /** Forgets a key (its user has no connection left). */
  forget(key: string): void;
  /** Forgets every key whose bucket has refilled: it would behave as new anyway. */
  sweep(now: number): void;
  readonly size: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter(perMinute: number): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const perMs = perMinute / 60_000;
  return {
    take(key, now) {
      let b = buckets.get(key);
      if (b === undefined) {
        b = { tokens: perMinute, at: now };
        buckets.set(key, b);
      } else {
        b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * perMs);
        b.at = now;
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / perMs));
    },
    forget(key) {
      buckets.delete(key);
    },
    sweep(now) {
      for (const [key, b] of buckets) if (b.tokens + (now - b.at) * perMs >= perMinute) buckets.delete(key);
    },
    get size() {
      return buckets.size;
    },
  };
}
