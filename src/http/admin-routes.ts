// REST takeover and handback: the same router calls an admin's socket frames make.
import type { Authenticator, Principal } from '../auth/jwt.js';
import { tokenFrom } from '../auth/jwt.js';
import type { ErrorCode } from '../events/catalog.js';
import { isChatboxError } from '../errors.js';
import type { ChatRouter } from '../router/chat-router.js';
import { SESSION_ID } from '../router/frames.js';
import { json, jsonError, type HttpReply, type HttpRequest, type Route } from './routes.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
  CONFLICT: 409,
  INVALID_MESSAGE: 400,
  TOO_LARGE: 413,
  RATE_LIMITED: 429,
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
  if (token === undefined) return jsonError(401, 'UNAUTHORIZED', 'missing bearer token');
  try {
    return await auth.verify(token);
  } catch (error) {
    return jsonError(401, 'UNAUTHORIZED', isChatboxError(error) ? error.message : 'invalid token');
  }
}

export function adminRoutes(options: { prefix: string; auth: Authenticator; router: ChatRouter }): Route[] {
  const { prefix, auth, router } = options;
  const admin = (act: (principal: Principal, sessionId: string) => Promise<HttpReply>) =>
    async function adminRoute(req: HttpRequest): Promise<HttpReply> {
      const principal = await principalOf(req, auth);
      if ('status' in principal) return principal;
      if (!principal.isAdmin) return jsonError(403, 'FORBIDDEN', 'admin role required');
      const id = SESSION_ID.safeParse(req.params['id']);
      if (!id.success) return jsonError(400, 'INVALID_MESSAGE', 'invalid session id');
      try {
        return await act(principal, id.data);
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
        await router.handback(id, principal, 'rest');
        return json(200, { session_id: id, taken_over: false });
      }),
    },
  ];
}
