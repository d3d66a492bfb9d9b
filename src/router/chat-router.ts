// The chat logic on the socket side: which session a frame is about, joining sockets to
// sessions, and handing the work to the session's owner (session-owner.ts), on this replica or
// another (owner-link.ts); frames reach sockets through the fan-out (fanout.ts); what a replica
// does about the others (failover, hand-over) is replica-lifecycle.ts. It talks to
// sockets only through Delivery and the connection registry, to other replicas only through
// src/cluster, to storage through SessionStore.
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/jwt.js';
import type { Bus } from '../events/bus.js';
import type { SessionEndReason, Via } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import type { ReplySource } from '../llm/types.js';
import { now, type ClientFrame, type ServerFrame } from '../protocol/frames.js';
import type { SessionStore } from '../storage/types.js';
import type { Cluster } from '../cluster/types.js';
import type { Connection, ConnectionRegistry } from '../ws/connections.js';
import type { Delivery } from '../ws/delivery.js';
import type { Limiter } from '../cluster/limiter.js';
import { createFanout } from './fanout.js';
import { admitHelpRequest } from './help-request.js';
import { createOwnerLink } from './owner-link.js';
import { startReplicaLifecycle } from './replica-lifecycle.js';
import { createSessionOwner } from './session-owner.js';
import { statusFrame } from './server-frames.js';

export interface ChatRouterOptions {
  readonly bus: Bus;
  readonly store: SessionStore;
  readonly replies: ReplySource;
  readonly registry: ConnectionRegistry;
  readonly delivery: Delivery;
  readonly cluster: Cluster;
  readonly sessionIdleTimeoutSeconds: number;
  /** Bounds help_request per session (none: unbounded). */
  readonly helpLimiter?: Limiter;
  /** Errors that are ours, not the client's (logged, not sent). */
  readonly onInternalError?: (error: unknown) => void;
  /** Admin consoles (`console_subscribe`): src/console/console-hub.ts. */
  readonly console?: { watch(conn: Connection): void };
}

export interface TakeoverResult {
  readonly sessionId: string;
  readonly alreadyTakenOver: boolean;
}

