// Helpers for the operations-kit tests: where the files are, which external checkers exist on
// this machine, YAML through Python, and a small PromQL reader that lists the metric names an
// expression selects (enough to hold dashboards and rules to the metrics contract).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createBus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry, renderMetrics } from '../../src/metrics/render.js';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const DEPLOY = resolve(REPO_ROOT, 'deploy');
export const CONTRACT_PATH = resolve(REPO_ROOT, '../shared/metrics-contract.md');

const runs = (cmd: string, args: string[]): boolean => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
};

export const hasPromtool = runs('promtool', ['--version']);
export const hasPrometheus = runs('prometheus', ['--version']);

/**
 * The first Python with PyYAML, preferring one that also has the Kubernetes client (Debian's
 * python3-kubernetes installs for /usr/bin/python3, which a pyenv `python3` on PATH may shadow).
 */
export const python: { exe: string; kubernetes: boolean } | undefined = (() => {
  const candidates = ['/usr/bin/python3', 'python3'];
  const withYaml = candidates.filter((exe) => runs(exe, ['-c', 'import yaml']));
  const withKube = withYaml.find((exe) => runs(exe, ['-c', 'import kubernetes.client']));
  if (withKube !== undefined) return { exe: withKube, kubernetes: true };
  const first = withYaml[0];
  return first === undefined ? undefined : { exe: first, kubernetes: false };
})();

export interface YamlReport {
  readonly documents: { file: string; doc: unknown }[];
  /** Which schema the manifests were checked against; null when the Kubernetes client is missing. */
  readonly schema: string | null;
  readonly errors: string[];
}

