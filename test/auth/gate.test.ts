// The auth gate over any LimiterFactory: failures are counted per address and past the allowance
// the address is refused before its token is read; a limiter whose store fails lets requests
// through and says so; log lines are sampled, not one per refusal.
import { describe, expect, it } from 'vitest';
import { createAuthGate } from '../../src/auth/gate.js';
import { memoryLimiters, type LimiterFactory } from '../../src/cluster/limiter.js';
import { createBus } from '../../src/events/bus.js';
import { attachRecorder } from '../../src/events/recorder.js';

describe('createAuthGate', () => {
  it('refuses an address once its failures reach the allowance; other addresses go on', async () => {
    const bus = createBus();
    const rec = attachRecorder(bus, { only: ['authFailed', 'rateLimited'] });
    const lines: unknown[] = [];
    const gate = createAuthGate({ bus, limiters: memoryLimiters, upgradesPerMinute: 100, failuresPerMinute: 3, log: (f) => lines.push(f) });
    for (let i = 0; i < 3; i++) {
      expect(await gate.admit('a', 'rest')).toBeUndefined();
      await gate.failed('a', 'signature', 'rest');
    }
    const refusal = await gate.admit('a', 'socket');
    expect(refusal?.retryAfterMs).toBeGreaterThan(0);
    expect(await gate.admit('b', 'socket')).toBeUndefined();
    expect(rec.of('authFailed')).toEqual([0, 1, 2].map(() => ({ reason: 'signature', via: 'rest' })));
    expect(rec.of('rateLimited')).toEqual([{ limiter: 'auth' }]);
    expect(lines).toHaveLength(1);
  });

  it('lets requests through when the limiter store fails, and reports it', async () => {
    const broken: LimiterFactory = (spec) => ({ name: spec.name, consume: () => Promise.reject(new Error('redis down')) });
    const errors: unknown[] = [];
    const gate = createAuthGate({ bus: createBus(), limiters: broken, upgradesPerMinute: 1, failuresPerMinute: 1, onInternalError: (e) => errors.push(e) });
    expect(await gate.admit('a', 'socket')).toBeUndefined();
    await expect(gate.failed('a', 'missing', 'socket')).resolves.toBeUndefined();
    expect(errors).toHaveLength(2);
  });
});
