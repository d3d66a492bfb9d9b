// Delivery semantics of the bus: order, duplicates, isolation, and handlers that attach or
// detach while an event is being delivered (each emit sees the handlers present when it began).
import { describe, expect, it } from 'vitest';
import { createBus, type Bus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry, renderMetrics } from '../../src/metrics/render.js';

const sample = (body: string, series: string): number | undefined => {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('createBus delivery semantics', () => {
  const make = (): Bus => createBus();
  it('delivers to every handler in attach order; off removes exactly one; has() follows', () => {
    const bus = make();
    const seen: string[] = [];
    const a = (): void => void seen.push('a');
    const b = (): void => void seen.push('b');
    expect(bus.has('messageSent')).toBe(false);
    bus.on('messageSent', a, 'a');
    bus.on('messageSent', b, 'b');
    bus.on('messageSent', a, 'a'); // the same handler twice is one subscription
    bus.emit('messageSent', { bytes: 1 });
    bus.off('messageSent', a);
    bus.emit('messageSent', { bytes: 1 });
    expect(seen).toEqual(['a', 'b', 'b']);
    bus.off('messageSent', b);
    expect(bus.has('messageSent')).toBe(false);
  });

  it('isolates a throwing or rejecting subscriber and counts it by name', async () => {
    const bus = make();
    let delivered = 0;
    bus.on('messageFailed', () => {
      throw new Error('boom');
    }, 'thrower');
    bus.on('messageFailed', () => Promise.reject(new Error('later')), 'rejecter');
    bus.on('messageFailed', () => void delivered++, 'good');
    expect(() => bus.emit('messageFailed', { code: 'INTERNAL' })).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(delivered).toBe(1);
    expect(bus.subscriberErrors().get('thrower')).toBe(1);
    expect(bus.subscriberErrors().get('rejecter')).toBe(1);
    expect([...bus.subscribers()].sort()).toEqual(['good', 'rejecter', 'thrower']);
  });

  it('delivers each event to the handlers present when it was emitted', () => {
    const bus = make();
    const seen: string[] = [];
    const late = (): void => void seen.push('late');
    const second = (): void => void seen.push('second');
    bus.on('messageReceived', () => {
      seen.push('first');
      bus.on('messageReceived', late, 'late');
      bus.off('messageReceived', second);
    }, 'first');
    bus.on('messageReceived', second, 'second');
    bus.emit('messageReceived', { bytes: 1 });
    expect(seen).toEqual(['first', 'second']);
  });

  it('feeds the metrics subscriber the same readings', async () => {
    const bus = make();
    const registry = createMetricsRegistry();
    attachMetrics(bus, registry, { defaultMetrics: false });
    for (let i = 0; i < 3; i++) bus.emit('messageReceived', { bytes: 10 });
    bus.emit('llmRequested', { provider: 'openai', model: 'm', streaming: false, attempt: 1 });
    bus.emit('llmRequested', { provider: 'openai', model: 'm', streaming: false, attempt: 2 });
    const { body } = await renderMetrics(registry);
    expect(sample(body, 'chatbox_messages_received_total')).toBe(3);
    expect(sample(body, 'chatbox_llm_requests_total{provider="openai"}')).toBe(2);
    expect(sample(body, 'chatbox_llm_retries_total{provider="openai"}')).toBe(1);
  });
});
