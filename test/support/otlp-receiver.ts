// A real OTLP/HTTP metrics receiver on 127.0.0.1: it accepts what the official exporter POSTs
// and decodes the JSON protocol into the OTLP request types of @opentelemetry/otlp-transformer
// (the OpenTelemetry JS project's own definitions of ExportMetricsServiceRequest).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IKeyValue } from '@opentelemetry/otlp-transformer/build/src/common/internal-types.js';
import type {
  IExportMetricsServiceRequest,
  IHistogramDataPoint,
  IMetric,
  INumberDataPoint,
} from '@opentelemetry/otlp-transformer/build/src/metrics/internal-types.js';

export interface Received {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

export interface OtlpReceiver {
  readonly url: string;
  readonly received: Received[];
  /** The metrics of the last JSON export, by instrument name. */
  lastJson(): Map<string, IMetric>;
  resourceAttributes(): Record<string, unknown>;
  close(): Promise<void>;
}

export const attributesOf = (kvs: readonly IKeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries(
    (kvs ?? []).map((kv) => {
      const v = kv.value;
      const value = v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue ?? null;
      return [kv.key, typeof value === 'string' && kv.key === 'http.response.status_code' ? Number(value) : value];
    }),
  );

const matches = (attrs: Record<string, unknown>, wanted: Record<string, unknown>): boolean =>
  Object.keys(attrs).length === Object.keys(wanted).length && Object.entries(wanted).every(([k, v]) => attrs[k] === v);

/** The histogram point with exactly these attributes. */
export function histogramPoint(metric: IMetric | undefined, wanted: Record<string, unknown>): IHistogramDataPoint | undefined {
  return metric?.histogram?.dataPoints.find((p) => matches(attributesOf(p.attributes), wanted));
}

/** The value of the sum point with exactly these attributes (0 when absent). */
export function sumValue(metric: IMetric | undefined, wanted: Record<string, unknown> = {}): number {
  const p: INumberDataPoint | undefined = metric?.sum?.dataPoints.find((d) => matches(attributesOf(d.attributes), wanted));
  return Number(p?.asInt ?? p?.asDouble ?? 0);
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      const json = (req.headers['content-type'] ?? '').includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const lastRequest = (): IExportMetricsServiceRequest => {
    const last = [...received].reverse().find((r) => r.contentType.includes('json'));
    if (last === undefined) throw new Error('no JSON export received');
    return JSON.parse(last.body.toString('utf8')) as IExportMetricsServiceRequest;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    lastJson() {
      const metrics = new Map<string, IMetric>();
      for (const rm of lastRequest().resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) metrics.set(m.name, m);
      return metrics;
    },
    resourceAttributes: () => attributesOf(lastRequest().resourceMetrics[0]?.resource?.attributes),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
