// The server's share of first-chunk latency, from the clients' and the provider's timestamps:
// client-measured minus the provider's own time, split into the way in (send -> provider has the
// request) and the way out (first token -> client has it).
import type { LoadProvider } from './provider.js';
import type { Pause } from './harness-self.js';

/** One user message whose first chunk a client saw (performance.now() of this process). */
export interface Turn {
  readonly sentAt: number;
  readonly firstAt: number;
  /** The session's first message: it also creates the session. */
  readonly opensSession: boolean;
}

/** The value under which a fraction `q` of `sorted` falls (NaN when empty). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** p50 / p95 / p99 of `xs` (sorted in place), for a report row. */
export const q3 = (xs: number[]): string => {
  xs.sort((a, b) => a - b);
  return `${quantile(xs, 0.5).toFixed(1)} / ${quantile(xs, 0.95).toFixed(1)} / ${quantile(xs, 0.99).toFixed(1)}`;
};

/** Whether any of `pauses` (sorted by start, not overlapping) meets [from, to]. */
export function touched(pauses: readonly Pause[], from: number, to: number): boolean {
  // The first pause that ends at or after `from`; it is the only candidate that can start by `to`.
  let lo = 0;
  let hi = pauses.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((pauses[mid] as Pause)[1] < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < pauses.length && (pauses[lo] as Pause)[0] <= to;
}

/**
 * The report's latency rows. `steadyFrom` (performance.now()) ends the warm-up: the whole run is
 * reported first, then the messages sent after it. The first seconds carry the server's JIT and
 * 2,000 sockets opening at once, and a few seconds at a 1 % tail decide a minute's p99.
 */
export function latencyRows(
  turns: ReadonlyMap<string, Turn>,
  timing: LoadProvider['timing'],
  steadyFrom: number,
  warmUp: string,
  harnessPauses: readonly Pause[] = [],
): [string, string][] {
  const share: number[] = [];
  const inbound: number[] = [];
  const outbound: number[] = [];
  const continuing: number[] = [];
  const steady: number[] = [];
  const untouched: number[] = [];
  for (const [content, client] of turns) {
    const at = timing(content);
    if (at === undefined) continue;
    inbound.push(at.receivedAt - client.sentAt);
    outbound.push(client.firstAt - at.firstChunkAt);
    const s = client.firstAt - client.sentAt - (at.firstChunkAt - at.receivedAt);
    share.push(s);
    if (!client.opensSession) continuing.push(s);
    if (client.sentAt >= steadyFrom) {
      steady.push(s);
      // Only the legs the share is made of: a pause while the provider thinks is provider time.
      if (!touched(harnessPauses, client.sentAt, at.receivedAt) && !touched(harnessPauses, at.firstChunkAt, client.firstAt)) untouched.push(s);
    }
  }
  return [
    [`server share (minus the provider's own time), ${share.length} single-attempt replies (ms)`, q3(share)],
    ['  of which: client send -> provider has the request (ms)', q3(inbound)],
    ['  of which: provider first token -> client has it (ms)', q3(outbound)],
    [`  messages that continue a session (${continuing.length}; not the first, which creates it)`, q3(continuing)],
    [`  messages sent after warm-up (${warmUp}; ${steady.length})`, q3(steady)],
    // The clients and the provider stamp on this process's loop: a GC pause of the harness on the
    // way in or out reads as server time. Without those messages, what is left.
    [`    of which no harness GC pause fell on the way in or out (${untouched.length})`, q3(untouched)],
  ];
}
