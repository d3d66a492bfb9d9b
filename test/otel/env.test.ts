// The OTEL_* variables: which endpoint, protocol, interval and service name they select, and a
// clear CHATBOX_ERR_CONFIG for a value we cannot honour.
import { describe, expect, it } from 'vitest';
import { otlpFromEnv, otlpSettings } from '../../src/otel/env.js';
import { startOtlpReceiver, sumValue } from '../support/otlp-receiver.js';

describe('otlpSettings', () => {
  it('is off without an endpoint', () => {
    expect(otlpSettings({})).toBeUndefined();
    expect(otlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBeUndefined();
  });

  it('appends /v1/metrics to the base endpoint; the metrics endpoint is used as given and wins', () => {
    expect(otlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toEqual({
      url: 'http://collector:4318/v1/metrics',
      protocol: 'http/protobuf',
      intervalMs: 60_000,
      timeoutMs: 30_000,
      serviceName: 'chatbox',
    });
    const s = otlpSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://metrics.example/otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
      OTEL_SERVICE_NAME: 'chat-eu',
    });
    expect(s).toEqual({ url: 'https://metrics.example/otlp', protocol: 'http/json', intervalMs: 5000, timeoutMs: 5000, serviceName: 'chat-eu' });
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL must be http\/protobuf or http\/json \(got "grpc"; grpc is not supported\)/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRIC_EXPORT_INTERVAL: '0' }, /OTEL_METRIC_EXPORT_INTERVAL must be a whole number/],
  ])('refuses %o', (env, message) => {
    expect(() => otlpSettings(env)).toThrowError(expect.objectContaining({ code: 'CHATBOX_ERR_CONFIG', message: expect.stringMatching(message) }));
  });

  it('builds a MeterProvider whose shutdown sends what is left', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const e = otlpFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_METRIC_EXPORT_INTERVAL: '3600000' });
      expect(e?.settings.url).toBe(`${receiver.url}/v1/metrics`);
      e?.meterProvider.getMeter('t').createCounter('left.over').add(3);
      await e?.shutdown();
      expect(sumValue(receiver.lastJson().get('left.over'))).toBe(3);
      expect(receiver.resourceAttributes()['service.name']).toBe('chatbox');
    } finally {
      await receiver.close();
    }
  });
});
