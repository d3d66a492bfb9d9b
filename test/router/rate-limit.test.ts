import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/router/rate-limit.js';

describe('createRateLimiter', () => {
  it('allows a burst of perMinute, then tells how long to wait', () => {
    const limiter = createRateLimiter(60);
    for (let i = 0; i < 60; i++) expect(limiter.take('u', 0)).toBe(0);
    expect(limiter.take('u', 0)).toBe(1000);
    expect(limiter.take('u', 500)).toBe(500);
    expect(limiter.take('u', 1000)).toBe(0);
    expect(limiter.take('other', 1000)).toBe(0);
  });

  it('sweeps only buckets that have refilled', () => {
    const limiter = createRateLimiter(60);
    limiter.take('a', 0);
    limiter.take('b', 59_990);
    limiter.sweep(60_000);
    expect(limiter.size).toBe(1);
    limiter.forget('b');
    expect(limiter.size).toBe(0);
  });

  it('property: over any window, no key gets more than perMinute + refill', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(fc.nat({ max: 5_000 }), { maxLength: 300 }), (perMinute, gaps) => {
        const limiter = createRateLimiter(perMinute);
        let now = 0;
        let allowed = 0;
        for (const gap of gaps) {
          now += gap;
          if (limiter.take('k', now) === 0) allowed++;
        }
        expect(allowed).toBeLessThanOrEqual(perMinute + Math.floor((now * perMinute) / 60_000) + 1);
      }),
    );
  });
});
