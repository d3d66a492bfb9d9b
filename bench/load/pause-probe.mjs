// Preloaded into the load run's server by `npm run load -- --capture --pauses` (node --import):
// writes each GC pause and each event-loop gap to LOAD_PAUSE_LOG, stamped with the wall clock as
// the capture is, so bench/load/pauses.ts can tell which of them the slowest messages waited for.
// Plain JavaScript: the built server (LOAD_SERVER_BUILT=1) runs without tsx.
//
//   gc <epoch ms> <major|minor|incremental|weak> <pause ms>
//   gap <epoch ms> <ms> <main thread ran ms> <waited for a core ms>
//
// A gap is a 2 ms timer that fired more than 8 ms after the one before it. The main thread's run
// and run-queue times (/proc/thread-self/schedstat, in ns) over the gap tell work from waiting
// for a core. The timer costs the server ~500 wake-ups a second: keep it off CPU figures.
import { appendFileSync, openSync, readSync } from 'node:fs';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';

const file = process.env.LOAD_PAUSE_LOG;
if (file !== undefined && file !== '') {
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak',
  };
  const lines = [];
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, `${lines.join('\n')}\n`);
    lines.length = 0;
  };
  const epoch = (t) => (performance.timeOrigin + t).toFixed(3);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) lines.push(`gc ${epoch(e.startTime)} ${kinds[e.detail?.kind] ?? 'other'} ${e.duration.toFixed(3)}`);
  }).observe({ entryTypes: ['gc'] });

  let schedstat;
  try {
    schedstat = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    // Not Linux: gaps are still logged, with no split.
  }
  const buf = Buffer.alloc(128);
  const sched = () => {
    if (schedstat === undefined) return [NaN, NaN];
    const text = buf.toString('latin1', 0, readSync(schedstat, buf, 0, buf.length, 0));
    const [run, wait] = text.split(' ');
    return [Number(run) / 1e6, Number(wait) / 1e6];
  };
  let last = performance.now();
  let [ran, waited] = sched();
  setInterval(() => {
    const now = performance.now();
    const [r, w] = sched();
    if (now - last > 8) lines.push(`gap ${epoch(last)} ${(now - last).toFixed(3)} ${(r - ran).toFixed(3)} ${(w - waited).toFixed(3)}`);
    last = now;
    ran = r;
    waited = w;
  }, 2).unref();
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}
