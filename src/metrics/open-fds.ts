// prom-client's process_open_fds, counted off the event loop: same name, type and help.
//
// prom-client lists /proc/self/fd with readdirSync on every scrape, which blocks the loop for a
// time that grows with the open sockets: 1.2 ms at 2,000 descriptors and 7.5 ms at 10,000 on the
// 2-core VM of bench/README.md, once per scrape, for every message in flight. Here the listing
// runs in libuv's thread pool and the scrape awaits it (prom-client awaits an async collect).
import { readdir } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';

export const OPEN_FDS = 'process_open_fds';

/** Replaces prom-client's process_open_fds on `registry` (Linux only, as prom-client's). */
export function replaceOpenFds(registry: Registry, platform: NodeJS.Platform = process.platform): void {
  registry.removeSingleMetric(OPEN_FDS);
  if (platform !== 'linux') return;
  new Gauge({
    name: OPEN_FDS,
    help: 'Number of open file descriptors.',
    registers: [registry],
    async collect() {
      try {
        // Minus the descriptor the listing itself held open, as prom-client does.
        this.set((await readdir('/proc/self/fd')).length - 1);
      } catch {
        // No procfs: the gauge keeps its last value, as prom-client's does.
      }
    },
  });
}
