// Stop (src/llm/stop.ts): the light cancellation signal behaves as an AbortSignal does for the
// calls the reply source and the adapters make.
import { describe, expect, it, vi } from 'vitest';
import { Stop, type StopSignal } from '../../src/llm/stop.js';

describe('Stop', () => {
  it('runs each listener once with the reason set, and never one added after the abort', () => {
    const stop = new Stop();
    const seen: unknown[] = [];
    stop.addEventListener('abort', () => seen.push(stop.reason));
    stop.addEventListener('abort', () => seen.push('second'));
    expect(stop.aborted).toBe(false);
    stop.abort('takeover');
    stop.abort('shutdown');
    const late = vi.fn();
    stop.addEventListener('abort', late);
    expect(seen).toEqual(['takeover', 'second']);
    expect(stop.reason).toBe('takeover');
    expect(late).not.toHaveBeenCalled();
  });

  it('a removed listener is not called', () => {
    const stop = new Stop();
    const removed = vi.fn();
    const kept = vi.fn();
    stop.addEventListener('abort', removed);
    stop.addEventListener('abort', kept);
    stop.removeEventListener('abort', removed);
    stop.abort('aborted');
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });

  it('a throwing listener neither stops the others nor throws into abort()', async () => {
    const stop = new Stop();
    const after = vi.fn();
    const thrown = new Promise((resolve) => {
      const handler = (error: unknown): void => {
        process.off('uncaughtException', handler);
        resolve(error);
      };
      process.on('uncaughtException', handler);
    });
    stop.addEventListener('abort', () => {
      throw new Error('listener broke');
    });
    stop.addEventListener('abort', after);
    expect(() => stop.abort('aborted')).not.toThrow();
    expect(after).toHaveBeenCalledTimes(1);
    // Reported as EventTarget reports it: an uncaught exception, not lost.
    expect(await thrown).toMatchObject({ message: 'listener broke' });
  });

  it('an AbortSignal is a StopSignal, so callers may still pass one', () => {
    const controller = new AbortController();
    const signal: StopSignal = controller.signal;
    const listener = vi.fn();
    signal.addEventListener('abort', listener, { once: true });
    controller.abort('client_left');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('client_left');
    expect(listener).toHaveBeenCalledTimes(1);
  });
});
