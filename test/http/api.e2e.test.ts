// The HTTP side over both transports: health and readiness, JSON errors for unknown routes and
// methods, CORS for configured origins (REST and WebSocket upgrades), the REST rate limit, and
// the optional /metrics token.
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';

describe.each(['uws', 'ws'] as const)('HTTP API over %s', (transport) => {
  it('serves health, readiness and JSON errors', async () => {
    const s = await startTestServer({ transport });
    try {
      const health = await fetch(`${s.app.url}/chatbox/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${s.app.url}/chatbox/readyz`);
      expect(await ready.json()).toEqual({ status: 'ready', transport });
      const missing = await fetch(`${s.app.url}/nope`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toContain('application/json');
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
      const wrongMethod = await fetch(`${s.app.url}/metrics`, { method: 'POST', body: 'x' });
      expect(wrongMethod.status).toBe(405);
      const noToken = await fetch(`${s.app.url}/chatbox/sessions`);
      expect(noToken.status).toBe(401);
      expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
      const tooBig = await fetch(`${s.app.url}/chatbox/admin/takeover/x`, { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) });
      expect(tooBig.status).toBe(413);
    } finally {
      await s.stop();
    }
  });

  it('reports not ready while shutting down', async () => {
    const s = await startTestServer({ transport });
    s.app.server.stopListening();
    const stopping = s.stop();
    expect(s.app.ready()).toBe(false);
    await stopping;
  });

  it('answers CORS only for configured origins, and refuses other origins on the socket', async () => {
    const s = await startTestServer({ transport, env: { CORS_ORIGINS: 'https://widget.example' } });
    try {
      const token = await s.token('zoe');
      const ok = await fetch(`${s.app.url}/chatbox/sessions`, {
        headers: { origin: 'https://widget.example', authorization: `Bearer ${token}` },
      });
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://widget.example');
      const preflight = await fetch(`${s.app.url}/chatbox/sessions`, { method: 'OPTIONS', headers: { origin: 'https://widget.example' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
      const evil = await fetch(`${s.app.url}/chatbox/sessions`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
      expect(evil.status).toBe(403);
      await expect(s.connect(token, { headers: { origin: 'https://evil.example' } })).rejects.toMatchObject({ status: 403 });
      const c = await s.connect(token, { headers: { origin: 'https://widget.example' } });
      await c.next((f) => f.type === 'connection_status');
      c.terminate();
    } finally {
      await s.stop();
    }
  });

  it('rate limits REST per client and counts it', async () => {
    const s = await startTestServer({ transport, env: { HTTP_RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      const token = await s.token('yan');
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${s.app.url}/chatbox/sessions`, { headers: { authorization: `Bearer ${token}` } });
        statuses.push(res.status);
        if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect(statuses.filter((x) => x === 429)).toHaveLength(2);
      expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'http' })).toBe(2);
      // Health and metrics are never rate limited: probes and scrapers must always get through.
      for (let i = 0; i < 5; i++) expect((await fetch(`${s.app.url}/chatbox/healthz`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });

  it('protects /metrics with METRICS_TOKEN when set', async () => {
    const s = await startTestServer({ transport, env: { METRICS_TOKEN: 'scrape-me' } });
    try {
      expect((await fetch(`${s.app.url}/metrics`)).status).toBe(401);
      const ok = await fetch(`${s.app.url}/metrics`, { headers: { authorization: 'Bearer scrape-me' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('chatbox_websocket_connections_total 0');
    } finally {
      await s.stop();
    }
  });
});
