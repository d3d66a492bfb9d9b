// A log line that may fire thousands of times a second under attack (refused upgrades, bad
// tokens): the first occurrence is logged, then at most one line per interval, each saying how
// many were left out since the last one. Memory and log volume stay bounded whatever the rate.

export type LogLine = (fields: Record<string, unknown>, message: string) => void;

export interface SampledLog {
  note(fields: Record<string, unknown>, message: string): void;
}

export function sampledLog(line: LogLine, intervalMs: number, clock: () => number = Date.now): SampledLog {
  let last = -Infinity;
  let suppressed = 0;
  return {
    note(fields, message) {
      const now = clock();
      if (now - last < intervalMs) {
        suppressed++;
        return;
      }
      last = now;
      const extra = suppressed;
      suppressed = 0;
      try {
        line(extra === 0 ? fields : { ...fields, suppressed: extra }, message);
      } catch {
        // a broken logger must not refuse or admit anyone
      }
    },
  };
}
