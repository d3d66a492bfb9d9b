// A MeterProvider exporting over OTLP/HTTP, configured by the standard OTEL_* variables. Off
// unless an OTLP endpoint is set. Bad values stop the start with a message naming the variable.
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { ChatboxError } from '../errors.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface OtlpSettings {
  /** Where metrics are POSTed (the metrics endpoint as given, or the base endpoint + /v1/metrics). */
  readonly url: string;
  readonly protocol: OtlpProtocol;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly serviceName: string;
}

export interface OtlpExport {
  readonly settings: OtlpSettings;
  readonly meterProvider: MeterProvider;
  /** Exports what is left, then stops the reader (call at shutdown). */
  shutdown(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

const fail = (message: string): never => {
  throw new ChatboxError('CHATBOX_ERR_CONFIG', message);
};

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a whole number of milliseconds above 0 (got "${raw}")`);
  return n;
}

function checkedUrl(name: string, raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    fail(`${name} must be an http(s) URL (got "${raw}")`);
  }
  return raw;
}

/** The settings the variables ask for; undefined when no OTLP endpoint is set (export off). */
export function otlpSettings(env: Env): OtlpSettings | undefined {
  const metrics = env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'];
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  let url: string;
  if (metrics !== undefined && metrics !== '') url = checkedUrl('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', metrics);
  else if (base !== undefined && base !== '') url = `${checkedUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base).replace(/\/+$/, '')}/v1/metrics`;
  else return undefined;
  const protocolVar = env['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'] ? 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env[protocolVar] || 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    fail(`${protocolVar} must be http/protobuf or http/json (got "${protocol}"; grpc is not supported)`);
  }
  const intervalMs = positiveInt(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000);
  // The SDK refuses a timeout longer than the interval; the standard default is 30 s.
  const timeoutMs = Math.min(positiveInt(env, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000), intervalMs);
  return { url, protocol: protocol as OtlpProtocol, intervalMs, timeoutMs, serviceName: env['OTEL_SERVICE_NAME'] || 'chatbox' };
}

/** A MeterProvider with a periodic OTLP/HTTP reader, from explicit settings. */
export function createOtlpExport(settings: OtlpSettings): OtlpExport {
  const exporter = settings.protocol === 'http/json' ? new JsonExporter({ url: settings.url }) : new ProtoExporter({ url: settings.url });
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: settings.intervalMs,
    exportTimeoutMillis: settings.timeoutMs,
  });
  const meterProvider = new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
    readers: [reader],
  });
  return {
    settings,
    meterProvider,
    async shutdown() {
      await meterProvider.forceFlush().catch(() => undefined);
      await meterProvider.shutdown();
    },
  };
}

/** The export the variables ask for, or undefined when none is configured. */
export function otlpFromEnv(env: Env): OtlpExport | undefined {
  const settings = otlpSettings(env);
  return settings === undefined ? undefined : createOtlpExport(settings);
}
