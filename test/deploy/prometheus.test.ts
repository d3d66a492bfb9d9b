// deploy/prometheus: promtool checks the rules and the config and runs the rule unit tests; the
// rules select only contract metrics; every alert has a unit test that fires and then clears.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEPLOY,
  durationSeconds,
  hasPromtool,
  promqlNames,
  python,
  selectableNames,
  yamlDoc,
} from './support.js';

const RULES = resolve(DEPLOY, 'prometheus/rules.yml');
const RULE_TESTS = resolve(DEPLOY, 'prometheus/rules.test.yml');
const SCRAPE = resolve(DEPLOY, 'prometheus/scrape.yml');

if (!hasPromtool) console.warn('promtool not installed: the promtool checks of deploy/prometheus are skipped (CI installs it)');
if (python === undefined) console.warn('no python3 with PyYAML: the YAML checks of deploy/prometheus are skipped');

const scratch = mkdtempSync(join(tmpdir(), 'chatbox-deploy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const promtool = (...args: string[]) => {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd: scratch });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};

/** prometheus.yml as an operator would assemble it: our scrape jobs and our rules. */
function assembledConfig(scrape: string): string {
  return ['global:', '  scrape_interval: 15s', '  evaluation_interval: 15s', 'rule_files:', `  - ${RULES}`, scrape].join('\n');
}

describe.runIf(hasPromtool)('promtool', () => {
  it('`promtool check rules` accepts rules.yml', () => {
    const r = promtool('check', 'rules', RULES);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  it('`promtool test rules` passes rules.test.yml', () => {
    const r = promtool('test', 'rules', RULE_TESTS);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('the rule tests fail when an alert threshold is broken (they can fail)', () => {
    const broken = readFileSync(RULES, 'utf8').replace('provider:chatbox_llm_errors:ratio_rate5m > 0.10', 'provider:chatbox_llm_errors:ratio_rate5m > 0.60');
    expect(broken).not.toBe(readFileSync(RULES, 'utf8'));
    writeFileSync(join(scratch, 'rules.yml'), broken);
    writeFileSync(join(scratch, 'rules.test.yml'), readFileSync(RULE_TESTS, 'utf8'));
    const r = promtool('test', 'rules', join(scratch, 'rules.test.yml'));
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('ChatboxLlmErrorRatioHigh');
  });

  it('`promtool check config` accepts a prometheus.yml made of scrape.yml and rules.yml', () => {
    const scrape = readFileSync(SCRAPE, 'utf8');
    const file = join(scratch, 'prometheus.yml');
    writeFileSync(file, assembledConfig(scrape));
    let r = promtool('check', 'config', file);
    if (r.status !== 0 && /field kubernetes_sd_configs not found/.test(r.output)) {
      // Debian builds Prometheus without Kubernetes discovery. Check everything else (the jobs,
      // the relabelling, the rule files) with the discovery block swapped for a static target;
      // the block itself is asserted in the YAML test below.
      console.warn('promtool was built without kubernetes_sd_configs: checking scrape.yml with that block replaced by a static target');
      const swapped = scrape.replace(/kubernetes_sd_configs:\n(\s+)- role: pod\n/, "static_configs:\n$1- targets: ['pod-discovery-stand-in:8080']\n");
      expect(swapped).not.toBe(scrape);
      writeFileSync(file, assembledConfig(swapped));
      r = promtool('check', 'config', file);
    }
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });
});

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTests {
  rule_files: string[];
  tests: {
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
  }[];
}
interface ScrapeFile {
  scrape_configs: {
    job_name: string;
    metrics_path: string;
    scrape_interval: string;
    static_configs?: { targets: string[] }[];
    kubernetes_sd_configs?: { role: string }[];
    relabel_configs?: { source_labels?: string[]; action?: string; regex?: string; target_label?: string; replacement?: string }[];
  }[];
}

describe.runIf(python !== undefined)('rules.yml and scrape.yml', () => {
  const rules = python === undefined ? [] : yamlDoc<RuleFile>(RULES).groups.flatMap((g) => g.rules);
  const recorded = new Set(rules.flatMap((r) => (r.record === undefined ? [] : [r.record])));
  const alerts = rules.filter((r) => r.alert !== undefined);

  it('selects only contract metrics, runtime metrics, `up` and its own recording rules', async () => {
    const { allowed, runtime } = await selectableNames();
    const problems: string[] = [];
    for (const rule of rules) {
      const { metrics, unknownFunctions } = promqlNames(rule.expr);
      for (const f of unknownFunctions) problems.push(`${rule.record ?? rule.alert}: unknown function ${f}`);
      for (const name of metrics) {
        const ok =
          allowed.has(name) ||
          recorded.has(name) ||
          name === 'up' ||
          runtime.includes(name);
        if (!ok) problems.push(`${rule.record ?? rule.alert}: ${name} is not in the metrics contract`);
      }
    }
    expect(problems).toEqual([]);
    expect(recorded.size).toBeGreaterThan(0);
    expect(alerts.length).toBeGreaterThan(0);
  });

  it('records the series the issue asks for', () => {
    const byName = new Map(rules.flatMap((r) => (r.record === undefined ? [] : [[r.record, r.expr] as const])));
    const expectRecord = (name: string, ...fragments: string[]) => {
      const expr = byName.get(name);
      expect(expr, name).toBeDefined();
      for (const f of fragments) expect(expr).toContain(f);
    };
    expectRecord('provider:chatbox_llm_errors:ratio_rate5m', 'chatbox_llm_errors_total', 'chatbox_llm_requests_total', 'by (provider)');
    expectRecord('provider:chatbox_llm_latency_seconds:p95_rate5m', 'histogram_quantile(0.95', 'chatbox_llm_latency_seconds_bucket', 'by (provider, le)');
    expectRecord('chatbox:messages_received:rate5m', 'rate(chatbox_messages_received_total');
    expectRecord('provider:chatbox_tokens_used:rate1m', 'chatbox_tokens_used_total', 'by (provider)', '* 60');
    expectRecord('pod:chatbox_websocket_connections:sum', 'chatbox_websocket_connections_total', 'pod');
  });

  it('has the alerts the issue asks for, each with a severity, a summary and a description', () => {
    const byName = new Map(alerts.map((a) => [a.alert as string, a]));
    const expectAlert = (name: string, fragment: string, forDuration?: string) => {
      const a = byName.get(name);
      expect(a, name).toBeDefined();
      expect(a?.expr).toContain(fragment);
      if (forDuration !== undefined) expect(a?.for).toBe(forDuration);
    };
    expectAlert('ChatboxLlmErrorRatioHigh', '> 0.10', '5m');
    expectAlert('ChatboxLlmTimeToFirstTokenSlow', '> 8');
    expect(rules.find((r) => r.record === 'provider:chatbox_llm_time_to_first_token_seconds:p95_rate5m')?.expr).toContain(
      'chatbox_llm_time_to_first_token_seconds_bucket',
    );
    expectAlert('ChatboxMessageErrorRatioHigh', '> 0.05');
    expectAlert('ChatboxConnectionsNearHpaTarget', '> 90');
    expectAlert('ChatboxTargetDown', 'up{job="chatbox"} == 0');
    expectAlert('ChatboxActiveSessionsStuck', '== 0');
    expectAlert('ChatboxBusSubscriberErrors', 'chatbox_bus_subscriber_errors_total');
    for (const a of alerts) {
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
    }
  });

  it('rules.test.yml shows every alert firing and, later, cleared', () => {
    const suite = yamlDoc<RuleTests>(RULE_TESTS);
    expect(suite.rule_files).toEqual(['rules.yml']);
    const cases = suite.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      const firing = mine.filter((c) => c.exp_alerts.length > 0).map((c) => durationSeconds(c.eval_time));
      const clear = mine.filter((c) => c.exp_alerts.length === 0).map((c) => durationSeconds(c.eval_time));
      expect(firing.length, `${a.alert} never fires in rules.test.yml`).toBeGreaterThan(0);
      expect(
        clear.some((t) => t > Math.min(...firing)),
        `${a.alert} is never shown cleared after firing`,
      ).toBe(true);
    }
  });

  it('scrape.yml has the chatbox job (path /metrics, 15s) and annotation-based pod discovery', () => {
    const jobs = yamlDoc<ScrapeFile>(SCRAPE).scrape_configs;
    const staticJob = jobs.find((j) => j.job_name === 'chatbox');
    expect(staticJob?.metrics_path).toBe('/metrics');
    expect(staticJob?.scrape_interval).toBe('15s');
    expect(staticJob?.static_configs?.[0]?.targets).toEqual(['chatbox:8080']);

    const podJob = jobs.find((j) => j.kubernetes_sd_configs !== undefined);
    expect(podJob?.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    expect(podJob?.metrics_path).toBe('/metrics');
    expect(podJob?.scrape_interval).toBe('15s');
    const relabel = podJob?.relabel_configs ?? [];
    const sources = relabel.flatMap((r) => r.source_labels ?? []);
    for (const a of ['scrape', 'path', 'port']) expect(sources).toContain(`__meta_kubernetes_pod_annotation_prometheus_io_${a}`);
    // Same job label either way, so rules and dashboard need no change.
    expect(relabel).toContainEqual({ target_label: 'job', replacement: 'chatbox' });
    // prometheus-adapter needs these two labels to map series to pods.
    expect(relabel.map((r) => r.target_label)).toEqual(expect.arrayContaining(['namespace', 'pod']));
  });
});
