// Composition root: config -> components -> bus -> subscribers -> listen; signals -> graceful stop.
import { pino } from 'pino';
import { startApp } from './app.js';
import { loadConfig, type ServerConfig } from './config/config.js';
import { createBus } from './events/bus.js';
import { isChatboxError } from './errors.js';
import { isNativeUws, nativeBinaryName } from './http/uws-native.js';
import { configuredProviders, createReplySource, loadModelConfig, unpricedModels } from './llm/index.js';
import { createSessionStore } from './storage/index.js';

function fatal(message: string): never {
  process.stderr.write(`chatbox: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    fatal(isChatboxError(error) ? error.message : String(error));
  }
  const logger = pino({ level: config.logLevel, base: { instance: config.instanceId } });

  // Never run on uWS's silent JS fallback by accident: say so and stop, or use the portable transport.
  if (config.transport === 'uws' && !isNativeUws()) {
    fatal(
      `the native uWebSockets.js binary (${nativeBinaryName}) did not load on this platform; ` +
        'start with TRANSPORT=ws to use the portable transport',
    );
  }

  const bus = createBus();
  const llm = await loadModelConfig(process.env);
  // Read before anything starts, so a bad OTEL_* value stops the start. The SDK takes ~140 ms to
  // load, so it is loaded only when an OTLP endpoint is set.
  const otlpWanted = Boolean(process.env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] || process.env['OTEL_EXPORTER_OTLP_ENDPOINT']);
  const otel = otlpWanted ? (await import('./otel/env.js')).otlpFromEnv(process.env) : undefined;
  const attachOpenTelemetry = otel === undefined ? undefined : (await import('./otel/attach.js')).attachOpenTelemetry;
  const replies = createReplySource({ config: llm, bus });
  const store = await createSessionStore({
    kind: config.store,
    ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
    dataDir: config.dataDir,
    instanceId: config.instanceId,
    ...(config.encryptionKey === undefined ? {} : { encryptionKey: config.encryptionKey }),
    bus,
    onDecryptError: (error) => logger.error({ code: error.code }, error.message),
  });
  const app = await startApp({ config, store, replies, logger, bus });
  const detachOtel =
    otel === undefined || attachOpenTelemetry === undefined
      ? () => {}
      : attachOpenTelemetry(bus, otel.meterProvider, {
          providers: configuredProviders(llm),
          gauges: { connections: () => app.connections.size, sessions: () => store.openSessionCount(), llmInFlight: (p) => replies.inFlight?.(p) ?? 0 },
        });
  if (otel !== undefined) {
    logger.info({ url: otel.settings.url, protocol: otel.settings.protocol, intervalMs: otel.settings.intervalMs }, 'exporting metrics over OTLP');
  }
  const unpriced = unpricedModels(llm);
  if (unpriced.length > 0) logger.info({ models: unpriced }, 'no prices configured for these models: chatbox_llm_cost_usd_total does not count their spend');

  const models = replies.models();
  logger.info(
    {
      url: app.url,
      websocket: app.wsUrl,
      metrics: `${app.url}/metrics`,
      transport: config.transport === 'uws' ? 'uWebSockets.js (native)' : 'ws (portable)',
      store: config.store,
      models: models.map((m) => `${m.id} (${m.provider})`),
    },
    `chatbox listening on ${config.host}:${app.server.port}`,
  );
  if (models.every((m) => m.provider === 'demo')) {
    logger.warn('no LLM API key configured: answering with the built-in demo model (set OPENAI_API_KEY, ANTHROPIC_API_KEY or DIFY_API_KEY)');
  }
  if (config.generatedSecret) {
    const user = await app.auth.mint({ userId: 'alice', name: 'Alice', roles: ['user'] });
    const admin = await app.auth.mint({ userId: 'admin', name: 'Admin', roles: ['admin'] });
    process.stdout.write(
      [
        '',
        'Development mode: JWT_SECRET is unset, using the development secret kept in DATA_DIR.',
        `  chat (alice):     ${app.url}${config.prefix}/?token=${user}`,
        `  console (admin):  ${app.url}${config.prefix}/console?token=${admin}`,
        '',
        `  user token (alice):  ${user}`,
        `  admin token (admin): ${admin}`,
        `  connect:  npx wscat -c '${app.wsUrl}?token=${user}'`,
        '  more:     npm run token -- --user bob [--admin]',
        '',
      ].join('\n') + '\n',
    );
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than SHUTDOWN_GRACE_S; exiting');
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    force.unref();
    app
      .stop()
      .then(async () => {
        detachOtel();
        await otel?.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'last OTLP export failed'));
      })
      .then(
        () => {
          logger.info({ connections: app.connections.size }, 'stopped');
          logger.flush();
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A bug in one request must not take every user's chat down with it.
  process.on('unhandledRejection', (error) => logger.error({ err: error }, 'unhandled rejection'));
}

main().catch((error: unknown) => fatal(isChatboxError(error) ? `${error.code}: ${error.message}` : String(error)));