/** Parses YAML files (and schema-checks Kubernetes objects) with test/deploy/k8s-validate.py. */
export function readYaml(...files: string[]): YamlReport {
  if (python === undefined) throw new Error('no python3 with PyYAML');
  const r = spawnSync(python.exe, [resolve(import.meta.dirname, 'k8s-validate.py'), ...files], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`k8s-validate.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as YamlReport;
}

/** The single document of a YAML file, as plain data. */
export function yamlDoc<T>(file: string): T {
  const docs = readYaml(file).documents;
  if (docs.length !== 1) throw new Error(`${file}: expected one YAML document, found ${docs.length}`);
  return (docs[0] as { doc: T }).doc;
}

// ---------------------------------------------------------------------------------------------
// The metrics contract

/** Names, types and labels in the contract's tables, when the shared folder sits beside the repo. */
export interface ContractMetric {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
}

// A copy for checkouts without ../shared (a developer's clone): the contract names as of this
// writing. CI lays shared/ beside the checkout, so there the document itself is read.
const CONTRACT_COPY: readonly ContractMetric[] = [
  { name: 'chatbox_websocket_connections_total', type: 'gauge' },
  { name: 'chatbox_active_sessions_total', type: 'gauge' },
  { name: 'chatbox_messages_received_total', type: 'counter' },
  { name: 'chatbox_messages_sent_total', type: 'counter' },
  { name: 'chatbox_message_errors_total', type: 'counter' },
  { name: 'chatbox_llm_requests_total', type: 'counter' },
  { name: 'chatbox_llm_latency_seconds', type: 'histogram' },
  { name: 'chatbox_llm_errors_total', type: 'counter' },
  { name: 'chatbox_tokens_used_total', type: 'counter' },
  { name: 'chatbox_sessions_created_total', type: 'counter' },
  { name: 'chatbox_sessions_ended_total', type: 'counter' },
  { name: 'chatbox_admin_takeovers_total', type: 'counter' },
  { name: 'chatbox_websocket_connection_duration_seconds', type: 'histogram' },
  { name: 'chatbox_llm_request_duration_seconds', type: 'histogram' },
  { name: 'chatbox_llm_time_to_first_token_seconds', type: 'histogram' },
  { name: 'chatbox_llm_tokens_total', type: 'counter' },
  { name: 'chatbox_llm_retries_total', type: 'counter' },
  { name: 'chatbox_messages_dropped_total', type: 'counter' },
  { name: 'chatbox_ratelimit_blocked_total', type: 'counter' },
  { name: 'chatbox_admin_handbacks_total', type: 'counter' },
  { name: 'chatbox_storage_operation_seconds', type: 'histogram' },
  { name: 'chatbox_bus_subscriber_errors_total', type: 'counter' },
];

/** Parses the `| \`name\` | type | ... |` rows of the contract document. */
export function parseContract(markdown: string): ContractMetric[] {
  const rows: ContractMetric[] = [];
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`(chatbox_[a-z_]+)`$/.exec(cells[1] ?? '')?.[1];
    const type = cells[2];
    if (name !== undefined && (type === 'counter' || type === 'gauge' || type === 'histogram')) rows.push({ name, type });
  }
  return rows;
}

export function loadContract(): { metrics: ContractMetric[]; source: string } {
  if (existsSync(CONTRACT_PATH)) {
    return { metrics: parseContract(readFileSync(CONTRACT_PATH, 'utf8')), source: CONTRACT_PATH };
  }
  return { metrics: [...CONTRACT_COPY], source: 'the copy in test/deploy/support.ts' };
}

/** Every series name a contract metric exposes: histograms add _bucket, _sum and _count. */
export function exposedNames(metrics: readonly ContractMetric[]): Set<string> {
  const names = new Set<string>();
  for (const m of metrics) {
    names.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// PromQL

const FUNCTIONS = new Set([
  // aggregation operators
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  // functions (Prometheus 2.x)
  'abs', 'absent', 'absent_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'day_of_month',
  'day_of_week', 'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile',
  'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'ln', 'log2', 'log10',
  'minute', 'month', 'predict_linear', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt',
  'time', 'timestamp', 'vector', 'year', 'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time',
  'count_over_time', 'quantile_over_time', 'stddev_over_time', 'stdvar_over_time', 'last_over_time',
  'present_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'cos', 'cosh', 'sin', 'sinh', 'tan',
  'tanh', 'deg', 'rad', 'pi', 'start', 'end',
]);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

export interface PromqlNames {
  /** Metric names the expression selects. */
  readonly metrics: string[];
  /** Identifiers called like functions that PromQL does not have. */
  readonly unknownFunctions: string[];
}

/**
 * Metric names selected by a PromQL expression (Grafana variables allowed). Not a parser: it
 * blanks strings, label matchers, ranges and grouping clauses, then reads what is left, which
 * is all that naming a metric can hide in. promtool checks the syntax separately.
 */
export function promqlNames(expr: string): PromqlNames {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const metrics = new Set<string>();
  const unknownFunctions = new Set<string>();
  for (const m of text.matchAll(/[A-Za-z_:][\w:]*|\d[\w.]*/g)) {
    const token = m[0];
    if (/^\d/.test(token)) continue;
    const isCall = /^\s*\(/.test(text.slice((m.index ?? 0) + token.length));
    if (isCall) {
      if (!FUNCTIONS.has(token)) unknownFunctions.add(token);
    } else if (!KEYWORDS.has(token.toLowerCase())) {
      metrics.add(token);
    }
  }
  return { metrics: [...metrics], unknownFunctions: [...unknownFunctions] };
}

/** Grafana's variables replaced by values PromQL accepts, so promtool can parse a panel query. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$\{__rate_interval\}|\$\{__interval\}/g, '1m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{\w+(?::\w+)?\}|\$\w+/g, '.*');
}

/** Prometheus durations as used in rules and tests ("90s", "5m", "1h30m") in seconds. */
export function durationSeconds(d: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  let rest = d.trim();
  while (rest !== '') {
    const m = /^(\d+)(ms|s|m|h|d|w|y)/.exec(rest);
    if (m === null) throw new Error(`not a duration: ${d}`);
    total += Number(m[1]) * (units[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return total;
}

/**
 * Series names a Prometheus text exposition declares (from its `# TYPE` lines, histograms and
 * summaries with their suffixes), so a name counts even before its first sample.
 */
export function declaredNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/**
 * The metric names a query may select: the contract's series (from the shared document when it
 * is there) and the runtime metrics our registry really exposes, not merely plausible ones.
 */
export async function selectableNames(): Promise<{ allowed: Set<string>; runtime: string[] }> {
  const contract = loadContract();
  if (!contract.source.endsWith('metrics-contract.md')) console.warn(`metrics contract not found: names from ${contract.source}`);
  const registry = createMetricsRegistry();
  attachMetrics(createBus(), registry, { providers: ['openai'] });
  const runtime = [...declaredNames((await renderMetrics(registry)).body)].filter((n) => /^(process|nodejs)_/.test(n));
  return { allowed: exposedNames(contract.metrics), runtime };
}
