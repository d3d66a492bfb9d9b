// REST takeover and handback: the same router calls an admin's socket frames make.
import type { Authenticator, Principal } from '../auth/jwt.js';
import type { ChatRouter } from '../router/chat-router.js';
import { isSessionId } from '../storage/validate.js';
import { errorReply, principalOf } from './guards.js';
import { json, jsonError, type HttpReply, type HttpRequest, type Route } from './routes.js';

export function adminRoutes(options: { prefix: string; auth: Authenticator; router: ChatRouter }): Route[] {
  const { prefix, auth, router } = options;
  const admin = (act: (principal: Principal, sessionId: string) => Promise<HttpReply>) =>
    async function adminRoute(req: HttpRequest): Promise<HttpReply> {
      const principal = await principalOf(req, auth);
      if ('status' in principal) return principal;
      if (!principal.isAdmin) return jsonError(403, 'FORBIDDEN', 'admin role required');
      const id = req.params['id'];
      if (!isSessionId(id)) return jsonError(400, 'INVALID_MESSAGE', 'session id must be 1-128 letters, digits, - or _');
      try {
        return await act(principal, id);
      } catch (error) {
        return errorReply(error);
      }
    };
  return [
    {
      method: 'POST',
      pattern: `${prefix}/admin/takeover/:id`,
      handler: admin(async (principal, id) => {
        const result = await router.takeover(id, principal, 'rest');
        return json(200, { session_id: result.sessionId, taken_over: true, already: result.alreadyTakenOver });
      }),
    },
    {
      method: 'POST',
      pattern: `${prefix}/admin/handback/:id`,
      handler: admin(async (principal, id) => {
        const result = await router.handback(id, principal, 'rest');
        return json(200, { session_id: id, taken_over: false, already: result.already });
      }),
    },
  ];
}
