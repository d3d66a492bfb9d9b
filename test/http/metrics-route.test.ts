// /metrics over uWebSockets.js: the native binary is the one loaded, content negotiation,
// promtool's verdict, and scrapers that hang up mid-render.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { Gauge } from 'prom-client';
import type { us_listen_socket } from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { metricsRoute } from '../../src/http/metrics-route.js';
import { uwsMetricsHandler } from '../../src/http/uws-metrics.js';
import { isNativeUws, loadedNativeBinary, nativeBinaryName, uws } from '../../src/http/uws-native.js';
import { startUwsServer, type RunningServer } from '../../src/http/uws-server.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry, negotiateFormat, OPENMETRICS_CONTENT_TYPE } from '../../src/metrics/render.js';
import { parseExposition } from '../support/exposition.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
if (!hasPromtool) console.warn('promtool not installed: the `promtool check metrics` test is skipped (CI installs it)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: RunningServer;
let base: string;
let collects = 0;

beforeAll(async () => {
  const bus = createBus();
  const registry = createMetricsRegistry();
  attachMetrics(bus, registry);
  bus.emit('messageReceived', { bytes: 10 });
  bus.emit('llmRequested', { provider: 'anthropic', model: 'c', streaming: true, attempt: 2 });
  bus.emit('llmResponded', { provider: 'anthropic', model: 'c', streaming: true, latencySeconds: 1.5, durationSeconds: 3, inputTokens: 1, outputTokens: 2 });
  // A collector slow enough that a scraper can hang up while /metrics is being rendered.
  new Gauge({
    name: 'test_slow_collect',
    help: 'slow on purpose',
    registers: [registry],
    async collect() {
      collects++;
      await sleep(150);
      this.set(1);
    },
  });
  server = await startUwsServer({ host: '127.0.0.1', port: 0, routes: [metricsRoute(registry)] });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.close();
});

describe('uWebSockets.js', () => {
  it('runs on the native binary, not the silent pure-JS fallback', () => {
    expect(loadedNativeBinary(), `${nativeBinaryName} was not loaded`).toBeDefined();
    expect(existsSync(loadedNativeBinary() as string)).toBe(true);
    expect(String(uws.App)).toContain('[native code]');
    expect(isNativeUws()).toBe(true);
  });
});

describe('GET /metrics', () => {
  it('negotiates OpenMetrics when the scraper asks for it', async () => {
    const accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const res = await fetch(`${base}/metrics`, { headers: { accept } });
    expect(res.headers.get('content-type')).toBe(OPENMETRICS_CONTENT_TYPE);
    const body = await res.text();
    expect(body.endsWith('# EOF\n')).toBe(true);
    expect(body).toContain('# TYPE chatbox_messages_received counter');
    expect(body).toContain('\nchatbox_messages_received_total 1\n');
    expect(body).toContain('# TYPE chatbox_websocket_connections_total gauge');
    expect(body).toContain('chatbox_llm_latency_seconds_bucket{le="2.0",provider="anthropic"} 1');
    expect(parseExposition(body).value('chatbox_llm_retries_total', { provider: 'anthropic' })).toBe(1);
  });

  it('serves 0.0.4 again after an OpenMetrics scrape, with counter names intact', async () => {
    await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text' } });
    const body = await (await fetch(`${base}/metrics`)).text();
    expect(body).toContain('# TYPE chatbox_messages_received_total counter');
    expect(parseExposition(body).value('chatbox_messages_received_total')).toBe(1);
  });

  it('prefers the format with the higher q-value', () => {
    expect(negotiateFormat(undefined)).toBe('prometheus');
    expect(negotiateFormat('text/plain')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text;q=0.2,text/plain;q=0.9')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text; version=1.0.0')).toBe('openmetrics');
  });

  it('survives scrapers that hang up mid-render, on the route and on the plain uWS handler', async () => {
    const app = uws.App().get('/metrics', uwsMetricsHandler(createMetricsRegistry()));
    const listenSocket = await new Promise<us_listen_socket>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (ls) => (ls === false ? reject(new Error('listen failed')) : resolve(ls))),
    );
    const plainPort = uws.us_socket_local_port(listenSocket);
    for (const port of [server.port, plainPort]) {
      const before = collects;
      for (let i = 0; i < 5; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => {});
        socket.write('GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
        await sleep(20);
        socket.destroy();
      }
      if (port === server.port) expect(collects).toBeGreaterThan(before);
      await sleep(300);
    }
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('chatbox_messages_received_total 1');
    expect((await fetch(`http://127.0.0.1:${plainPort}/metrics`)).status).toBe(200);
    uws.us_listen_socket_close(listenSocket);
  });

  it.runIf(hasPromtool)('passes `promtool check metrics` but for the _total gauges the contract allows', async () => {
    const body = await (await fetch(`${base}/metrics`)).text();
    const run = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    const allowed = [
      'chatbox_websocket_connections_total',
      'chatbox_active_sessions_total',
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ];
    const problems = `${run.stdout}\n${run.stderr}`
      .split('\n')
      .filter((l) => l.trim() !== '')
      .filter((l) => !allowed.some((name) => l.startsWith(`${name} non-counter metrics should not have "_total" suffix`)))
      .filter((l) => !l.startsWith('test_slow_collect'));
    expect(problems).toEqual([]);
  });
});


describe('metricsRoute with a token (for services that embed it)', () => {
  it('answers only a scrape with the exact bearer token, and says why it refused', async () => {
    const registry = createMetricsRegistry();
    const route = metricsRoute(registry, '/m', 'scrape-me');
    const ask = (authorization?: string) =>
      Promise.resolve(
        route.handler({
          method: 'GET',
          path: '/m',
          query: new URLSearchParams(),
          header: (n) => (n === 'authorization' ? authorization : undefined),
          params: {},
          body: '',
          remoteAddress: '127.0.0.1',
        }),
      );
    expect((await ask('Bearer scrape-me')).status).toBe(200);
    expect(await ask()).toMatchObject({ status: 401, authFailure: 'missing' });
    expect(await ask('Bearer')).toMatchObject({ status: 401, authFailure: 'missing' });
    expect(await ask('Bearer scrape-mf')).toMatchObject({ status: 401, authFailure: 'signature' });
    expect(await ask('Bearer scrape-me-too')).toMatchObject({ status: 401, authFailure: 'signature' });
  });
});
