// REST over the session store: a user's sessions, one session's history, ending a session, and
// the admin listing. JWT-authenticated like the socket; errors are {"error":{"code","message"}}.
//
// Someone else's session answers 404, exactly like a missing one, so ids cannot be probed.
// History messages carry the live frame fields, so a client renders them with the same code:
// user -> `user_message`; ai -> `ai_response`; admin -> `ai_response` with sender `admin` (what
// the router sends live); system -> `notification`. ai/admin history entries are whole
// messages, marked `streaming: "false"`, `done: "true"` like a non-streamed live reply.
import type { Authenticator, Principal } from '../auth/jwt.js';
import type { SessionEndReason } from '../events/catalog.js';
import { SESSION_SORTS, type AdminSessionFilter, type MessageRecord, type SessionRecord, type SessionSort, type SessionStore } from '../storage/types.js';
import { isSessionId } from '../storage/validate.js';
import { errorReply, principalOf } from './guards.js';
import { sessionJson } from './session-json.js';
import { json, jsonError, type HttpReply, type HttpRequest, type Route } from './routes.js';

export interface SessionRoutesOptions {
  readonly prefix: string;
  readonly store: SessionStore;
  readonly auth: Authenticator;
  /** Told after a session was ended over REST, so live state (sockets, a reply) stops too. */
  /** Called after the store ended a session, with the reason it recorded. */
  readonly onSessionEnded?: (id: string, reason: SessionEndReason) => void;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const MAX_USER_LIST = 1000;

const FRAME_TYPE = { user: 'user_message', ai: 'ai_response', admin: 'ai_response', system: 'notification' } as const;

export function messageJson(m: MessageRecord): Record<string, unknown> {
  const whole = m.sender === 'ai' || m.sender === 'admin';
  return {
    type: FRAME_TYPE[m.sender],
    content: m.content,
    sender: m.sender,
    timestamp: m.createdAt.toISOString(),
    metadata: whole ? { ...m.metadata, streaming: 'false', done: 'true' } : { ...m.metadata },
  };
}

export class BadQuery extends Error {}

/** A route handler that authenticates, then runs `act`; bad queries are 400, store errors map to their status. */
export function authedRoute(auth: Authenticator, act: (principal: Principal, req: HttpRequest) => Promise<HttpReply>) {
  return async function sessionRoute(req: HttpRequest): Promise<HttpReply> {
    const principal = await principalOf(req, auth);
    if ('status' in principal) return principal;
    try {
      return await act(principal, req);
    } catch (error) {
      if (error instanceof BadQuery) return jsonError(400, 'INVALID_MESSAGE', error.message);
      return errorReply(error);
    }
  };
}

function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new BadQuery(`${name} must be true or false`);
}

export function timeParam(query: URLSearchParams, name: string): Date | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  const t = new Date(v);
  if (!RFC3339.test(v) || Number.isNaN(t.getTime())) throw new BadQuery(`${name} must be an RFC 3339 timestamp`);
  return t;
}

function intParam(query: URLSearchParams, name: string, max: number): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d{1,7}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new BadQuery(`${name} must be an integer from 1 to ${max}`);
  return Number(v);
}

function adminFilter(query: URLSearchParams): AdminSessionFilter {
  const active = boolParam(query, 'active');
  const adminAssisted = boolParam(query, 'admin_assisted');
  const userId = query.get('user_id');
  const from = timeParam(query, 'from');
  const to = timeParam(query, 'to');
  const cursor = query.get('cursor');
  const limit = intParam(query, 'limit', 100);
  const sort = query.get('sort');
  if (sort !== null && sort !== '' && !(SESSION_SORTS as readonly string[]).includes(sort)) {
    throw new BadQuery(`sort must be one of ${SESSION_SORTS.join(', ')}`);
  }
  const order = query.get('order');
  if (order !== null && order !== '' && order !== 'asc' && order !== 'desc') throw new BadQuery('order must be asc or desc');
  return {
    ...(sort === null || sort === '' ? {} : { sort: sort as SessionSort }),
    ...(order === null || order === '' ? {} : { order }),
    ...(active === undefined ? {} : { active }),
    ...(adminAssisted === undefined ? {} : { adminAssisted }),
    ...(userId === null || userId === '' ? {} : { userId }),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(cursor === null || cursor === '' ? {} : { cursor }),
    ...(limit === undefined ? {} : { limit }),
  };
}

export function sessionRoutes(options: SessionRoutesOptions): Route[] {
  const { prefix, store, auth, onSessionEnded } = options;

  const authed = (act: (principal: Principal, req: HttpRequest) => Promise<HttpReply>) => authedRoute(auth, act);

  /** The session named in the path, if the caller may see it. */
  async function visible(principal: Principal, req: HttpRequest): Promise<SessionRecord | HttpReply> {
    const id = req.params['id'] ?? '';
    if (!isSessionId(id)) return jsonError(400, 'INVALID_MESSAGE', 'session id must be 1-128 letters, digits, - or _');
    const session = await store.findSession(id);
    if (session === undefined || (session.userId !== principal.userId && !principal.isAdmin)) {
      return jsonError(404, 'NOT_FOUND', 'session not found');
    }
    return session;
  }

  return [
    {
      method: 'GET',
      pattern: `${prefix}/sessions`,
      handler: authed(async (principal, req) => {
        const limit = intParam(req.query, 'limit', MAX_USER_LIST);
        const sessions = await store.listUserSessions(principal.userId, limit);
        return json(200, { sessions: sessions.map((s) => sessionJson(s)), user_id: principal.userId, count: sessions.length });
      }),
    },
    {
      method: 'GET',
      pattern: `${prefix}/sessions/:id`,
      handler: authed(async (principal, req) => {
        const found = await visible(principal, req);
        if ('status' in found) return found;
        const session = await store.getSession(found.id);
        if (session === undefined) return jsonError(404, 'NOT_FOUND', 'session not found');
        return json(200, {
          session_id: session.id,
          name: session.name,
          model_id: session.modelId,
          is_active: session.isActive,
          messages: session.messages.map(messageJson),
        });
      }),
    },
    {
      method: 'POST',
      pattern: `${prefix}/sessions/:id/end`,
      handler: authed(async (principal, req) => {
        const found = await visible(principal, req);
        if ('status' in found) return found;
        const reason: SessionEndReason = found.userId === principal.userId ? 'user' : 'admin';
        const ended = await store.endSession(found.id, reason);
        if (ended === undefined) return jsonError(404, 'NOT_FOUND', 'session not found');
        // Live state (sockets attached, a reply streaming) stops once the store says it ended.
        onSessionEnded?.(found.id, reason);
        return json(200, {
          session_id: ended.id,
          is_active: ended.isActive,
          ended_at: ended.endedAt === null ? null : ended.endedAt.toISOString(),
          end_reason: ended.endReason,
          already_ended: !found.isActive,
        });
      }),
    },
    {
      method: 'GET',
      pattern: `${prefix}/admin/sessions`,
      handler: authed(async (principal, req) => {
        if (!principal.isAdmin) return jsonError(403, 'FORBIDDEN', 'admin role required');
        const page = await store.listSessions(adminFilter(req.query));
        return json(200, {
          sessions: page.sessions.map((s) => ({ ...sessionJson(s), end_reason: s.endReason })),
          next_cursor: page.nextCursor,
        });
      }),
    },
  ];
}
