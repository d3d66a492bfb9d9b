// The library entry point: built with the package's own build config, importable without
// starting a server, with type declarations beside it, and `exports` pointing at it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
// Inside node_modules so the build resolves this package's dependencies like an installed copy.
const out = mkdtempSync(join(root, 'node_modules', '.chatbox-dist-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('package entry point', () => {
  it('builds, imports without starting anything, and exports the instrumentation API with types', () => {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', out], {
      cwd: root,
      stdio: 'pipe',
    });
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { import: string; types: string }> };
    const entry = pkg.exports['.'];
    expect(entry?.import).toBe('./dist/index.js');
    expect(entry?.types).toBe('./dist/index.d.ts');
    expect(existsSync(join(out, 'index.d.ts'))).toBe(true);
    // A separate process: importing must neither listen nor keep the process alive.
    const script = `
      const m = await import(${JSON.stringify(join(out, 'index.js'))});
      const bus = m.createBus();
      const registry = m.createMetricsRegistry();
      const detach = m.attachMetrics(bus, registry, { defaultMetrics: false });
      const rec = m.attachRecorder(bus);
      // A second exporter on the same bus: OpenTelemetry on the embedding service's own provider.
      const sdk = await import('@opentelemetry/sdk-metrics');
      const reader = new sdk.PeriodicExportingMetricReader({ exporter: new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3600000 });
      const provider = new sdk.MeterProvider({ readers: [reader] });
      const detachOtel = m.attachOpenTelemetry(bus, provider);
      const detachDiagnostics = m.attachDiagnostics(bus);
      const dc = await import('node:diagnostics_channel');
      let published = 0;
      dc.subscribe('chatbox:messageReceived', () => published++);
      bus.emit('messageReceived', { bytes: 1 });
      const { body } = await m.renderMetrics(registry);
      const { resourceMetrics } = await reader.collect();
      const otel = resourceMetrics.scopeMetrics[0].metrics.find((x) => x.descriptor.name === 'chatbox.messages.received').dataPoints[0].value;
      detachOtel();
      detachDiagnostics();
      await provider.shutdown();
      detach();
      console.log(JSON.stringify({
        names: Object.keys(m).sort(),
        received: /chatbox_messages_received_total 1/.test(body),
        recorded: rec.count('messageReceived'),
        otel,
        published,
        handler: typeof m.uwsMetricsHandler(registry),
      }));`;
    const started = Date.now();
    const result = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })) as {
      names: string[];
      received: boolean;
      recorded: number;
      otel: number;
      published: number;
      handler: string;
    };
    expect(Date.now() - started).toBeLessThan(20_000);
    for (const name of [
      'createBus',
      'subscribe',
      'attachMetrics',
      'attachRecorder',
      'attachLogger',
      'attachOpenTelemetry',
      'attachDiagnostics',
      'channels',
      'otlpFromEnv',
      'createOtlpExport',
      'metricsRoute',
      'uwsMetricsHandler',
      'renderMetrics',
      'EVENT_NAMES',
      'METRICS',
      'DEPTH_METRICS',
      'ChatboxError',
    ]) {
      expect(result.names).toContain(name);
    }
    expect(result.received).toBe(true);
    expect(result.recorded).toBe(1);
    expect(result.otel).toBe(1);
    expect(result.published).toBe(1);
    expect(result.handler).toBe('function');
  }, 60_000);
});
