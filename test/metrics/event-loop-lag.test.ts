// The nodejs_eventloop_lag_* sampler at a chosen resolution: one shared timer at the finest
// resolution asked for, and a stalled loop still shows at a coarse one.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { eventLoopLagResolutionMs, replaceEventLoopLag } from '../../src/metrics/event-loop-lag.js';
import { parseExposition } from '../support/exposition.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const scrape = async (registry: Registry) => parseExposition(await registry.metrics());

describe('event-loop lag sampler', () => {
  it('runs one timer at the finest resolution any registry asked for', () => {
    // This file's module instance is its own (vitest isolates files): no sampler runs yet.
    expect(eventLoopLagResolutionMs()).toBeUndefined();
    const coarse = new Registry();
    replaceEventLoopLag(coarse, 50);
    expect(eventLoopLagResolutionMs()).toBe(50);
    replaceEventLoopLag(new Registry(), 20);
    expect(eventLoopLagResolutionMs()).toBe(20);
    // A coarser one later does not slow the others' sampling down.
    replaceEventLoopLag(new Registry(), 100);
    expect(eventLoopLagResolutionMs()).toBe(20);
  });

  it('refuses a resolution that is not a whole number of ms >= 1', () => {
    for (const bad of [0, -5, 2.5, Number.NaN]) {
      expect(() => replaceEventLoopLag(new Registry(), bad)).toThrowError(expect.objectContaining({ code: 'CHATBOX_ERR_CONFIG' }));
    }
  });

  it('still sees a stalled loop at a coarse resolution', async () => {
    const registry = new Registry();
    replaceEventLoopLag(registry, 100);
    await sleep(250);
    await scrape(registry); // opens a fresh window
    const until = performance.now() + 300;
    while (performance.now() < until) {
      // a handler that hogs the loop
    }
    await sleep(120);
    const after = await scrape(registry);
    // The tick due during the stall ran at least ~200 ms late, whatever the timer's phase.
    expect(after.value('nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0.18);
    expect(after.value('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0.18);
  });
});
