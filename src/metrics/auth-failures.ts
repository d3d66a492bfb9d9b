// chatbox_auth_failures_total{reason}: refused upgrades and REST calls, by why. Registered once
// per registry like the other series; totals are plain numbers handed over at scrape time, so a
// flood of bad tokens costs one increment each.
import { Counter, type Registry } from 'prom-client';
import { AUTH_FAILURE_REASONS, type AuthFailureReason, type ChatEvents } from '../events/catalog.js';
import { subscribe, type Bus } from '../events/bus.js';
import { METRICS } from './contract.js';

type Totals = Record<AuthFailureReason, number>;
const totalsOf = new WeakMap<Registry, Totals>();

function register(registry: Registry): Totals {
  const totals = Object.fromEntries(AUTH_FAILURE_REASONS.map((r) => [r, 0])) as Totals;
  const spec = METRICS.authFailures;
  new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labels,
    registers: [registry],
    collect() {
      this.reset();
      for (const reason of AUTH_FAILURE_REASONS) this.inc({ reason }, totals[reason]);
    },
  });
  return totals;
}

/** Counts authFailed events into `registry`; returns an idempotent detach. */
export function attachAuthFailureMetrics(bus: Bus, registry: Registry): () => void {
  let totals = totalsOf.get(registry);
  if (totals === undefined) {
    totals = register(registry);
    totalsOf.set(registry, totals);
  }
  const t = totals;
  return subscribe(bus, 'metrics', {
    authFailed: function onAuthFailed(e: ChatEvents['authFailed']) {
      t[e.reason]++;
    },
  });
}
