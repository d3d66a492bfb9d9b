// GET {prefix}/admin/stats over a chosen range (default: the last 24 hours).
import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import type { StatsJson } from '../lib/wire.js';

const RANGES: readonly [string, number][] = [
  ['last hour', 3600],
  ['last 24 hours', 24 * 3600],
  ['last 7 days', 7 * 24 * 3600],
  ['last 30 days', 30 * 24 * 3600],
];

const secs = (v: number | null): string => (v === null ? '–' : `${v.toFixed(2)} s`);

export function StatsPanel(props: { token: string; onError: (text: string) => void }) {
  const [range, setRange] = useState(24 * 3600);
  const [stats, setStats] = useState<StatsJson>();
  const load = (): void => {
    const to = new Date();
    const from = new Date(to.getTime() - range * 1000);
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    api<StatsJson>(`/admin/stats?${q.toString()}`, { token: props.token }).then(setStats, (e: unknown) => props.onError((e as Error).message));
  };
  useEffect(load, [range]);
  return (
    <section class="panel" aria-label="Stats">
      <h2>Stats</h2>
      <div class="filters">
        <label>
          Range{' '}
          <select value={String(range)} onChange={(e) => setRange(Number((e.currentTarget as HTMLSelectElement).value))}>
            {RANGES.map(([text, s]) => (
              <option key={s} value={String(s)}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={load}>
          Refresh
        </button>
      </div>
      {stats !== undefined && (
        <dl class="numbers">
          <dt>Sessions</dt>
          <dd>{stats.sessions}</dd>
          <dt>Still open</dt>
          <dd>{stats.active_sessions}</dd>
          <dt>Admin-assisted</dt>
          <dd>{stats.admin_assisted}</dd>
          <dt>Messages</dt>
          <dd>{stats.messages}</dd>
          <dt>Tokens</dt>
          <dd>{stats.tokens}</dd>
          <dt>Avg response</dt>
          <dd>{secs(stats.avg_response_seconds)}</dd>
          <dt>Max response</dt>
          <dd>{secs(stats.max_response_seconds)}</dd>
        </dl>
      )}
    </section>
  );
}
