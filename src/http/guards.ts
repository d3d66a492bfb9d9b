// Cross-cutting HTTP concerns: CORS for the configured origins and a per-client rate limit,
// applied to a route table once at start; and the JWT check and error mapping every REST route shares.
import type { AuthGate } from '../auth/gate.js';
import type { Authenticator, Principal } from '../auth/jwt.js';
import { isAuthError, tokenFrom } from '../auth/jwt.js';
import type { Bus } from '../events/bus.js';
import type { ErrorCode } from '../events/catalog.js';
import { isChatboxError } from '../errors.js';
import type { Limiter } from '../cluster/limiter.js';
import { withAuthGate } from './auth-gate-routes.js';
import { jsonError, type HttpReply, type HttpRequest, type Route } from './routes.js';

/** With `gate`, a refused preflight counts as a failed authentication (reason `origin`), as a refused upgrade does. */
export function withCors(routes: readonly Route[], origins: readonly string[], gate?: AuthGate): Route[] {
  if (origins.length === 0) return [...routes];
  const allowed = new Set(origins);
  const corsHeaders = (origin: string | undefined): Record<string, string> =>
    origin !== undefined && allowed.has(origin)
      ? { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-allow-credentials': 'true' }
      : {};
  const wrapped: Route[] = routes.map((route) => ({
    ...route,
    handler: async (req) => {
      const reply = await route.handler(req);
      const extra = corsHeaders(req.header('origin'));
      return Object.keys(extra).length === 0 ? reply : { ...reply, headers: { ...reply.headers, ...extra } };
    },
  }));
  const patterns = [...new Set(routes.map((r) => r.pattern))];
  const preflights: Route[] = [];
  for (const pattern of patterns) {
    preflights.push({
      method: 'OPTIONS',
      pattern,
      handler: (req): HttpReply => {
        const origin = req.header('origin');
        if (origin === undefined || !allowed.has(origin)) return { ...jsonError(403, 'FORBIDDEN', 'origin not allowed'), authFailure: 'origin' };
        return {
          status: 204,
          headers: {
            ...corsHeaders(origin),
            'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
            'access-control-allow-headers': 'authorization, content-type',
            'access-control-max-age': '600',
          },
          body: '',
        };
      },
    });
  }
  wrapped.push(...(gate === undefined ? preflights : withAuthGate(preflights, gate)));
  return wrapped;
}

/** Per client address, across the service when the limiter is shared (src/cluster). */
export function withRateLimit(routes: readonly Route[], limiter: Limiter, bus: Bus): Route[] {
  return routes.map((route) => ({
    ...route,
    handler: async (req) => {
      const decision = await limiter.consume(req.remoteAddress);
      if (!decision.allowed) {
        bus.emit('rateLimited', { limiter: 'http' });
        return jsonError(429, 'RATE_LIMITED', 'too many requests; slow down', {
          'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)),
        });
      }
      return route.handler(req);
    },
  }));
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
  CONFLICT: 409,
  INVALID_MESSAGE: 400,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
  // A server-side fault, but a named one: logged by the store's onDecryptError hook.
  CHATBOX_ERR_DECRYPT: 500,
};

/** Maps a ChatboxError to its HTTP reply; anything else is a 500 with no detail. */
export function errorReply(error: unknown): HttpReply {
  if (isChatboxError(error)) {
    const status = STATUS[error.code as ErrorCode];
    if (status !== undefined) return jsonError(status, error.code as ErrorCode, error.message);
  }
  return jsonError(500, 'INTERNAL', 'internal error');
}

export async function principalOf(req: HttpRequest, auth: Authenticator): Promise<Principal | HttpReply> {
  const token = tokenFrom(req.header('authorization'), req.query);
  if (token === undefined || token === '') return { ...jsonError(401, 'UNAUTHORIZED', 'missing bearer token'), authFailure: 'missing' };
  try {
    return await auth.verify(token);
  } catch (error) {
    return {
      ...jsonError(401, 'UNAUTHORIZED', isChatboxError(error) ? error.message : 'invalid token'),
      authFailure: isAuthError(error) ? error.reason : 'malformed',
    };
  }
}
