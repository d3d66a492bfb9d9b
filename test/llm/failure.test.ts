// The retry policy's pieces: status classification, Retry-After parsing, backoff with jitter.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, isRetryableReason, parseRetryAfter, reasonForStatus } from '../../src/llm/failure.js';

const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000, maxRetryAfterMs: 5_000 };

describe('reasonForStatus', () => {
  it.each([
    [429, 'rate_limited', true],
    [408, 'timeout', true],
    [500, 'server_error', true],
    [503, 'server_error', true],
    [529, 'server_error', true],
    [400, 'client_error', false],
    [401, 'client_error', false],
    [404, 'client_error', false],
    [422, 'client_error', false],
  ])('%i is %s (retryable: %s)', (status, reason, retryable) => {
    expect(reasonForStatus(status)).toBe(reason);
    expect(isRetryableReason(reasonForStatus(status))).toBe(retryable);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it.each([
    ['0', 0],
    ['7', 7_000],
    [' 2 ', 2_000],
    ['1.5', 1_500],
    ['Wed, 01 Jan 2025 00:00:30 GMT', 30_000],
    ['Tue, 31 Dec 2024 23:00:00 GMT', 0],
  ])('%s -> %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
  it.each([null, undefined, '', 'soon', '-5'])('ignores %s', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('uses full jitter under an exponential ceiling capped at maxDelayMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(policy, attempt, undefined, () => r);
        const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.max(1, ceiling));
      }),
    );
    expect(backoffDelay(policy, 1, undefined, () => 0.5)).toBe(50);
    expect(backoffDelay(policy, 3, undefined, () => 0.5)).toBe(200);
    expect(backoffDelay(policy, 10, undefined, () => 0.999)).toBe(999);
  });

  it('honours Retry-After up to its cap', () => {
    expect(backoffDelay(policy, 1, 2_000, () => 0)).toBe(2_000);
    expect(backoffDelay(policy, 1, 60_000, () => 0)).toBe(5_000);
    expect(backoffDelay(policy, 1, 0, () => 0.9)).toBe(0);
  });
});
