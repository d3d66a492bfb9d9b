// What the harness itself costs while it measures: its event loop's delay, its CPU and its GC
// pauses. Its clients and the fake provider stamp every latency on this process's loop, so a
// pause here reads as server time; the report shows them so a tail can be told apart.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

export interface HarnessSelf {
  /** Stops watching; the report's rows. */
  stop(): [string, string][];
}

export function watchHarness(): HarnessSelf {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let pauses = 0;
  let pausedMs = 0;
  let longestMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      pauses++;
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
          `${cpuS.toFixed(1)} s / ${((cpuS / wallS) * 100).toFixed(0)} %; ${pauses} / ${pausedMs.toFixed(0)} ms / ${longestMs.toFixed(1)} ms`,
        ],
      ];
    },
  };
}
