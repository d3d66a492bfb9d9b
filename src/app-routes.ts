// The HTTP routes one app serves and the guards around each group: /metrics behind its token,
// health and readiness, the REST API behind the rate limit and the auth gate, the web app, and
// CORS around them all. Apart from app.ts so the assembly reads as parts and the route table as one.
import type { AuthGate } from './auth/gate.js';
import type { Authenticator } from './auth/jwt.js';
import type { LimiterFactory } from './cluster/limiter.js';
import type { Cluster } from './cluster/types.js';
import type { ServerConfig } from './config/config.js';
import type { Bus } from './events/bus.js';
import { adminRoutes } from './http/admin-routes.js';
import { withAuthGate } from './http/auth-gate-routes.js';
import { withCors, withRateLimit } from './http/guards.js';
import { metricsRoute } from './http/metrics-route.js';
import { json, type Route } from './http/routes.js';
import { sessionRoutes } from './http/session-routes.js';
import { shareRoutes } from './http/share-routes.js';
import { webAppRoutes } from './http/static-site.js';
import type { MetricsRegistry } from './metrics/render.js';
import type { ChatRouter } from './router/chat-router.js';
import type { SessionStore } from './storage/types.js';

export function appRoutes(options: {
  readonly config: ServerConfig;
  readonly bus: Bus;
  readonly gate: AuthGate;
  readonly limiters: LimiterFactory;
  readonly auth: Authenticator;
  readonly router: ChatRouter;
  /** The store the chat writes through (its writes reach the admin consoles). */
  readonly chatStore: SessionStore;
  readonly cluster: Cluster;
  readonly metricsRegistry: MetricsRegistry;
  /** The built web app (default dist/web). */
  readonly webDir: string | undefined;
  /** Read by /readyz on every request: started, and stopping. */
  readonly ready: () => boolean;
  readonly stopping: () => boolean;
}): Route[] {
  const { config, bus, gate, limiters, auth, router, chatStore, cluster, metricsRegistry, webDir, ready, stopping } = options;
  const p = config.prefix;
  const metricsToken = config.metricsToken;
  const metrics = metricsRoute(metricsRegistry, '/metrics', metricsToken);
  const operational: Route[] = [
    // With a token, a wrong one counts as a failed authentication, and too many lock the address out.
    ...(metricsToken === undefined ? [metrics] : withAuthGate([metrics], gate)),
    { method: 'GET', pattern: `${p}/healthz`, handler: () => json(200, { status: 'ok' }) },
    {
      method: 'GET',
      pattern: `${p}/readyz`,
      handler: () => {
        if (!ready() || stopping()) return json(503, { status: stopping() ? 'stopping' : 'starting' });
        // Cut off from the other replicas: keep serving its own sockets, take no new ones.
        if (!cluster.connected()) return json(503, { status: 'degraded', cluster: 'disconnected' });
        return json(200, { status: 'ready', transport: config.transport, ...(cluster.shared ? { replicas: cluster.replicas().length } : {}) });
      },
    },
  ];
  const api: Route[] = [
    ...sessionRoutes({ prefix: p, store: chatStore, auth, onSessionEnded: (id, reason) => router.sessionEnded(id, reason) }),
    ...adminRoutes({ prefix: p, auth, router }),
    ...shareRoutes({ prefix: p, store: chatStore, auth }),
  ];
  const httpLimiter = limiters({ name: 'http', points: config.httpRateLimitPerMinute, durationS: 60 });
  const web = webAppRoutes({ prefix: p, ...(webDir === undefined ? {} : { dir: webDir }) });
  return withCors([...operational, ...web.routes, ...withRateLimit(withAuthGate(api, gate), httpLimiter, bus)], config.corsOrigins, gate);
}
