// Question: how long does a scrape hold the event loop for process_open_fds, as prom-client
// counts it (readdirSync of /proc/self/fd) and as we do (the listing in libuv's thread pool,
// src/metrics/open-fds.ts), with as many descriptors open as a busy replica has sockets?
//
// "Holds the loop" is the synchronous part of registry.metrics(), where every collector starts:
// any frame due meanwhile waits for it. The whole scrape (until the text is ready) is shown too.
// Linux only. Descriptors: BENCH_FDS (default 2,000 and 10,000, capped by `ulimit -n`).
//
//   ulimit -n 20000; node --import tsx bench/metrics/open-fds.bench.ts
import { openSync, readFileSync } from 'node:fs';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { replaceOpenFds } from '../../src/metrics/open-fds.js';
import { formatTable, machine } from '../events/report.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 41);
const softLimit = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024);
const targets = (process.env['BENCH_FDS'] ?? '2000,10000').split(',').map(Number);

const registry = (ours: boolean): Registry => {
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  if (ours) replaceOpenFds(r);
  return r;
};
const theirs = registry(false);
const ours = registry(true);

/** The loop-holding part and the whole of one scrape, ms. */
async function scrape(r: Registry): Promise<[number, number]> {
  const t0 = performance.now();
  const text = r.metrics();
  const t1 = performance.now();
  await text;
  return [t1 - t0, performance.now() - t0];
}

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[xs.length >> 1] as number;
const held: number[] = [];
const rows: string[][] = [];
for (const target of targets) {
  const n = Math.min(target, softLimit - 64);
  while (held.length < n) held.push(openSync('/dev/null', 'r'));
  const a: [number[], number[]] = [[], []];
  const b: [number[], number[]] = [[], []];
  // Interleaved, after a warm-up round of each.
  await scrape(theirs);
  await scrape(ours);
  for (let i = 0; i < ROUNDS; i++) {
    const [ta, wa] = await scrape(theirs);
    const [tb, wb] = await scrape(ours);
    a[0].push(ta);
    a[1].push(wa);
    b[0].push(tb);
    b[1].push(wb);
  }
  const [ha, hb, sa, sb] = [median(a[0]), median(b[0]), median(a[1]), median(b[1])];
  rows.push([String(n), `${ha.toFixed(2)} ms`, `${hb.toFixed(2)} ms`, `${(ha / hb).toFixed(1)}x`, `${sa.toFixed(2)} ms`, `${sb.toFixed(2)} ms`]);
}
console.log(machine());
console.log(`scrape of prom-client's default metrics, median of ${ROUNDS} interleaved rounds (ulimit -n ${softLimit})`);
console.log(
  formatTable(['open descriptors', "loop held: prom-client's process_open_fds", 'ours', 'ratio', 'whole scrape: prom-client', 'ours'], rows),
);
