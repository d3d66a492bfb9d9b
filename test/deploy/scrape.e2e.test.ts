// The pod-discovery relabelling of deploy/prometheus/scrape.yml, run by a real Prometheus.
// Debian's Prometheus has no Kubernetes discovery, so the test hands the job file-based
// discovery with the same __meta_kubernetes_* labels Kubernetes discovery would attach; every
// relabel rule then runs as written. Proves: only annotated chatbox pods are kept, the annotated
// port and path are scraped, the series carry job="chatbox", namespace and pod (what the rules
// and prometheus-adapter need), and the recording rules and the adapter's query see them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY, hasPrometheus } from './support.js';
import { freePort } from '../support/net.js';

if (!hasPrometheus) console.warn('prometheus not installed: the scrape.yml relabelling test is skipped (CI installs it)');

const pod = (name: string, labels: Record<string, string>) => ({
  targets: ['127.0.0.1:1'], // the pod IP with a container port; the annotation must replace the port
  labels: {
    __meta_kubernetes_namespace: 'chat',
    __meta_kubernetes_pod_name: name,
    __meta_kubernetes_pod_phase: 'Running',
    __meta_kubernetes_pod_label_app_kubernetes_io_name: 'chatbox',
    __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true',
    __meta_kubernetes_pod_annotation_prometheus_io_path: '/metrics',
    ...labels,
  },
});

interface Target {
  scrapePool: string;
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  scrapeUrl: string;
  health: string;
}

describe.runIf(hasPrometheus)('scrape.yml pod discovery under a real Prometheus', () => {
  let app: Server;
  let prom: ChildProcess | undefined;
  let dir: string;
  let promUrl: string;
  let appPort: number;

  beforeAll(async () => {
    // A stand-in chatbox: the gauge the HPA scales on, at the path the annotation names.
    app = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE chatbox_websocket_connections_total gauge\nchatbox_websocket_connections_total 3\n');
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as { port: number }).port;

    dir = mkdtempSync(join(tmpdir(), 'chatbox-scrape-'));
    const port = String(appPort);
    writeFileSync(
      join(dir, 'pods.json'),
      JSON.stringify([
        pod('chatbox-a', { __meta_kubernetes_pod_annotation_prometheus_io_port: port }),
        pod('chatbox-b', { __meta_kubernetes_pod_annotation_prometheus_io_port: port, __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'false' }),
        pod('other-a', { __meta_kubernetes_pod_annotation_prometheus_io_port: port, __meta_kubernetes_pod_label_app_kubernetes_io_name: 'other' }),
        pod('chatbox-old', { __meta_kubernetes_pod_annotation_prometheus_io_port: port, __meta_kubernetes_pod_phase: 'Succeeded' }),
      ]),
    );
    const scrape = readFileSync(resolve(DEPLOY, 'prometheus/scrape.yml'), 'utf8');
    const swapped = scrape
      .replace(/kubernetes_sd_configs:\n(\s+)- role: pod\n/, `file_sd_configs:\n$1- files: ['${join(dir, 'pods.json')}']\n`)
      .replace(/scrape_interval: 15s/g, 'scrape_interval: 1s')
      // the static example points at a host that does not exist here
      .replace("targets: ['chatbox:8080']", "targets: ['127.0.0.1:1']");
    expect(swapped).toContain('file_sd_configs');
    writeFileSync(
      join(dir, 'prometheus.yml'),
      ['global:', '  evaluation_interval: 1s', 'rule_files:', `  - ${resolve(DEPLOY, 'prometheus/rules.yml')}`, swapped].join('\n'),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    prom = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`],
      { stdio: 'ignore' },
    );
  }, 30_000);

  afterAll(async () => {
    prom?.kill('SIGKILL');
    await new Promise((r) => app?.close(r));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function get<T>(path: string): Promise<T | undefined> {
    try {
      const res = await fetch(`${promUrl}${path}`);
      return res.ok ? ((await res.json()) as { data: T }).data : undefined;
    } catch {
      return undefined; // not listening yet
    }
  }

  /** Polls `probe` until it returns a value, for at most 20 s. */
  async function eventually<T>(probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error('timed out waiting for Prometheus');
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  const instant = async (q: string) =>
    (await get<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(q)}`))?.result;

  it('keeps only annotated, running chatbox pods and scrapes the annotated port and path', async () => {
    const targets = await eventually(async () => {
      const t = await get<{ activeTargets: Target[]; droppedTargets: { discoveredLabels: Record<string, string> }[] }>('/api/v1/targets');
      const mine = t?.activeTargets.filter((x) => x.scrapePool === 'chatbox-kubernetes') ?? [];
      return mine.length > 0 && mine.every((x) => x.health === 'up') ? { mine, dropped: t?.droppedTargets ?? [] } : undefined;
    });
    expect(targets.mine).toHaveLength(1);
    const [a] = targets.mine as [Target];
    expect(a.scrapeUrl).toBe(`http://127.0.0.1:${appPort}/metrics`);
    expect(a.labels).toEqual({ job: 'chatbox', namespace: 'chat', pod: 'chatbox-a', instance: `127.0.0.1:${appPort}` });
    const droppedPods = targets.dropped.map((d) => d.discoveredLabels.__meta_kubernetes_pod_name).sort();
    expect(droppedPods).toEqual(['chatbox-b', 'chatbox-old', 'other-a']);
  });

  it('its series feed the recording rules and the prometheus-adapter query behind the HPA', async () => {
    const recorded = await eventually(async () => {
      const r = await instant('pod:chatbox_websocket_connections:sum');
      return r !== undefined && r.length > 0 ? r : undefined;
    });
    expect(recorded).toEqual([{ metric: { __name__: 'pod:chatbox_websocket_connections:sum', namespace: 'chat', pod: 'chatbox-a', instance: `127.0.0.1:${appPort}` }, value: [expect.any(Number), '3'] }]);
    // What prometheus-adapter.yaml runs for `kubectl get --raw .../pods/*/chatbox_websocket_connections_total`:
    // its seriesQuery, then its metricsQuery with the templates filled in.
    const series = await instant('chatbox_websocket_connections_total{namespace!="",pod!=""}');
    expect(series?.map((s) => s.metric.pod)).toEqual(['chatbox-a']);
    const perPod = await instant('sum(chatbox_websocket_connections_total{namespace="chat",pod=~"chatbox-a|chatbox-b"}) by (pod)');
    expect(perPod?.map((s) => [s.metric.pod, s.value[1]])).toEqual([['chatbox-a', '3']]);
  });
});
