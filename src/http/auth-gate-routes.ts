// REST behind the auth gate: an address with too many failed authentications gets 429 before its
// token is read, and every 401 a route gives for a token (HttpReply.authFailure) is counted.
import type { AuthGate } from '../auth/gate.js';
import { jsonError, type Route } from './routes.js';

export function withAuthGate(routes: readonly Route[], gate: AuthGate): Route[] {
  return routes.map((route) => ({
    ...route,
    handler: async (req) => {
      const refusal = await gate.admit(req.remoteAddress, 'rest');
      if (refusal !== undefined) {
        return jsonError(429, 'RATE_LIMITED', refusal.message, { 'retry-after': String(Math.ceil(refusal.retryAfterMs / 1000)) });
      }
      const reply = await route.handler(req);
      if (reply.authFailure !== undefined) await gate.failed(req.remoteAddress, reply.authFailure, 'rest');
      return reply;
    },
  }));
}
