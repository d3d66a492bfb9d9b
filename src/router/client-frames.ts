// What the router does with each frame a client sends: a user message to its session's owner,
// the model choice, help requests, typing, the admin and console frames. Apart from the router's
// wiring (chat-router.ts): this is the per-frame path, read in one place.
import type { Principal } from '../auth/jwt.js';
import type { Limiter } from '../cluster/limiter.js';
import type { Bus } from '../events/bus.js';
import type { Via } from '../events/catalog.js';
import { now, type ClientFrame } from '../protocol/frames.js';
import type { Connection } from '../ws/connections.js';
import { admitHelpRequest } from './help-request.js';
import { fail, type RouterParts, type SocketSessions } from './socket-sessions.js';

type AdminCall = (sessionId: string, admin: Principal, via: Via, adminConn?: Connection) => Promise<unknown>;

/** The router's onFrame: made once per router, so a frame costs no more than a call. */
export function createFrameHandler(options: RouterParts & {
  readonly bus: Bus;
  readonly sessionFor: SocketSessions['sessionFor'];
  readonly unjoin: SocketSessions['unjoin'];
  readonly takeover: AdminCall;
  readonly handback: AdminCall;
  /** Bounds help_request per session (none: unbounded). */
  readonly helpLimiter: Limiter | undefined;
  /** Admin consoles (`console_subscribe`): src/console/console-hub.ts. */
  readonly console: { watch(conn: Connection): void } | undefined;
}): (conn: Connection, frame: ClientFrame) => Promise<void> {
  const { bus, store, registry, delivery, fanout, owner, link, modelIds, status, sessionFor, unjoin, takeover, handback, internal } = options;

  async function userMessage(conn: Connection, frame: Extract<ClientFrame, { type: 'user_message' }>): Promise<void> {
    const p = conn.principal;
    if (p.isAdmin) {
      const targetId = frame.session_id ?? conn.sessionId;
      if (targetId !== undefined && (await link.ask({ op: 'say', s: targetId, u: p.userId, n: p.name, c: frame.content, x: fanout.ref(conn) }))) {
        return;
      }
    }
    // A socket already in the session (every message after the first) needs no lookup.
    const requested = frame.session_id ?? conn.sessionId;
    const joined = requested !== undefined && requested === conn.sessionId;
    const sessionId = joined ? requested : await sessionFor(conn, frame.session_id, frame.model_id);
    try {
      await link.ask({ op: 'submit', s: sessionId, u: p.userId, n: p.name, c: frame.content, m: frame.model_id, x: fanout.ref(conn) });
    } catch (error) {
      // A session this message was creating may be the part that failed (its row).
      if (!joined) await unjoin(conn, sessionId).catch(internal);
      throw error;
    }
  }

  async function onFrame(conn: Connection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'user_message':
        return userMessage(conn, frame);
      case 'model_select': {
        if (!modelIds.has(frame.model_id)) fail('INVALID_MESSAGE', `unknown model_id ${JSON.stringify(frame.model_id)}`);
        conn.modelId = frame.model_id;
        if (conn.sessionId !== undefined) await link.ask({ op: 'model', s: conn.sessionId, u: conn.principal.userId, m: frame.model_id });
        delivery.send(conn, status(conn));
        return;
      }
      case 'help_request': {
        let asked: string | undefined;
        const sessionId = await admitHelpRequest(conn, frame.session_id, {
          bus,
          ownerOf: async (id) => (asked = owner.peek(id)?.userId ?? (await store.findSession(id))?.userId),
          limiter: options.helpLimiter,
          onInternalError: internal,
        });
        if (sessionId !== undefined && asked === conn.principal.userId) {
          await owner.settle(sessionId);
          await store.markHelpRequested(sessionId);
        }
        fanout.toAdmins({
          type: 'notification',
          ...(sessionId === undefined ? {} : { session_id: sessionId }),
          sender: 'system',
          timestamp: now(),
          content: frame.content ?? `${conn.principal.name} asked for help`,
          metadata: { kind: 'help_request', user_id: conn.principal.userId, user_name: conn.principal.name },
        });
        return;
      }
      case 'typing_indicator': {
        if (conn.sessionId === undefined) return;
        fanout.toSession(
          conn.sessionId,
          { type: 'typing_indicator', session_id: conn.sessionId, sender: conn.principal.isAdmin ? 'admin' : 'user', timestamp: now() },
          fanout.ref(conn),
        );
        return;
      }
      case 'admin_join':
        if (!conn.principal.isAdmin) fail('FORBIDDEN', 'only admins may join a session', false);
        await takeover(frame.session_id, conn.principal, 'socket', conn);
        return;
      case 'admin_leave': {
        if (!conn.principal.isAdmin) fail('FORBIDDEN', 'only admins may leave a session', false);
        const sessionId = frame.session_id ?? conn.sessionId;
        if (sessionId === undefined) fail('INVALID_MESSAGE', 'admin_leave needs a session_id');
        await handback(sessionId, conn.principal, 'socket', conn);
        return;
      }
      case 'console_subscribe':
        if (!conn.principal.isAdmin) fail('FORBIDDEN', 'only admins may watch the console', false);
        if (options.console === undefined) fail('UNSUPPORTED', 'this server has no console feed');
        options.console.watch(conn);
        return;
      case 'console_watch': {
        if (!conn.principal.isAdmin) fail('FORBIDDEN', 'only admins may watch a session', false);
        // The session's frames reach this socket wherever its owner runs; an ended one is read over REST.
        const watched = owner.peek(frame.session_id) ?? (await store.findSession(frame.session_id));
        if (watched === undefined || ('isActive' in watched && !watched.isActive)) {
          registry.detach(conn);
          return;
        }
        registry.attach(conn, frame.session_id);
        await fanout.listening(frame.session_id);
        return;
      }
      case 'file_upload':
      case 'voice_message':
        fail('UNSUPPORTED', `${frame.type} is not supported by this server`);
    }
  }

  return onFrame;
}
