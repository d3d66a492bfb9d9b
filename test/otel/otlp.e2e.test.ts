// The OpenTelemetry exporter end to end: a scripted conversation through the real server (demo
// model, and a scripted OpenAI adapter that fails once, then streams with cached and reasoning
// tokens), exported by the official OTLP/HTTP exporter to a real receiver on 127.0.0.1. The
// exported GenAI instruments, units, attributes and values equal the Prometheus readings of the
// same run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderFailure } from '../../src/llm/failure.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import type { IMetric } from '@opentelemetry/otlp-transformer/build/src/metrics/internal-types.js';
import { attachOpenTelemetry } from '../../src/otel/attach.js';
import { createOtlpExport, type OtlpExport } from '../../src/otel/env.js';
import { DURATION_BUCKETS, TOKEN_BUCKETS } from '../../src/otel/names.js';
import type { Exposition } from '../support/exposition.js';
import { histogramPoint, startOtlpReceiver, sumValue, type OtlpReceiver } from '../support/otlp-receiver.js';
import { llmConfig, scriptedAdapter, spec } from '../support/scripted-adapter.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let receiver: OtlpReceiver;
let json: OtlpExport;
let proto: OtlpExport;
let otel: Map<string, IMetric>;
let prom: Exposition;

const config = llmConfig([spec('demo', 'demo'), spec('gpt-4o-mini', 'openai', { prices: { input: 0.15, output: 0.6, cachedInput: 0.075 } })]);
const openai = scriptedAdapter([
  { fail: new ProviderFailure('server_error', 500, 'scripted outage') },
  { chunks: ['Hello', ' from', ' the', ' script'], gapMs: 3, usage: { inputTokens: 40, outputTokens: 4, cachedInputTokens: 16, reasoningTokens: 2 }, finishReason: 'length' },
]);

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  server = await startTestServer({
    replies: (bus) => createReplySource({ config, bus, demoChunkDelayMs: 2, random: () => 0, adapters: { openai: () => openai } }),
  });
  const settings = { intervalMs: 3_600_000, timeoutMs: 5_000, serviceName: 'chatbox-test' };
  json = createOtlpExport({ ...settings, url: `${receiver.url}/json/v1/metrics`, protocol: 'http/json' });
  proto = createOtlpExport({ ...settings, url: `${receiver.url}/proto/v1/metrics`, protocol: 'http/protobuf' });
  const gauges = { connections: () => server.app.connections.size, sessions: () => server.store.openSessionCount() };
  attachOpenTelemetry(server.bus, json.meterProvider, { gauges, providers: ['demo', 'openai'] });
  attachOpenTelemetry(server.bus, proto.meterProvider, { gauges, providers: ['demo', 'openai'] });

  const alice = await server.connect(await server.token('alice'));
  await alice.next((f) => f.type === 'connection_status');
  alice.send({ type: 'user_message', content: 'hello demo' });
  await alice.reply();
  alice.send({ type: 'model_select', model_id: 'gpt-4o-mini' });
  const from = alice.frames.length;
  alice.send({ type: 'user_message', content: 'hello script' });
  expect(await alice.reply({ from })).toBe('Hello from the script');
  await fetch(`${server.app.url}/chatbox/healthz`);
  await fetch(`${server.app.url}/no/such/path`);
  alice.terminate();

  await json.meterProvider.forceFlush();
  await proto.meterProvider.forceFlush();
  otel = receiver.lastJson();
  prom = await server.scrape();
}, 30_000);

afterAll(async () => {
  await json.shutdown();
  await proto.shutdown();
  await server.stop();
  await receiver.close();
});

const demo = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'chatbox.demo', 'gen_ai.request.model': 'demo' };
const gpt = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' };
const p = (name: string, labels: Record<string, string> = {}): number => prom.value(name, labels) ?? 0;

