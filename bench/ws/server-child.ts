// A chat server for benchmarks, in its own process so clients and server do not share a core.
// Env: TRANSPORT (uws|ws), BENCH_METRICS (1|0: metrics subscriber attached or not).
// Prints one JSON line {"port":N} when listening; stops on SIGTERM.
import { pino } from 'pino';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createBus } from '../../src/events/bus.js';
import { createSessionStore } from '../../src/storage/index.js';
import { fakeReplies } from '../../test/support/fake-replies.js';

const config = loadConfig({
  ...process.env,
  PORT: '0',
  HOST: '127.0.0.1',
  JWT_SECRET: process.env['JWT_SECRET'] ?? 'bench-secret-bench-secret-bench-secret-0123',
  STORE: 'memory',
  LOG_LEVEL: 'silent',
  RATE_LIMIT_PER_MINUTE: '1000000',
  // all bench sockets come from 127.0.0.1
  UPGRADE_RATE_LIMIT_PER_MINUTE: '1000000',
});
const bus = createBus();
const store = await createSessionStore({ kind: 'memory', instanceId: 'bench', dataDir: config.dataDir, bus });
// Answers instantly with one chunk: the benchmark measures the server, not a model.
const replies = fakeReplies({ chunks: () => ['ok'], keepRequests: false });
const app = await startApp({
  config,
  store,
  replies,
  logger: pino({ level: 'silent' }),
  bus,
  metrics: process.env['BENCH_METRICS'] !== '0',
});
process.stdout.write(`${JSON.stringify({ port: app.server.port, wsUrl: app.wsUrl })}\n`);
// SIGUSR2: collect garbage, then report memory (the idle-memory benchmark reads retained memory,
// not garbage left over from the handshakes).
process.on('SIGUSR2', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers } })}\n`);
});
process.on('SIGTERM', () => {
  void app.stop().then(() => process.exit(0));
});
