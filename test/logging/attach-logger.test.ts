import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachLogger } from '../../src/logging/attach-logger.js';

function capture(level: string): { lines: Record<string, unknown>[]; log: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: pino({ level }, stream) };
}

describe('attachLogger', () => {
  it('subscribes only to events its level will log, and detaches cleanly', () => {
    const bus = createBus();
    const { lines, log } = capture('info');
    const detach = attachLogger(bus, log);
    expect(bus.has('messageFailed')).toBe(false); // debug-level: not even subscribed
    expect(bus.has('llmFailed')).toBe(true);
    bus.emit('llmFailed', { provider: 'openai', model: 'm', streaming: true, reason: 'timeout', willRetry: true, status: 0 });
    bus.emit('adminTookOver', { via: 'rest' });
    expect(lines.map((l) => l['msg'])).toEqual(['LLM attempt failed', 'admin took a session over']);
    expect(lines[0]?.['reason']).toBe('timeout');
    detach();
    expect(bus.has('llmFailed')).toBe(false);
  });

  it('logs per-frame events at debug, and subscriber failures at error', () => {
    const bus = createBus();
    const { lines, log } = capture('debug');
    attachLogger(bus, log);
    bus.emit('messageFailed', { code: 'INVALID_JSON' });
    bus.on('sessionCreated', () => {
      throw new Error('boom');
    }, 'broken');
    bus.emit('sessionCreated', { open: 1 });
    expect(lines.map((l) => l['msg'])).toEqual(['frame failed', 'session created', 'bus subscriber failed']);
    expect(lines[2]?.['subscriber']).toBe('broken');
  });
});
