// The five chatbox_cluster_* series (../shared/metrics-contract.md, "Several replicas"), fed by
// the cluster's bus events. They exist only when a shared broker is configured: attachMetrics
// calls this only then. Counters are plain numbers read at scrape time, as in attach.ts.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { subscribe, type Bus } from '../events/bus.js';
import { CLUSTER_OPERATIONS, type ChatEvents, type ClusterOperation } from '../events/catalog.js';
import type { MetricSpec } from './contract.js';

export const CLUSTER_DELIVERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

export const CLUSTER_METRICS = {
  messages: { name: 'chatbox_cluster_messages_total', type: 'counter', help: 'Messages this replica published to, or received from, the shared broker.', labels: ['direction'] },
  errors: { name: 'chatbox_cluster_errors_total', type: 'counter', help: 'Calls to the shared broker that failed, by operation.', labels: ['operation'] },
  delivery: {
    name: 'chatbox_cluster_delivery_seconds',
    type: 'histogram',
    help: 'Time from publish on one replica to hand-off on this one.',
    labels: [],
    buckets: CLUSTER_DELIVERY_BUCKETS,
  },
  connected: { name: 'chatbox_cluster_connected', type: 'gauge', help: '1 while this replica is connected to the shared broker, else 0.', labels: [] },
  replicas: { name: 'chatbox_cluster_replicas', type: 'gauge', help: 'Replicas this one currently sees alive, itself included.', labels: [] },
} as const satisfies Record<string, MetricSpec>;

class ClusterTotals {
  published = 0;
  received = 0;
  errors: Record<ClusterOperation, number> = { publish: 0, subscribe: 0, limit: 0, ownership: 0 };
  connected = 0;
  replicas = 1;
}

interface State {
  readonly totals: ClusterTotals;
  readonly delivery: Histogram<string>;
}

const states = new WeakMap<Registry, State>();

function register(registry: Registry): State {
  const t = new ClusterTotals();
  const base = (s: MetricSpec) => ({ name: s.name, help: s.help, labelNames: s.labels, registers: [registry] });
  new Counter({
    ...base(CLUSTER_METRICS.messages),
    collect() {
      this.reset();
      this.inc({ direction: 'published' }, t.published);
      this.inc({ direction: 'received' }, t.received);
    },
  });
  new Counter({
    ...base(CLUSTER_METRICS.errors),
    collect() {
      this.reset();
      for (const operation of CLUSTER_OPERATIONS) this.inc({ operation }, t.errors[operation]);
    },
  });
  new Gauge({
    ...base(CLUSTER_METRICS.connected),
    collect() {
      this.set(t.connected);
    },
  });
  new Gauge({
    ...base(CLUSTER_METRICS.replicas),
    collect() {
      this.set(t.replicas);
    },
  });
  const delivery = new Histogram({ ...base(CLUSTER_METRICS.delivery), buckets: [...CLUSTER_DELIVERY_BUCKETS] });
  delivery.zero({});
  return { totals: t, delivery };
}

/** Registers the cluster series on `registry` (once) and counts the cluster events; returns an idempotent detach. */
export function attachClusterMetrics(bus: Bus, registry: Registry): () => void {
  let state = states.get(registry);
  if (state === undefined) {
    state = register(registry);
    states.set(registry, state);
  }
  const { totals: t, delivery } = state;
  return subscribe(bus, 'cluster-metrics', {
    clusterPublished: function onClusterPublished() {
      t.published++;
    },
    clusterReceived: function onClusterReceived(e: ChatEvents['clusterReceived']) {
      t.received++;
      delivery.observe(e.seconds > 0 && Number.isFinite(e.seconds) ? e.seconds : 0);
    },
    clusterFailed: function onClusterFailed(e: ChatEvents['clusterFailed']) {
      t.errors[e.operation]++;
    },
    clusterConnection: function onClusterConnection(e: ChatEvents['clusterConnection']) {
      t.connected = e.connected ? 1 : 0;
    },
    clusterReplicas: function onClusterReplicas(e: ChatEvents['clusterReplicas']) {
      t.replicas = e.count;
    },
  });
}
