// Which histogram series exist when (src/metrics/attach.ts): configured providers' LLM timings and
// every storage operation from the first scrape, at 0; an unconfigured provider's once it has
// data; a series once shown stays shown across a detach and a re-attach with fewer providers.
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { STORAGE_OPERATIONS } from '../../src/events/catalog.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { parseExposition } from '../support/exposition.js';

const scrape = async (registry: ReturnType<typeof createMetricsRegistry>) => parseExposition(await registry.metrics());
const LLM = ['chatbox_llm_latency_seconds', 'chatbox_llm_time_to_first_token_seconds'] as const;

describe('histogram series', () => {
  it('exist at 0 for configured providers and every storage operation, and appear for others with data', async () => {
    const bus = createBus();
    const registry = createMetricsRegistry();
    const detach = attachMetrics(bus, registry, { providers: ['openai'], defaultMetrics: false });
    let x = await scrape(registry);
    for (const name of LLM) {
      expect(x.value(`${name}_count`, { provider: 'openai' })).toBe(0);
      expect(x.value(`${name}_count`, { provider: 'demo' })).toBeUndefined();
    }
    expect(x.value('chatbox_llm_request_duration_seconds_count', { provider: 'openai', streaming: 'true' })).toBe(0);
    expect(x.value('chatbox_llm_request_duration_seconds_count', { provider: 'openai', streaming: 'false' })).toBe(0);
    for (const operation of STORAGE_OPERATIONS) expect(x.value('chatbox_storage_operation_seconds_count', { operation })).toBe(0);
    expect(x.value('chatbox_websocket_connection_duration_seconds_count', {})).toBe(0);

    bus.emit('llmFirstToken', { provider: 'demo', model: 'demo', seconds: 0.3 });
    bus.emit('llmResponded', {
      provider: 'demo',
      model: 'demo',
      streaming: true,
      latencySeconds: 0.3,
      durationSeconds: 0.7,
      inputTokens: 1,
      outputTokens: 2,
      cachedInputTokens: 0,
      reasoningTokens: 0,
    });
    bus.emit('storageOperation', { operation: 'append_message', seconds: 0.004, ok: true });
    bus.emit('storageOperation', { operation: 'append_message', seconds: -1, ok: true });
    x = await scrape(registry);
    expect(x.value('chatbox_llm_time_to_first_token_seconds_count', { provider: 'demo' })).toBe(1);
    expect(x.value('chatbox_llm_latency_seconds_sum', { provider: 'demo' })).toBeCloseTo(0.3);
    expect(x.value('chatbox_llm_request_duration_seconds_count', { provider: 'demo', streaming: 'true' })).toBe(1);
    // The streaming=false series of that provider has no data: not shown.
    expect(x.value('chatbox_llm_request_duration_seconds_count', { provider: 'demo', streaming: 'false' })).toBeUndefined();
    // A bad reading counts as 0, in the lowest bucket.
    expect(x.value('chatbox_storage_operation_seconds_count', { operation: 'append_message' })).toBe(2);
    expect(x.value('chatbox_storage_operation_seconds_bucket', { operation: 'append_message', le: '0.005' })).toBe(2);
    expect(x.value('chatbox_storage_operation_seconds_sum', { operation: 'append_message' })).toBeCloseTo(0.004);

    detach();
    attachMetrics(bus, registry, { providers: ['anthropic'], defaultMetrics: false });
    x = await scrape(registry);
    expect(x.value('chatbox_llm_latency_seconds_count', { provider: 'openai' })).toBe(0);
    expect(x.value('chatbox_llm_latency_seconds_count', { provider: 'anthropic' })).toBe(0);
    expect(x.value('chatbox_llm_latency_seconds_count', { provider: 'demo' })).toBe(1);
  });
});
