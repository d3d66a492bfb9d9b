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
      bus.emit('messageReceived', { bytes: 1 });
      const { body } = await m.renderMetrics(registry);
      detach();
      console.log(JSON.stringify({
        names: Object.keys(m).sort(),
        received: /chatbox_messages_received_total 1/.test(body),
        recorded: rec.count('messageReceived'),
        handler: typeof m.uwsMetricsHandler(registry),
      }));`;
    const started = Date.now();
    const result = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })) as {
      names: string[];
      received: boolean;
      recorded: number;
      handler: string;
    };
    expect(Date.now() - started).toBeLessThan(20_000);
    for (const name of ['createBus', 'subscribe', 'attachMetrics', 'attachRecorder', 'metricsRoute', 'uwsMetricsHandler', 'renderMetrics', 'EVENT_NAMES', 'METRICS', 'ChatboxError']) {
      expect(result.names).toContain(name);
    }
    expect(result.received).toBe(true);
    expect(result.recorded).toBe(1);
    expect(result.handler).toBe('function');
  }, 60_000);
});
