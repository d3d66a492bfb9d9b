// The console's copy of the live metrics: pushed points appended once each (pushes overlap),
// 15 minutes kept.
import type { LiveMetricsJson } from '../lib/wire.js';

export interface MetricsBuffer {
  readonly providers: readonly string[];
  readonly t: number[];
  readonly series: Record<string, (number | null)[]>;
  current: LiveMetricsJson['current'] | undefined;
}

const KEEP = 900;

export function emptyBuffer(): MetricsBuffer {
  return { providers: [], t: [], series: {}, current: undefined };
}

export function merge(buf: MetricsBuffer, m: LiveMetricsJson): MetricsBuffer {
  const p = m.points;
  const named: Record<string, readonly (number | null)[]> = {
    connections: p.connections,
    sessions: p.sessions,
    frames_in: p.frames_in,
    frames_out: p.frames_out,
    ttft_p50: p.ttft_p50,
    ttft_p95: p.ttft_p95,
  };
  for (const provider of m.providers) {
    named[`attempts_${provider}`] = p.llm_attempts[provider] ?? [];
    named[`errors_${provider}`] = p.llm_errors[provider] ?? [];
  }
  const last = buf.t[buf.t.length - 1] ?? -Infinity;
  const t = [...buf.t];
  const series: Record<string, (number | null)[]> = {};
  for (const name of Object.keys(named)) series[name] = [...(buf.series[name] ?? new Array<number | null>(buf.t.length).fill(null))];
  p.t.forEach((second, i) => {
    if (second <= last) return;
    t.push(second);
    for (const [name, values] of Object.entries(named)) series[name]!.push(values[i] ?? null);
  });
  const drop = Math.max(0, t.length - KEEP);
  if (drop > 0) {
    t.splice(0, drop);
    for (const values of Object.values(series)) values.splice(0, drop);
  }
  return { providers: m.providers, t, series, current: m.current };
}
