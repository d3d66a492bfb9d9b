// GET /metrics as a transport-neutral route, and as a plain uWS handler for services that
// embed the bus in their own uWebSockets.js app.
import type { MetricsRegistry as Registry } from '../metrics/render.js';
import { negotiateFormat, renderMetrics } from '../metrics/render.js';
import { jsonError, type HttpReply, type Route } from './routes.js';

export function metricsReply(registry: Registry, accept: string | undefined): Promise<HttpReply> {
  return renderMetrics(registry, negotiateFormat(accept)).then(
    ({ contentType, body }) => ({ status: 200, headers: { 'content-type': contentType }, body }),
    () => jsonError(500, 'INTERNAL', 'metrics collection failed'),
  );
}

export function metricsRoute(registry: Registry, path = '/metrics'): Route {
  return { method: 'GET', pattern: path, handler: (req) => metricsReply(registry, req.header('accept')) };
}
