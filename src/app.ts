// Assembles one chat server from its parts: bus -> subscribers -> store -> router -> socket
// handler -> routes -> transport. Everything is per instance, so tests run several in a process.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { createAuthenticator, type Authenticator } from './auth/jwt.js';
import type { ServerConfig } from './config/config.js';
import { createBus, type Bus } from './events/bus.js';
import type { Provider } from './events/catalog.js';
import { adminRoutes } from './http/admin-routes.js';
import { withCors, withRateLimit } from './http/guards.js';
import { metricsReply } from './http/metrics-route.js';
import { startNodeServer } from './http/node-server.js';
import { json, jsonError, type Route } from './http/routes.js';
import { sessionRoutes } from './http/session-routes.js';
import { startUwsServer, type RunningServer } from './http/uws-server.js';
import type { ReplySource } from './llm/types.js';
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

export interface AppDeps {
  readonly config: ServerConfig;
  readonly store: SessionStore;
  readonly replies: ReplySource;
  readonly logger: Logger;
  /** Defaults to a new bus: one per app, never shared by accident. */
  readonly bus?: Bus;
  /** Attach the metrics subscriber (default true); tests may swap in a recorder instead. */
  readonly metrics?: boolean;
  /** State shared with other replicas; default: this process alone. */
  readonly cluster?: Cluster;
}

export interface App {
  readonly bus: Bus;
  readonly metricsRegistry: MetricsRegistry;
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
  const detachMetrics =
    deps.metrics === false
      ? () => {}
      : attachMetrics(bus, metricsRegistry, {
          providers,
          gauges: { connections: () => connections.size, sessions: () => store.openSessionCount() },
          cluster: cluster.shared,
        });
  const detachLogger = attachLogger(bus, logger);

  let ready = false;
  let stopping = false;
  await store.init();
  await cluster.start();

  const auth = createAuthenticator(config.jwtSecret);
  const delivery = createDelivery({
    bus,
    registry: connections,
    transport: config.transport,
    maxBackpressureBytes: config.maxBackpressureBytes,
    now,
  });
  const internal = (error: unknown): void => logger.error({ err: error }, 'internal error');
  const router = createChatRouter({
    bus,
    store,
    replies,
    registry: connections,
    delivery,
    cluster,
    sessionIdleTimeoutSeconds: config.sessionIdleTimeoutSeconds,
    onInternalError: internal,
  });
  const handler = createChatSocketHandler({
    bus,
    auth,
    registry: connections,
    delivery,
    router,
    limiter: cluster.limiters({ name: 'frames', points: config.rateLimitPerMinute, durationS: 60 }),
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
  const metricsToken = config.metricsToken;
  const operational: Route[] = [
    {
      method: 'GET',
      pattern: '/metrics',
      handler: (req) => {
        if (metricsToken !== undefined && req.header('authorization') !== `Bearer ${metricsToken}`) {
          return jsonError(401, 'UNAUTHORIZED', 'metrics need the bearer token configured in METRICS_TOKEN');
        }
        return metricsReply(metricsRegistry, req.header('accept'));
      },
    },
    { method: 'GET', pattern: `${p}/healthz`, handler: () => json(200, { status: 'ok' }) },
    {
      method: 'GET',
      pattern: `${p}/readyz`,
      handler: () => {
        if (!ready || stopping) return json(503, { status: stopping ? 'stopping' : 'starting' });
        // Cut off from the other replicas: keep serving its own sockets, take no new ones.
        if (!cluster.connected()) return json(503, { status: 'degraded', cluster: 'disconnected' });
        return json(200, { status: 'ready', transport: config.transport, ...(cluster.shared ? { replicas: cluster.replicas().length } : {}) });
      },
    },
  ];
  const api: Route[] = [
    ...sessionRoutes({ prefix: p, store, auth, onSessionEnded: (id, reason) => router.sessionEnded(id, reason) }),
    ...adminRoutes({ prefix: p, auth, router }),
  ];
  const httpLimiter = cluster.limiters({ name: 'http', points: config.httpRateLimitPerMinute, durationS: 60 });
  const routes = withCors([...operational, ...withRateLimit(api, httpLimiter, bus)], config.corsOrigins);

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
    await cluster.stop();
    detachLogger();
    detachMetrics();
  }

  return {
    bus,
    metricsRegistry,
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
