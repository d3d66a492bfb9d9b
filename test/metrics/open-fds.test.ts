// process_open_fds as prom-client serves it (name, type, help, value), counted with an async
// listing: the count follows descriptors opened and closed, and the default-metrics registry the
// server attaches serves ours, not prom-client's.
import { closeSync, openSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { OPEN_FDS, replaceOpenFds } from '../../src/metrics/open-fds.js';
import { createBus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { parseExposition } from '../support/exposition.js';

const value = async (registry: Registry): Promise<number> => {
  const sample = parseExposition(await registry.metrics()).samples.find((s) => s.name === OPEN_FDS);
  if (sample === undefined) throw new Error(`${OPEN_FDS} missing`);
  return sample.value;
};

describe('process_open_fds off the event loop', () => {
  it.runIf(process.platform === 'linux')('serves what prom-client serves, and follows descriptors opened and closed', async () => {
    const theirs = new Registry();
    collectDefaultMetrics({ register: theirs });
    const ours = new Registry();
    collectDefaultMetrics({ register: ours });
    replaceOpenFds(ours);
    const header = async (r: Registry): Promise<string[]> => (await r.metrics()).split('\n').filter((l) => l.startsWith(`# HELP ${OPEN_FDS} `) || l.startsWith(`# TYPE ${OPEN_FDS} `));
    expect(await header(ours)).toEqual(await header(theirs));
    expect(await header(ours)).toHaveLength(2);

    const before = await value(ours);
    expect(Math.abs(before - (await value(theirs)))).toBeLessThanOrEqual(2);
    // Within one: the listing runs beside whatever else the process opens for a moment.
    const near = (n: number, want: number): void => expect(Math.abs(n - want)).toBeLessThanOrEqual(1);
    const opened = Array.from({ length: 40 }, () => openSync('/dev/null', 'r'));
    try {
      near(await value(ours), before + 40);
    } finally {
      for (const fd of opened) closeSync(fd);
    }
    near(await value(ours), before);
  });

  it('is left out where prom-client leaves it out (no procfs)', async () => {
    const r = new Registry();
    collectDefaultMetrics({ register: r });
    replaceOpenFds(r, 'darwin');
    expect((await r.metrics()).includes(OPEN_FDS)).toBe(false);
  });

  it.runIf(process.platform === 'linux')("is the one the server's registry serves", async () => {
    const registry = createMetricsRegistry();
    const detach = attachMetrics(createBus(), registry);
    // prom-client's collector lists the descriptors with readdirSync (on the CommonJS fs it requires); ours never does.
    const fs = (await import('node:fs')).default;
    const spy = vi.spyOn(fs, 'readdirSync');
    try {
      const scraped = parseExposition(await registry.metrics());
      expect(scraped.samples.filter((s) => s.name === OPEN_FDS)).toHaveLength(1);
      expect(scraped.samples.find((s) => s.name === OPEN_FDS)?.value).toBeGreaterThan(3);
      expect(spy.mock.calls.filter(([path]) => String(path) === '/proc/self/fd')).toHaveLength(0);
    } finally {
      spy.mockRestore();
      detach();
    }
  });
});
