import { describe, expect, it } from 'vitest';
import { ReplyControl } from '../../src/router/reply-control.js';

describe('ReplyControl', () => {
  it('passes a pending result through while the reply runs', async () => {
    const control = new ReplyControl();
    await expect(control.race(Promise.resolve(7))).resolves.toBe(7);
    await expect(control.race(Promise.reject(new Error('provider down')))).rejects.toThrow('provider down');
    expect(control.stopped).toBe(false);
    expect(control.cause).toBeUndefined();
  });

  it('stop() rejects the current wait at once, even when the stream never answers', async () => {
    const control = new ReplyControl();
    const waiting = control.race(new Promise<never>(() => {}));
    control.stop('takeover');
    await expect(waiting).rejects.toBe('takeover');
    expect(control.signal.aborted).toBe(true);
    expect(control.signal.reason).toBe('takeover');
  });

  it('keeps the first cause, and refuses every later wait without an unhandled rejection', async () => {
    const control = new ReplyControl();
    control.stop('client_left');
    control.stop('shutdown');
    expect(control.cause).toBe('client_left');
    // A stream that rejects after the stop must not surface as an unhandled rejection.
    const late = Promise.reject(new Error('aborted stream'));
    await expect(control.race(late)).rejects.toBe('client_left');
    await new Promise((r) => setTimeout(r, 10));
  });
});
