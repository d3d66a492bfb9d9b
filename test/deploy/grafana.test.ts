// deploy/grafana/chatbox.json: a dashboard Grafana can import, covering what the issue lists,
// whose every query selects only contract metrics and parses as PromQL (promtool).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEPLOY, hasPromtool, loadContract, promqlNames, selectableNames, substituteGrafanaVariables } from './support.js';

interface Target {
  refId: string;
  expr: string;
  format?: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  fieldConfig?: { defaults?: { unit?: string } };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}

const FILE = resolve(DEPLOY, 'grafana/chatbox.json');
const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));
// label_values(metric{...}, label): only the first argument is a selector.
const variableSelectors = dashboard.templating.list.flatMap((v) => {
  const q = typeof v.query === 'string' ? v.query : v.query?.query;
  const m = q === undefined ? null : /^label_values\((.+),\s*\w+\)$/.exec(q);
  return m === null ? [] : [{ panel: `variable ${v.name}`, expr: m[1] as string }];
});
const allExprs = [...queries, ...variableSelectors];

if (!hasPromtool) console.warn('promtool not installed: the PromQL syntax check of the dashboard is skipped (CI installs it)');

describe('the PromQL name reader', () => {
  it('finds metric names and ignores functions, labels, ranges, strings and Grafana variables', () => {
    const r = promqlNames(
      'sum by (provider, le) (rate(chatbox_llm_latency_seconds_bucket{job="chatbox", provider=~"$provider"}[$__rate_interval])) ' +
        '/ on (provider) group_left sum without (instance) (increase(other_metric[5m] offset 1h)) > bool 0.5e3',
    );
    expect(r.metrics.sort()).toEqual(['chatbox_llm_latency_seconds_bucket', 'other_metric']);
    expect(r.unknownFunctions).toEqual([]);
  });

  it('reports a function PromQL does not have', () => {
    expect(promqlNames('rat(chatbox_messages_sent_total[5m])').unknownFunctions).toEqual(['rat']);
  });
});

describe('deploy/grafana/chatbox.json', () => {
  it('is an importable dashboard: uid, title, datasource variable, unique ids, panels on the 24-column grid', () => {
    expect(dashboard.uid).toBe('chatbox-overview');
    expect(dashboard.title).toBe('chatbox');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.description, p.title).toBeTruthy();
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
    }
  });

  it('selects only contract metrics, their histogram series and runtime metrics our registry exposes', async () => {
    const { allowed, runtime } = await selectableNames();
    const problems: string[] = [];
    for (const q of allExprs) {
      const { metrics, unknownFunctions } = promqlNames(q.expr);
      for (const f of unknownFunctions) problems.push(`${q.panel}: unknown function ${f}`);
      for (const name of metrics) {
        if (!allowed.has(name) && !runtime.includes(name)) problems.push(`${q.panel}: ${name} is not in the metrics contract`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('shows every contract metric somewhere', () => {
    const used = new Set(allExprs.flatMap((q) => promqlNames(q.expr).metrics).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    // The cluster series land from another branch of this round, with their
    // panels; the lead drops this filter once it is merged.
    const elsewhere = /^chatbox_cluster_/;
    const missing = loadContract().metrics.filter((m) => !used.has(m.name) && !elsewhere.test(m.name)).map((m) => m.name);
    expect(missing).toEqual([]);
  });

  it('has the panels the issue lists', () => {
    const find = (title: RegExp) => {
      const p = panels.find((x) => title.test(x.title));
      expect(p, String(title)).toBeDefined();
      return (p as Panel).targets?.map((t) => t.expr).join('\n') ?? '';
    };
    expect(find(/^Connections per pod$/)).toMatch(/by \(pod, instance\) \(chatbox_websocket_connections_total/);
    expect(find(/^Active sessions per pod$/)).toMatch(/by \(pod, instance\) \(chatbox_active_sessions_total/);
    expect(find(/^Message rates$/)).toContain('chatbox_messages_received_total');
    expect(find(/^Message error ratio$/)).toMatch(/chatbox_message_errors_total.*\/.*chatbox_messages_received_total/);
    expect(find(/^LLM requests by provider$/)).toContain('sum by (provider) (rate(chatbox_llm_requests_total');
    expect(find(/^LLM errors by provider$/)).toContain('chatbox_llm_errors_total');
    expect(find(/^LLM latency quantiles by provider$/)).toContain('histogram_quantile(0.95, sum by (provider, le) (rate(chatbox_llm_latency_seconds_bucket');
    expect(find(/^Tokens per minute by provider$/)).toContain('sum by (provider) (rate(chatbox_tokens_used_total');
    expect(find(/^Admin takeovers/)).toContain('chatbox_admin_takeovers_total');
    expect(find(/^Memory$/)).toContain('process_resident_memory_bytes');
    expect(find(/^Event loop lag/)).toContain('nodejs_eventloop_lag_p99_seconds');
    const heat = panels.find((p) => p.type === 'heatmap');
    expect(heat?.targets?.[0]?.format).toBe('heatmap');
    expect(heat?.targets?.[0]?.expr).toContain('sum by (le) (increase(chatbox_llm_latency_seconds_bucket');
  });

  it.runIf(hasPromtool)('every query parses as PromQL (promtool, with Grafana variables filled in)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatbox-grafana-'));
    try {
      // JSON is YAML: each query becomes a recording rule for `promtool check rules` to parse.
      const rules = allExprs.map((q, i) => ({ record: `dashboard:query_${i}`, expr: substituteGrafanaVariables(q.expr) }));
      writeFileSync(join(dir, 'dashboard.rules.json'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'dashboard.rules.json')], { encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
