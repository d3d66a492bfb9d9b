// The "Live metrics" region: the current figures as numbers (the same as /metrics) and charts of
// the last 15 minutes at one-second resolution.
import type { MetricsBuffer } from './metrics-buffer.js';
import { Chart } from './Chart.js';

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : `${Math.round(v * 1000)} ms`);
const sum = (r: Readonly<Record<string, number | undefined>> | undefined): number => Object.values(r ?? {}).reduce<number>((a, b) => a + (b ?? 0), 0);

function Figure(props: { label: string; value: string | number; id: string }) {
  return (
    <div class="figure">
      <dt id={props.id}>{props.label}</dt>
      <dd aria-labelledby={props.id} data-metric={props.id}>
        {props.value}
      </dd>
    </div>
  );
}

export function LiveMetrics(props: { buf: MetricsBuffer }) {
  const { buf } = props;
  const c = buf.current;
  const s = (name: string) => buf.series[name] ?? [];
  const last = (name: string): number => Number(s(name)[s(name).length - 1] ?? 0);
  const perProvider = (kind: 'attempts' | 'errors') => buf.providers.map((p) => ({ label: `${kind} ${p}`, values: s(`${kind}_${p}`) }));
  return (
    <section class="panel live" role="region" aria-label="Live metrics">
      <h2>Live metrics</h2>
      <dl class="numbers">
        <Figure id="m-connections" label="Connections" value={c?.connections ?? '–'} />
        <Figure id="m-sessions" label="Active sessions" value={c?.sessions ?? '–'} />
        <Figure id="m-in" label="Frames in/s" value={last('frames_in')} />
        <Figure id="m-out" label="Frames out/s" value={last('frames_out')} />
        <Figure id="m-in-total" label="Frames in (total)" value={c?.frames_in_total ?? '–'} />
        <Figure id="m-out-total" label="Frames out (total)" value={c?.frames_out_total ?? '–'} />
        <Figure id="m-llm" label="LLM attempts (total)" value={c === undefined ? '–' : sum(c.llm_attempts_total)} />
        <Figure id="m-llm-errors" label="LLM errors (total)" value={c === undefined ? '–' : sum(c.llm_errors_total)} />
        <Figure id="m-ttft50" label="TTFT p50" value={ms(c?.ttft_p50)} />
        <Figure id="m-ttft95" label="TTFT p95" value={ms(c?.ttft_p95)} />
      </dl>
      <div class="charts">
        <Chart title="Open connections and active sessions" t={buf.t} series={[{ label: 'connections', values: s('connections') }, { label: 'sessions', values: s('sessions') }]} />
        <Chart title="Frames per second" t={buf.t} series={[{ label: 'in', values: s('frames_in') }, { label: 'out', values: s('frames_out') }]} />
        <Chart title="LLM attempts and errors per second" t={buf.t} series={[...perProvider('attempts'), ...perProvider('errors')]} />
        <Chart title="Time to first token (s)" t={buf.t} series={[{ label: 'p50', values: s('ttft_p50') }, { label: 'p95', values: s('ttft_p95') }]} />
      </div>
    </section>
  );
}
