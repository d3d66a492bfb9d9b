// GET /metrics as a transport-neutral route, and as a plain uWS handler for services that
// embed the bus in their own uWebSockets.js app.
import { timingSafeEqual } from 'node:crypto';
import type { MetricsRegistry as Registry } from '../metrics/render.js';
import { negotiateFormat, renderMetrics } from '../metrics/render.js';
import { jsonError, type HttpReply, type Route } from './routes.js';

export function metricsReply(registry: Registry, accept: string | undefined): Promise<HttpReply> {
  return renderMetrics(registry, negotiateFormat(accept)).then(
    ({ contentType, body }) => ({ status: 200, headers: { 'content-type': contentType }, body }),
    () => jsonError(500, 'INTERNAL', 'metrics collection failed'),
  );
}

/**
 * With `token`, a scrape must send `Authorization: Bearer <token>`; a refusal is a 401 whose
 * `authFailure` (missing, signature) the auth gate counts when the route is behind it.
 */
export function metricsRoute(registry: Registry, path = '/metrics', token?: string): Route {
  if (token === undefined) return { method: 'GET', pattern: path, handler: (req) => metricsReply(registry, req.header('accept')) };
  // Compared in constant time: the answer's timing must not tell how much of a guess was right.
  const expected = Buffer.from(`Bearer ${token}`);
  return {
    method: 'GET',
    pattern: path,
    handler: (req) => {
      const given = req.header('authorization');
      const g = Buffer.from(given ?? '');
      if (g.length !== expected.length || !timingSafeEqual(g, expected)) {
        const reason = given === undefined || given.trim() === '' || given.trim() === 'Bearer' ? 'missing' : 'signature';
        return { ...jsonError(401, 'UNAUTHORIZED', 'metrics need the bearer token configured in METRICS_TOKEN'), authFailure: reason };
      }
      return metricsReply(registry, req.header('accept'));
    },
  };
}
