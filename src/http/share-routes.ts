// Read-only share links and the admin stats (protocol.md "More endpoints"). The shared view needs
// no token; like every API route it sits behind the per-client rate limit (app.ts), and an
// unknown or revoked token is a 404 like any missing thing.
import type { Authenticator, Principal } from '../auth/jwt.js';
import type { SessionStore } from '../storage/types.js';
import { isSessionId } from '../storage/validate.js';
import { errorReply } from './guards.js';
import { json, jsonError, type HttpReply, type HttpRequest, type Route } from './routes.js';
import { authedRoute, BadQuery, messageJson, timeParam } from './session-routes.js';

const DAY_MS = 24 * 3600 * 1000;
/** base64url of >= 128 bits; anything else cannot be a token, so it is not looked up. */
const SHARE_TOKEN = /^[A-Za-z0-9_-]{16,128}$/;

export function shareRoutes(options: { prefix: string; store: SessionStore; auth: Authenticator }): Route[] {
  const { prefix, store, auth } = options;

  const authed = (act: (principal: Principal, req: HttpRequest) => Promise<HttpReply>) => authedRoute(auth, act);

  async function owned(principal: Principal, req: HttpRequest, adminToo: boolean): Promise<string | HttpReply> {
    const id = req.params['id'] ?? '';
    if (!isSessionId(id)) return jsonError(400, 'INVALID_MESSAGE', 'session id must be 1-128 letters, digits, - or _');
    const session = await store.findSession(id);
    if (session === undefined || (session.userId !== principal.userId && !(adminToo && principal.isAdmin))) {
      return jsonError(404, 'NOT_FOUND', 'session not found');
    }
    return id;
  }

  /** Where the page lives, as the client reached us (a relative link when the host is unknown). */
  function link(req: HttpRequest, token: string): string {
    const path = `${prefix}/?share=${token}`;
    const host = req.header('host');
    if (host === undefined || !/^[A-Za-z0-9.:[\]-]+$/.test(host)) return path;
    const proto = req.header('x-forwarded-proto') === 'https' ? 'https' : 'http';
    return `${proto}://${host}${path}`;
  }

  return [
    {
      method: 'POST',
      pattern: `${prefix}/sessions/:id/share`,
      handler: authed(async (principal, req) => {
        const id = await owned(principal, req, false);
        if (typeof id !== 'string') return id;
        const token = await store.shareSession(id);
        return json(200, { share_token: token, url: link(req, token) });
      }),
    },
    {
      method: 'DELETE',
      pattern: `${prefix}/sessions/:id/share`,
      handler: authed(async (principal, req) => {
        const id = await owned(principal, req, true);
        if (typeof id !== 'string') return id;
        const revoked = await store.revokeShare(id);
        return json(200, { session_id: id, revoked });
      }),
    },
    {
      method: 'GET',
      pattern: `${prefix}/shared/:token`,
      handler: async (req) => {
        const token = req.params['token'] ?? '';
        try {
          const session = SHARE_TOKEN.test(token) ? await store.findShared(token) : undefined;
          if (session === undefined) return jsonError(404, 'NOT_FOUND', 'this link does not exist or was revoked');
          return json(
            200,
            { session_id: session.id, name: session.name, messages: session.messages.map(messageJson) },
            { 'cache-control': 'no-store' },
          );
        } catch (error) {
          return errorReply(error);
        }
      },
    },
    {
      method: 'GET',
      pattern: `${prefix}/admin/stats`,
      handler: authed(async (principal, req) => {
        if (!principal.isAdmin) return jsonError(403, 'FORBIDDEN', 'admin role required');
        const to = timeParam(req.query, 'to') ?? new Date();
        const from = timeParam(req.query, 'from') ?? new Date(to.getTime() - DAY_MS);
        if (from.getTime() > to.getTime()) throw new BadQuery('from must not be after to');
        const s = await store.stats({ from, to });
        return json(200, {
          from: from.toISOString(),
          to: to.toISOString(),
          sessions: s.sessions,
          active_sessions: s.activeSessions,
          admin_assisted: s.adminAssisted,
          messages: s.messages,
          tokens: s.tokens,
          avg_response_seconds: s.avgResponseSeconds,
          max_response_seconds: s.maxResponseSeconds,
        });
      }),
    },
  ];
}
