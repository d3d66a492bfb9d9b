// attachMetrics refuses to be set up wrong: a second live attachment to one registry fails with a
// code, and a stale detach leaves a newer attachment alone. Apart from the model tests, whose
// commands only attach when detached.
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry, renderMetrics } from '../../src/metrics/render.js';
import { parseExposition } from '../support/exposition.js';


describe('attachMetrics setup errors', () => {
  it('refuses a second live attachment to the same registry, with a code', () => {
    const registry = createMetricsRegistry();
    const bus = createBus();
    const detach = attachMetrics(bus, registry, { defaultMetrics: false });
    expect(() => attachMetrics(bus, registry)).toThrowError(expect.objectContaining({ code: 'CHATBOX_ERR_METRICS_ATTACHED' }));
    detach();
    expect(() => attachMetrics(bus, registry)()).not.toThrow();
  });

  it('a stale detach does not remove a newer attachment', async () => {
    const registry = createMetricsRegistry();
    const bus = createBus();
    const first = attachMetrics(bus, registry, { defaultMetrics: false });
    first();
    attachMetrics(bus, registry);
    first();
    bus.emit('messageReceived', { bytes: 1 });
    const x = parseExposition((await renderMetrics(registry)).body);
    expect(x.value('chatbox_messages_received_total')).toBe(1);
  });
});
