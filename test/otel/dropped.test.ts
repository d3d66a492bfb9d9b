// Every drop reason of the catalogue has its own OTLP slot: the counter reads the number of
// frames dropped for it (a missing slot once exported NaN for `unreachable`).
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { DROP_REASONS } from '../../src/events/catalog.js';
import { attachOpenTelemetry } from '../../src/otel/attach.js';
import { CHATBOX } from '../../src/otel/names.js';

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe('chatbox.messages.dropped over OTLP', () => {
  it('counts every drop reason, each on its own attribute', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const bus = createBus();
    const detach = attachOpenTelemetry(bus, provider);
    DROP_REASONS.forEach((reason, i) => {
      for (let n = 0; n <= i; n++) bus.emit('messageDropped', { reason });
    });
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m: MetricData) => m.descriptor.name === CHATBOX.messagesDropped);
    const byReason = Object.fromEntries((metric?.dataPoints ?? []).map((p) => [String(p.attributes['chatbox.drop.reason']), p.value]));
    expect(byReason).toEqual(Object.fromEntries(DROP_REASONS.map((reason, i) => [reason, i + 1])));
    detach();
    await provider.shutdown();
  });
});
