// The chatbox_cluster_* series: absent without a broker, present with one, fed by the cluster's
// events, buckets as the contract document writes them.
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { CLUSTER_DELIVERY_BUCKETS } from '../../src/metrics/cluster.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { bucketsIn, readContract } from '../support/contract-doc.js';
import { parseExposition } from '../support/exposition.js';

const scrape = async (registry: ReturnType<typeof createMetricsRegistry>) => parseExposition(await registry.metrics());

describe('chatbox_cluster_* series', () => {
  it('exist only when a broker is configured', async () => {
    const plain = createMetricsRegistry();
    attachMetrics(createBus(), plain, { defaultMetrics: false });
    const x = await scrape(plain);
    expect([...x.families.keys()].filter((n) => n.startsWith('chatbox_cluster_'))).toEqual([]);
    expect(x.value('chatbox_messages_dropped_total', { reason: 'unreachable' })).toBe(0);
  });

  it('count what the cluster reports, and detach with the metrics subscriber', async () => {
    const bus = createBus();
    const registry = createMetricsRegistry();
    const detach = attachMetrics(bus, registry, { defaultMetrics: false, cluster: true });
    let x = await scrape(registry);
    expect(x.value('chatbox_cluster_connected')).toBe(0);
    expect(x.value('chatbox_cluster_replicas')).toBe(1);
    for (const operation of ['publish', 'subscribe', 'limit', 'ownership']) expect(x.value('chatbox_cluster_errors_total', { operation })).toBe(0);
    bus.emit('clusterConnection', { connected: true });
    bus.emit('clusterReplicas', { count: 3 });
    bus.emit('clusterPublished', { bytes: 10 });
    bus.emit('clusterPublished', { bytes: 10 });
    bus.emit('clusterReceived', { seconds: 0.0007 });
    bus.emit('clusterReceived', { seconds: Number.NaN });
    bus.emit('clusterFailed', { operation: 'limit' });
    bus.emit('messageDropped', { reason: 'unreachable' });
    x = await scrape(registry);
    expect(x.value('chatbox_cluster_connected')).toBe(1);
    expect(x.value('chatbox_cluster_replicas')).toBe(3);
    expect(x.value('chatbox_cluster_messages_total', { direction: 'published' })).toBe(2);
    expect(x.value('chatbox_cluster_messages_total', { direction: 'received' })).toBe(2);
    expect(x.value('chatbox_cluster_delivery_seconds_count')).toBe(2);
    expect(x.value('chatbox_cluster_delivery_seconds_bucket', { le: '0.001' })).toBe(2);
    expect(x.value('chatbox_cluster_delivery_seconds_bucket', { le: '0.0005' })).toBe(1);
    expect(x.value('chatbox_cluster_errors_total', { operation: 'limit' })).toBe(1);
    expect(x.value('chatbox_messages_dropped_total', { reason: 'unreachable' })).toBe(1);
    detach();
    bus.emit('clusterPublished', { bytes: 10 });
    expect((await scrape(registry)).value('chatbox_cluster_messages_total', { direction: 'published' })).toBe(2);
  });

  it('delivery buckets are the contract\'s', () => {
    const row = readContract().rows.find((r) => r.name === 'chatbox_cluster_delivery_seconds');
    expect(bucketsIn(row?.meaning ?? '')).toEqual([...CLUSTER_DELIVERY_BUCKETS]);
  });
});
