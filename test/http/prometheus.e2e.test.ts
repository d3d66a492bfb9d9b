// A real Prometheus server scrapes our /metrics (it negotiates OpenMetrics) and its query API
// must see the contract series with the values we emitted: the strongest check that the
// exposition parses the way production will parse it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { metricsRoute } from '../../src/http/metrics-route.js';
import { startUwsServer, type RunningServer } from '../../src/http/uws-server.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { freePort } from '../support/net.js';

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
if (!hasPrometheus) console.warn('prometheus not installed: the real-Prometheus scrape test is skipped (CI installs it)');

describe.runIf(hasPrometheus)('a real Prometheus scraping /metrics', () => {
  let server: RunningServer;
  let prom: ChildProcess;
  let dir: string;
  let promUrl: string;
  let accepts: string[] = [];

  beforeAll(async () => {
    const bus = createBus();
    const registry = createMetricsRegistry();
    attachMetrics(bus, registry, { providers: ['openai', 'anthropic', 'dify'] });
    for (let i = 0; i < 7; i++) bus.emit('messageReceived', { bytes: 1 });
    bus.emit('llmRequested', { provider: 'dify', model: 'd', streaming: true, attempt: 1 });
    bus.emit('llmResponded', { provider: 'dify', model: 'd', streaming: true, latencySeconds: 0.7, durationSeconds: 2, inputTokens: 10, outputTokens: 20 });
    const route = metricsRoute(registry);
    server = await startUwsServer({
      host: '127.0.0.1',
      port: 0,
      routes: [{ ...route, handler: (req) => (accepts.push(req.header('accept') ?? ''), route.handler(req)) }],
    });
    dir = mkdtempSync(join(tmpdir(), 'chatbox-prom-'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: chatbox\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['127.0.0.1:${server.port}']\n`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: 'ignore' },
    );
  }, 30_000);

  afterAll(async () => {
    prom?.kill('SIGKILL');
    await server?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result;
  }

  it('scrapes successfully with OpenMetrics and stores the contract series', async () => {
    const deadline = Date.now() + 20_000;
    let up: string | undefined;
    while (Date.now() < deadline) {
      try {
        const series = await query('up{job="chatbox"}');
        up = series[0]?.value[1];
        if (up === '1') break;
      } catch {
        // Prometheus still starting
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(up).toBe('1');
    expect(accepts.some((a) => a.includes('application/openmetrics-text'))).toBe(true);
    expect((await query('chatbox_messages_received_total'))[0]?.value[1]).toBe('7');
    expect((await query('chatbox_tokens_used_total{provider="dify"}'))[0]?.value[1]).toBe('30');
    expect((await query('chatbox_websocket_connections_total'))[0]?.value[1]).toBe('0');
    const buckets = await query('chatbox_llm_latency_seconds_bucket{provider="dify"}');
    expect(buckets.length).toBe(13);
    expect(buckets.find((b) => b.metric['le'] === '1.0')?.value[1]).toBe('1');
    // Scrape health as Prometheus records it: every sample accepted, none dropped.
    expect(Number((await query('scrape_samples_scraped{job="chatbox"}'))[0]?.value[1])).toBeGreaterThan(100);
  }, 30_000);
});
