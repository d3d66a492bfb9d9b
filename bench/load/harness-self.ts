// What the harness itself costs while it measures: its event loop's delay, its CPU and its GC
// pauses. Its clients and the fake provider stamp every latency on this process's loop, so a
// pause here reads as server time; the report shows them so a tail can be told apart.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

/** A GC pause of this process: [start, end] in performance.now() time. */
export type Pause = readonly [number, number];

export interface HarnessSelf {
  /** Stops watching; the report's rows. */
  stop(): [string, string][];
  /** The GC pauses seen so far, in order. */
  pauses(): readonly Pause[];
}

export function watchHarness(): HarnessSelf {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const seen: Pause[] = [];
  let pausedMs = 0;
  let longestMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      seen.push([e.startTime, e.startTime + e.duration]);
      pausedMs += e.duration;
      if (e.duration > longestMs) longestMs = e.duration;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  return {
    stop() {
      lag.disable();
      gc.disconnect();
      const cpu = process.cpuUsage(cpu0);
      const cpuS = (cpu.user + cpu.system) / 1e6;
      const wallS = (performance.now() - wall0) / 1000;
      return [
        ['harness (clients + provider) event-loop lag p99 / max', `${(lag.percentile(99) / 1e6).toFixed(1)} / ${(lag.max / 1e6).toFixed(1)} ms`],
        [
          'harness CPU (all threads): seconds / share of one core; GC pauses: n / total / longest',
          `${cpuS.toFixed(1)} s / ${((cpuS / wallS) * 100).toFixed(0)} %; ${seen.length} / ${pausedMs.toFixed(0)} ms / ${longestMs.toFixed(1)} ms`,
        ],
      ];
    },
    pauses: () => seen,
  };
}
