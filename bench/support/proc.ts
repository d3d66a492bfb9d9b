// A child process's CPU time and resident memory as Linux reports them in /proc, for benchmarks
// that measure a server running in its own process. 0 once the process is gone.
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** USER_HZ, the unit of /proc CPU times: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** CPU time used so far, user + system, every thread (ms). */
export function processCpuMs(pid: number | undefined): number {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return 0;
  // Fields 14 and 15, counted after the parenthesised command name (which may hold spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** Resident set size (bytes). */
export function processRss(pid: number | undefined): number {
  const status = read(`/proc/${pid}/status`);
  return status === undefined ? 0 : Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/**
 * Voluntary context switches of a process's main thread (its event loop): each is a sleep in
 * epoll, so the count is how often the loop was woken. 0 once the process is gone.
 */
export function mainThreadWakeups(pid: number | undefined): number {
  const status = read(`/proc/${pid}/task/${pid}/status`);
  return status === undefined ? 0 : Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

/**
 * Sets the nice value of every thread of a process (Linux keeps it per thread; threads started
 * later inherit their creator's). Lower is more CPU; below 0 needs root or CAP_SYS_NICE.
 */
export function reniceThreads(pid: number, nice: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
}
