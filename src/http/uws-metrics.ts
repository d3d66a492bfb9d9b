// A ready uWS handler for GET /metrics: `app.get('/metrics', uwsMetricsHandler(registry))`.
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { MetricsRegistry as Registry } from '../metrics/render.js';
import { metricsReply } from './metrics-route.js';
import { answerHeaders, statusLine } from './routes.js';

export function uwsMetricsHandler(registry: Registry): (res: HttpResponse, req: HttpRequest) => void {
  return function serveMetrics(res, req) {
    let aborted = false;
    // Before the first await: a scraper that hangs up mid-render must not make us write to a
    // freed response.
    res.onAborted(() => {
      aborted = true;
    });
    const accept = req.getHeader('accept');
    void metricsReply(registry, accept === '' ? undefined : accept).then((reply) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(reply.status));
        for (const [k, v] of Object.entries(answerHeaders(reply))) res.writeHeader(k, v);
        res.end(reply.body);
      });
    });
  };
}