export interface ChatRouter {
  onOpen(conn: Connection, requestedSessionId: string | undefined): Promise<void>;
  onFrame(conn: Connection, frame: ClientFrame): Promise<void>;
  onClose(conn: Connection): void;
  takeover(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<TakeoverResult>;
  /** Idempotent: `already` when no admin held the session. */
  handback(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<{ readonly already: boolean }>;
  /** A session was ended elsewhere (REST): stop its reply and detach its sockets, on every replica. */
  sessionEnded(sessionId: string, reason: SessionEndReason): void;
  /** Ends a session now (idle timeout, or on request through the router). */
  endSession(sessionId: string, reason: SessionEndReason): Promise<void>;
  /** A socket over MAX_SOCKETS_PER_USER was refused: the user's other sockets hear why. */
  tooManySockets(userId: string, max: number): void;
  /**
   * Stops every reply. With other replicas alive, hands this replica's sessions to one of them
   * (they stay open); the last replica standing ends them with reason `shutdown`.
   */
  shutdown(): Promise<void>;
}

// A declaration, not an arrow: only then does TypeScript narrow after a call that never returns.
function fail(code: string, message: string, retryable = true): never {
  throw new ChatboxError(code, message, retryable);
}

export function createChatRouter(options: ChatRouterOptions): ChatRouter {
  const { bus, store, replies, registry, delivery, cluster } = options;
  const modelIds = new Set(replies.models().map((m) => m.id));
  const modelList = replies.models().map((m) => ({ id: m.id, name: m.name }));
  let stopping = false;

  const internal = (error: unknown): void => {
    try {
      options.onInternalError?.(error);
    } catch {
      // logging must not break the chat
    }
  };
  const status = (conn: Connection, extra?: Partial<ServerFrame>): ServerFrame => statusFrame(conn, modelList, extra);

  async function join(conn: Connection, sessionId: string, modelId: string): Promise<void> {
    if (conn.sessionId === sessionId) return;
    registry.attach(conn, sessionId);
    conn.modelId = modelId;
    delivery.send(conn, status(conn));
    // Nothing is asked of the owner before this replica hears the session's frames.
    await fanout.listening(sessionId);
  }

  const fanout = createFanout({
    bus,
    cluster,
    registry,
    delivery,
    onInternalError: internal,
    handlers: {
      ended(sessionId, reason) {
        const owned = owner.peek(sessionId) !== undefined;
        owner.forget(sessionId, reason);
        // Ended through another replica's store call (REST): the row moved, this owner's count did
        // not, so read it again rather than let the summed gauge wait for the next refresh.
        if (owned && cluster.shared) store.refreshOpenCount().catch(internal);
        for (const conn of [...registry.inSession(sessionId)]) {
          registry.detach(conn);
          if (reason !== 'shutdown') delivery.send(conn, status(conn, { metadata: { session_ended: reason } }));
        }
      },
      adminsLeft(sessionId, userId) {
        for (const conn of [...registry.inSession(sessionId)]) {
          if (conn.principal.isAdmin && conn.principal.userId !== userId) registry.detach(conn);
        }
      },
      created(userId, sessionId, modelId) {
        // Other tabs of the same user that connected with this id see the session start too.
        for (const other of registry.ofUser(userId)) {
          if (other.pendingSessionId === sessionId) join(other, sessionId, modelId).catch(internal);
        }
      },
    },
  });

  async function endSession(sessionId: string, reason: SessionEndReason): Promise<void> {
    fanout.ended(sessionId, reason);
    await store.endSession(sessionId, reason);
  }

  const owner = createSessionOwner({
    bus,
    store,
    replies,
    registry,
    fanout,
    cluster,
    idleMs: options.sessionIdleTimeoutSeconds * 1000,
    stopping: () => stopping,
    endSession,
    internal,
  });

  const lifecycle = startReplicaLifecycle({ cluster, store, owner, stopping: () => stopping, internal });
  const link = createOwnerLink({ cluster, owner, end: endSession, leaving: () => stopping, extra: lifecycle.answer });

  type Info = { readonly userId: string; readonly modelId: string };

  /** The session a user's frame is about, creating it on the first message. */
  async function sessionFor(conn: Connection, requested: string | undefined, modelId: string | undefined): Promise<string> {
    const userId = conn.principal.userId;
    const target = requested ?? conn.sessionId ?? conn.pendingSessionId;
    if (target !== undefined) {
      // Joined already: the owner checks the sender against the session's user.
      if (conn.sessionId === target) return target;
      const live = owner.peek(target);
      if (live !== undefined) {
        if (live.userId !== userId) fail('FORBIDDEN', 'this session belongs to another user', false);
        await join(conn, target, live.modelId);
        return target;
      }
      // The socket's pending id was looked up at connect and not found: creating it is the next
      // step, and create() joins a session that appeared meanwhile (CONFLICT) like a found one.
      const record = target === conn.pendingSessionId ? undefined : await store.findSession(target);
      if (record !== undefined) {
        if (record.userId !== userId) fail('FORBIDDEN', 'this session belongs to another user', false);
        const opened = (await link.ask({ op: 'open', s: target })) as Info;
        await join(conn, target, opened.modelId);
        return target;
      }
    }
    const model = modelId ?? conn.modelId;
    if (!modelIds.has(model)) fail('INVALID_MESSAGE', `unknown model_id ${JSON.stringify(model)}`);
    const id = target ?? randomUUID();
    const created = (await link.ask({ op: 'create', s: id, u: userId, m: model })) as Info;
    await join(conn, id, created.modelId);
    fanout.created(userId, id, created.modelId);
    return id;
  }

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
    const sessionId = requested !== undefined && requested === conn.sessionId ? requested : await sessionFor(conn, frame.session_id, frame.model_id);
    await link.ask({ op: 'submit', s: sessionId, u: p.userId, n: p.name, c: frame.content, m: frame.model_id, x: fanout.ref(conn) });
  }

  async function takeover(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<TakeoverResult> {
    if (!admin.isAdmin) fail('FORBIDDEN', 'only admins may take a session over', false);
    const result = (await link.ask({ op: 'takeover', s: sessionId, u: admin.userId, n: admin.name, via })) as {
      alreadyTakenOver: boolean;
      modelId: string;
    };
    if (adminConn !== undefined) await join(adminConn, sessionId, result.modelId);
    return { sessionId, alreadyTakenOver: result.alreadyTakenOver };
  }

  async function handback(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<{ readonly already: boolean }> {
    if (!admin.isAdmin) fail('FORBIDDEN', 'only admins may hand a session back', false);
    const heard = adminConn?.sessionId === sessionId;
    const frame = (await link.ask({ op: 'handback', s: sessionId, u: admin.userId, n: admin.name, via })) as ServerFrame | undefined;
    if (frame === undefined) return { already: true };
    // The admin who asked hears back even when it never joined this session's sockets.
    if (adminConn !== undefined && !heard) delivery.send(adminConn, frame);
    return { already: false };
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
        if (sessionId !== undefined && asked === conn.principal.userId) await store.markHelpRequested(sessionId);
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

  async function onOpen(conn: Connection, requested: string | undefined): Promise<void> {
    if (requested !== undefined) {
      const live = owner.peek(requested);
      const record = live === undefined ? await store.findSession(requested) : undefined;
      const sessionUser = live?.userId ?? record?.userId;
      if (sessionUser === undefined) {
        conn.pendingSessionId = requested;
      } else if (sessionUser !== conn.principal.userId) {
        delivery.send(conn, status(conn));
        fail('FORBIDDEN', 'this session belongs to another user', false);
      } else {
        const opened = live ?? ((await link.ask({ op: 'open', s: requested })) as Info);
        registry.attach(conn, requested);
        conn.modelId = opened.modelId;
        await fanout.listening(requested);
      }
    }
    delivery.send(conn, status(conn));
  }

  function onClose(conn: Connection): void {
    const sessionId = conn.sessionId;
    if (sessionId === undefined) return;
    if (owner.peek(sessionId) !== undefined) {
      owner.left(sessionId);
      return;
    }
    // Another replica owns it: ask it to look only when none of this user's sockets is left here.
    for (const other of registry.inSession(sessionId)) if (other.principal.userId === conn.principal.userId) return;
    link.ask({ op: 'left', s: sessionId }).catch(internal);
  }

  return {
    onOpen,
    onFrame,
    onClose,
    takeover,
    handback,
    sessionEnded(sessionId, reason) {
      fanout.ended(sessionId, reason);
    },
    endSession,
    tooManySockets(userId, max) {
      fanout.toUser(userId, {
        type: 'notification',
        sender: 'system',
        timestamp: now(),
        content: `another device was refused: at most ${max} connections per user`,
        metadata: { kind: 'too_many_sockets', max: String(max) },
      });
    },
    async shutdown() {
      stopping = true;
      lifecycle.stop();
      if (await lifecycle.handOff()) return;
      for (const id of owner.ids()) owner.forget(id, 'shutdown');
      await store.endAllOpen('shutdown');
    },
  };
}
