// Assembles one chat server from its parts: bus -> subscribers -> store -> router -> socket
// handler -> routes -> transport. Everything is per instance, so tests run several in a process.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { appRoutes } from './app-routes.js';
import { createAuthGate } from './auth/gate.js';
import { createAuthenticator, type Authenticator } from './auth/jwt.js';
import type { LimiterFactory } from './cluster/limiter.js';
import type { ServerConfig } from './config/config.js';
import { attachDiagnostics } from './diagnostics/channels.js';
import { createBus, type Bus } from './events/bus.js';
import type { Provider } from './events/catalog.js';
import { createConsoleHub } from './console/console-hub.js';
import { relayConsoleRows } from './console/console-relay.js';
import { watchStore } from './console/watch-store.js';
import { clientAddressResolver } from './http/client-address.js';
import { startNodeServer } from './http/node-server.js';
import { httpObserver } from './http/observe.js';
import { securityHeaders } from './http/security-headers.js';
import { startUwsServer, type RunningServer } from './http/uws-server.js';
import type { ReplySource } from './llm/types.js';
import { attachLiveMetrics, type LiveMetrics } from './live/attach-live.js';
import { attachLogger } from './logging/attach-logger.js';
import { attachMetrics } from './metrics/attach.js';
import { createMetricsRegistry, type MetricsRegistry } from './metrics/render.js';
import { createChatRouter, type ChatRouter } from './router/chat-router.js';
import type { SessionStore } from './storage/types.js';
import { createSoloCluster } from './cluster/local.js';
import { createRedisCluster } from './cluster/redis.js';
import type { Cluster } from './cluster/types.js';
import { createChatSocketHandler } from './ws/chat-socket.js';
import { ConnectionRegistry } from './ws/connections.js';
import { createDelivery } from './ws/delivery.js';

/** help_request: a few per session per few minutes reach the admins; more are refused. */
const HELP_REQUESTS_PER_WINDOW = 3;
const HELP_WINDOW_S = 300;

export interface AppDeps {
  readonly config: ServerConfig;
  readonly store: SessionStore;
  readonly replies: ReplySource;
  readonly logger: Logger;
  /** Defaults to a new bus: one per app, never shared by accident. */
  readonly bus?: Bus;
  /** Attach the metrics subscriber (default true); tests may swap in a recorder instead. */
  readonly metrics?: boolean;
  /** Where rate limits keep their state (default: the cluster's, this process's memory without one). */
  readonly limiters?: LimiterFactory;
  /** The built web app (default dist/web). */
  readonly webDir?: string;
  /** State shared with other replicas; default: this process alone. */
  readonly cluster?: Cluster;
}

export interface App {
  readonly bus: Bus;
  readonly metricsRegistry: MetricsRegistry;
  /** The console's live-metrics rollups. */
  readonly live: LiveMetrics;
  readonly connections: ConnectionRegistry;
  readonly router: ChatRouter;
  readonly cluster: Cluster;
  readonly auth: Authenticator;
  readonly server: RunningServer;
  /** `http://host:port` as reachable from this machine. */
  readonly url: string;
  readonly wsUrl: string;
  ready(): boolean;
  /** Graceful stop: refuse new work, close sockets with 1001, end sessions, flush, release. */
  stop(): Promise<void>;
}

