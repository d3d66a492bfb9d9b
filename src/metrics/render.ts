// Exposition: Prometheus text 0.0.4 by default, OpenMetrics 1.0 when the scraper asks for it.
//
// prom-client renders OpenMetrics only by switching a registry's content type, and that switch
// renames counters in place (it strips `_total` from the metric object), which would corrupt the
// next 0.0.4 scrape. So the registry always renders 0.0.4 and OpenMetrics is rendered here from
// the same values.
import { Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** The registry type, for modules outside src/metrics that pass one along without importing prom-client. */
export type MetricsRegistry = Registry;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export interface Exposition {
  readonly contentType: string;
  readonly body: string;
}

export function createMetricsRegistry(): Registry {
  return new Registry();
}

/** Picks the format from an Accept header, honouring q-values; 0.0.4 unless OpenMetrics wins. */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || !accept.includes('application/openmetrics-text')) return 'prometheus';
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      if (p.startsWith('q=')) {
        const v = Number(p.slice(2));
        q = Number.isFinite(v) ? v : 0;
      }
    }
    if (type === 'application/openmetrics-text') om = Math.max(om, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return om > 0 && om >= text ? 'openmetrics' : 'prometheus';
}

export async function renderMetrics(registry: Registry, format: ExpositionFormat = 'prometheus'): Promise<Exposition> {
  if (format === 'prometheus') return { contentType: PROMETHEUS_CONTENT_TYPE, body: await registry.metrics() };
  return { contentType: OPENMETRICS_CONTENT_TYPE, body: renderOpenMetrics(await registry.getMetricsAsJSON()) };
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = escapeLabel;

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

// OpenMetrics wants `le` as a canonical float: "1.0", not "1".
function formatLe(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? `${v}.0` : formatNumber(v);
  return String(v);
}

function formatLabels(labels: MetricValue<string>['labels']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (v === undefined) continue;
    parts.push(`${k}="${k === 'le' ? formatLe(v) : escapeLabel(String(v))}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

export function renderOpenMetrics(metrics: readonly MetricObjectWithValues<MetricValue<string>>[]): string {
  const lines: string[] = [];
  for (const metric of metrics) {
    const type = String(metric.type);
    const family = type === 'counter' ? metric.name.replace(/_total$/, '') : metric.name;
    lines.push(`# TYPE ${family} ${type}`, `# HELP ${family} ${escapeHelp(metric.help)}`);
    for (const value of metric.values) {
      const sampleName =
        (value as { metricName?: string }).metricName ?? (type === 'counter' ? `${family}_total` : family);
      lines.push(`${sampleName}${formatLabels(value.labels)} ${formatNumber(value.value)}`);
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}
