// A histogram whose series are preallocated slots: observe() is a bucket search and three adds,
// with no label hashing (prom-client's labelled observe() builds a string key per call, ~350 ns;
// this runs once per streamed chunk and once per HTTP request). The registry reads it like any
// prom-client metric: get() returns the same shape prom-client's own Histogram returns.
import type { Metric, Registry } from 'prom-client';
import type { MetricSpec } from './contract.js';

export class Slot {
  /** Per-bucket counts, not cumulative; the last entry is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** Shown at 0 before its first observation (a configured provider); else only once it has data. */
  keep = true;
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.counts[i] = this.counts[i]! + 1;
    this.sum += value;
    this.count++;
  }
}

interface Value {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

export class SlotHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly slots = new Map<string, Slot>();

  constructor(
    spec: MetricSpec,
    registry: Registry,
    private readonly bounds: readonly number[],
  ) {
    this.name = spec.name;
    this.help = spec.help;
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series for `labels`, created on first use (callers pass labels from closed sets only). */
  slot(labels: Readonly<Record<string, string>>): Slot {
    const key = JSON.stringify(labels);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = new Slot(labels, this.bounds);
      this.slots.set(key, slot);
    }
    return slot;
  }

  get size(): number {
    return this.slots.size;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const slot of this.slots.values()) {
      if (slot.count === 0 && !slot.keep) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += slot.counts[i] as number;
        // `le` first, as prom-client's own histograms write it (the exposition keeps its form).
        values.push({ labels: { le: this.bounds[i] as number, ...slot.labels }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...slot.labels }, value: slot.count, metricName: bucket });
      values.push({ labels: { ...slot.labels }, value: slot.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...slot.labels }, value: slot.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.slots.clear();
  }
}