export async function startApp(deps: AppDeps): Promise<App> {
  const { config, store, replies, logger } = deps;
  const bus = deps.bus ?? createBus();
  const cluster =
    deps.cluster ??
    (config.redisUrl === undefined
      ? createSoloCluster(config.instanceId)
      : createRedisCluster({
          url: config.redisUrl,
          instanceId: config.instanceId,
          keyPrefix: config.redisKeyPrefix,
          bus,
          log: (level, message) => logger[level]({ cluster: 'redis' }, message),
        }));
  const now = (): number => performance.now();
  const metricsRegistry = createMetricsRegistry();
  const connections = new ConnectionRegistry();
  const providers = [...new Set(replies.models().map((m) => m.provider))] as Provider[];
  // One pair of readers for /metrics and the console's live metrics, so the two agree.
  const gauges = {
    connections: () => connections.size,
    sessions: () => store.openSessionCount(),
    ...(replies.inFlight === undefined ? {} : { llmInFlight: (p: Provider) => replies.inFlight?.(p) ?? 0 }),
  };
  const detachMetrics =
    deps.metrics === false
      ? () => {}
      : attachMetrics(bus, metricsRegistry, {
          providers,
          models: replies.models(),
          gauges,
          cluster: cluster.shared,
          eventLoopLagResolutionMs: config.eventLoopLagResolutionMs,
        });
  const detachLogger = attachLogger(bus, logger);
  const live = attachLiveMetrics(bus, { providers, gauges });
  // Costs one hasSubscribers check per event until an APM agent subscribes to chatbox:*.
  const detachDiagnostics = attachDiagnostics(bus);

  let ready = false;
  let stopping = false;
  // Undone in reverse if the start fails (the port is taken, Redis refuses a command...), so a
  // failed start leaves no subscriber, timer or connection behind.
  const undo: (() => unknown)[] = [detachMetrics, detachLogger, () => live.detach(), detachDiagnostics];
  try {
    return await assemble();
  } catch (error) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch {
        // the start's own error is the one to report
      }
    }
    throw error;
  }

  async function assemble(): Promise<App> {
    await store.init();
    await cluster.start();
    undo.push(() => cluster.stop());

    for (const warning of config.warnings) logger.warn(warning);
    // One factory for every limit, so with several replicas each holds across the service.
    const limiters = deps.limiters ?? cluster.limiters;
    const auth = createAuthenticator(config.jwtSecret, { maxTtlSeconds: config.jwtMaxTtlSeconds });
    const gate = createAuthGate({
      bus,
      limiters,
      upgradesPerMinute: config.upgradeRateLimitPerMinute,
      failuresPerMinute: config.authFailuresPerMinute,
      log: (fields, message) => logger.warn(fields, message),
      onInternalError: (error) => logger.error({ err: error }, 'rate limiter failed; request let through'),
    });
    const delivery = createDelivery({
      bus,
      registry: connections,
      transport: config.transport,
      maxBackpressureBytes: config.maxBackpressureBytes,
      now,
    });
    const internal = (error: unknown): void => logger.error({ err: error }, 'internal error');
    const hub = createConsoleHub({ store, delivery, live, onError: internal });
    // Writes through this store push the changed session's row to admin consoles, on every replica.
    const rows = relayConsoleRows({ cluster, hub, onError: internal });
    undo.push(() => hub.close(), () => rows.close());
    const chatStore = watchStore(store, (id) => rows.changed(id));
    const router = createChatRouter({
      bus,
      store: chatStore,
      console: hub,
      replies,
      registry: connections,
      delivery,
      cluster,
      sessionIdleTimeoutSeconds: config.sessionIdleTimeoutSeconds,
      helpLimiter: limiters({ name: 'help', points: HELP_REQUESTS_PER_WINDOW, durationS: HELP_WINDOW_S }),
      onInternalError: internal,
    });
    const handler = createChatSocketHandler({
      bus,
      auth,
      registry: connections,
      delivery,
      router,
      limiter: limiters({ name: 'frames', points: config.rateLimitPerMinute, durationS: 60 }),
      gate,
      sockets: {
        max: config.maxSocketsPerUser,
        count: (userId, local) => cluster.userSockets(userId, local),
        refused: (userId, max) => router.tooManySockets(userId, max),
      },
      transport: config.transport,
      corsOrigins: config.corsOrigins,
      maxMessageBytes: config.maxMessageBytes,
      defaultModel: () => replies.defaultModel(),
      now,
      accepting: () => ready && !stopping,
      onInternalError: internal,
    });

    const p = config.prefix;
    const routes = appRoutes({
      config,
      bus,
      gate,
      limiters,
      auth,
      router,
      chatStore,
      cluster,
      metricsRegistry,
      webDir: deps.webDir,
      ready: () => ready,
      stopping: () => stopping,
    });

    const start = config.transport === 'uws' ? startUwsServer : startNodeServer;
    const server = await start({
      host: config.host,
      port: config.port,
      routes,
      socket: {
        path: `${p}/ws`,
        handler,
        limits: {
          maxPayloadBytes: config.maxMessageBytes,
          maxBackpressureBytes: config.maxBackpressureBytes,
          idleTimeoutSeconds: config.socketIdleTimeoutSeconds,
        },
      },
      onError: internal,
      observe: httpObserver(bus, now),
      clientAddress: clientAddressResolver(config.trustedProxies),
      headers: securityHeaders(config.corsOrigins),
    });
    ready = true;
    const reachableHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `http://${reachableHost}:${server.port}`;

    let stopped: Promise<void> | undefined;
    async function stop(): Promise<void> {
      stopping = true;
      server.stopListening();
      for (const conn of [...connections.all()]) delivery.close(conn, 'shutdown', 1001, 'server shutting down');
      await router.shutdown();
      await replies.close();
      await store.close();
      await server.close();
      rows.close();
      hub.close();
      live.detach();
      await cluster.stop();
      detachLogger();
      detachDiagnostics();
      detachMetrics();
    }

    return {
      bus,
      metricsRegistry,
      live,
      connections,
      router,
      cluster,
      auth,
      server,
      url,
      wsUrl: `${url.replace(/^http/, 'ws')}${p}/ws`,
      ready: () => ready && !stopping,
      stop: () => (stopped ??= stop()),
    };
  }
}