describe('OTLP export beside /metrics', () => {
  it('the official exporter sent both protocols to the receiver, named by OTEL_SERVICE_NAME', () => {
    const types = new Set(receiver.received.map((r) => `${r.path} ${r.contentType}`));
    expect(types).toContain('/json/v1/metrics application/json');
    expect(types).toContain('/proto/v1/metrics application/x-protobuf');
    const protoBody = receiver.received.find((r) => r.path.startsWith('/proto'))?.body.toString('latin1') ?? '';
    expect(protoBody).toContain('gen_ai.client.operation.duration');
    expect(receiver.resourceAttributes()['service.name']).toBe('chatbox-test');
  });

  it('GenAI instruments have the conventions’ units and bucket boundaries', () => {
    const units = Object.fromEntries(
      ['gen_ai.client.operation.duration', 'gen_ai.client.token.usage', 'gen_ai.client.operation.time_to_first_chunk', 'gen_ai.client.operation.time_per_output_chunk'].map((n) => [n, otel.get(n)?.unit]),
    );
    expect(units).toEqual({
      'gen_ai.client.operation.duration': 's',
      'gen_ai.client.token.usage': '{token}',
      'gen_ai.client.operation.time_to_first_chunk': 's',
      'gen_ai.client.operation.time_per_output_chunk': 's',
    });
    expect(histogramPoint(otel.get('gen_ai.client.operation.duration'), demo)?.explicitBounds).toEqual(DURATION_BUCKETS);
    expect(histogramPoint(otel.get('gen_ai.client.token.usage'), { ...demo, 'gen_ai.token.type': 'input' })?.explicitBounds).toEqual(TOKEN_BUCKETS);
  });

  it('operation duration: successful attempts equal chatbox_llm_request_duration_seconds, failed ones chatbox_llm_errors_total', () => {
    const duration = otel.get('gen_ai.client.operation.duration');
    for (const [attrs, provider] of [[demo, 'demo'], [gpt, 'openai']] as const) {
      const point = histogramPoint(duration, attrs);
      expect(Number(point?.count)).toBe(p('chatbox_llm_request_duration_seconds_count', { provider, streaming: 'true' }));
      expect(point?.sum).toBeCloseTo(p('chatbox_llm_request_duration_seconds_sum', { provider, streaming: 'true' }), 9);
      expect(Number(point?.count)).toBe(1);
    }
    const failed = histogramPoint(duration, { ...gpt, 'error.type': 'server_error' });
    expect(Number(failed?.count)).toBe(p('chatbox_llm_errors_total', { provider: 'openai' }));
    expect(Number(failed?.count)).toBe(1);
  });

  it('token usage, time to first chunk and time per output chunk equal the Prometheus series', () => {
    const tokens = otel.get('gen_ai.client.token.usage');
    for (const [attrs, provider] of [[demo, 'demo'], [gpt, 'openai']] as const) {
      for (const type of ['input', 'output'] as const) {
        expect(histogramPoint(tokens, { ...attrs, 'gen_ai.token.type': type })?.sum).toBe(p('chatbox_llm_tokens_total', { provider, type }));
      }
      const first = histogramPoint(otel.get('gen_ai.client.operation.time_to_first_chunk'), attrs);
      expect(Number(first?.count)).toBe(p('chatbox_llm_time_to_first_token_seconds_count', { provider }));
      expect(first?.sum).toBeCloseTo(p('chatbox_llm_time_to_first_token_seconds_sum', { provider }), 9);
      const gaps = histogramPoint(otel.get('gen_ai.client.operation.time_per_output_chunk'), attrs);
      expect(Number(gaps?.count)).toBe(p('chatbox_llm_inter_token_seconds_count', { provider }));
      expect(gaps?.sum).toBeCloseTo(p('chatbox_llm_inter_token_seconds_sum', { provider }), 9);
    }
    // The scripted reply: four chunks, so three gaps; 40 input tokens, 16 of them cached.
    expect(p('chatbox_llm_inter_token_seconds_count', { provider: 'openai' })).toBe(3);
    expect(p('chatbox_llm_tokens_total', { provider: 'openai', type: 'input' })).toBe(40);
    expect(p('chatbox_llm_token_details_total', { provider: 'openai', type: 'cached_input' })).toBe(16);
    expect(p('chatbox_llm_token_details_total', { provider: 'openai', type: 'reasoning' })).toBe(2);
    expect(p('chatbox_llm_cost_usd_total', { provider: 'openai', model: 'gpt-4o-mini' })).toBeCloseTo((24 * 0.15 + 16 * 0.075 + 4 * 0.6) / 1e6, 15);
  });

  it('the chat-service instruments equal their Prometheus series', () => {
    const pairs: [string, string][] = [
      ['chatbox.messages.received', 'chatbox_messages_received_total'],
      ['chatbox.messages.sent', 'chatbox_messages_sent_total'],
      ['chatbox.messages.failed', 'chatbox_message_errors_total'],
      ['chatbox.sessions.created', 'chatbox_sessions_created_total'],
      ['chatbox.sessions.ended', 'chatbox_sessions_ended_total'],
      ['chatbox.admin.takeovers', 'chatbox_admin_takeovers_total'],
      ['chatbox.sessions.active', 'chatbox_active_sessions_total'],
    ];
    for (const [o, name] of pairs) expect([o, sumValue(otel.get(o))]).toEqual([o, p(name)]);
    expect(p('chatbox_messages_received_total')).toBeGreaterThan(0);
    for (const reason of ['stop', 'length', 'error', 'cancelled']) {
      for (const provider of ['demo', 'openai']) {
        expect(sumValue(otel.get('chatbox.llm.finished'), { 'gen_ai.provider.name': provider === 'demo' ? 'chatbox.demo' : provider, 'chatbox.llm.finish_reason': reason })).toBe(
          p('chatbox_llm_finished_total', { provider, reason }),
        );
      }
    }
    expect(p('chatbox_llm_finished_total', { provider: 'openai', reason: 'length' })).toBe(1);
    expect(p('chatbox_llm_finished_total', { provider: 'demo', reason: 'stop' })).toBe(1);
  });

  it('REST requests are exported as http.server.request.duration by route pattern', () => {
    const http = otel.get('http.server.request.duration');
    expect(http?.unit).toBe('s');
    const health = histogramPoint(http, { 'http.route': '/chatbox/healthz', 'http.request.method': 'GET', 'http.response.status_code': 200 });
    expect(Number(health?.count)).toBe(1);
    expect(p('chatbox_http_requests_total', { route: '/chatbox/healthz', method: 'GET', status: '2xx' })).toBe(1);
    expect(p('chatbox_http_requests_total', { route: 'unmatched', method: 'GET', status: '4xx' })).toBe(1);
  });
});
