// The server's share of first-chunk latency, from the clients' and the provider's timestamps:
// client-measured minus the provider's own time, split into the way in (send -> provider has the
// request) and the way out (first token -> client has it).
import type { LoadProvider } from './provider.js';

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
): [string, string][] {
  const share: number[] = [];
  const inbound: number[] = [];
  const outbound: number[] = [];
  const continuing: number[] = [];
  const steady: number[] = [];
  for (const [content, client] of turns) {
    const at = timing(content);
    if (at === undefined) continue;
    inbound.push(at.receivedAt - client.sentAt);
    outbound.push(client.firstAt - at.firstChunkAt);
    const s = client.firstAt - client.sentAt - (at.firstChunkAt - at.receivedAt);
    share.push(s);
    if (!client.opensSession) continuing.push(s);
    if (client.sentAt >= steadyFrom) steady.push(s);
  }
  return [
    [`server share (minus the provider's own time), ${share.length} single-attempt replies (ms)`, q3(share)],
    ['  of which: client send -> provider has the request (ms)', q3(inbound)],
    ['  of which: provider first token -> client has it (ms)', q3(outbound)],
    [`  messages that continue a session (${continuing.length}; not the first, which creates it)`, q3(continuing)],
    [`  messages sent after warm-up (${warmUp}; ${steady.length})`, q3(steady)],
  ];
}
