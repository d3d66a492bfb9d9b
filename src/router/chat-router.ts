// The chat logic on the socket side, wired together: which session a socket is in
// (socket-sessions.ts) and what each client frame does (client-frames.ts), the work handed to the
// session's owner (session-owner.ts), on this replica or another (owner-link.ts); frames reach
// sockets through the fan-out (fanout.ts); what a replica does about the others (failover,
// hand-over) is replica-lifecycle.ts. It talks to sockets only through Delivery and the connection
// registry, to other replicas only through src/cluster, to storage through SessionStore.
import type { Principal } from '../auth/jwt.js';
import type { Bus } from '../events/bus.js';
import type { SessionEndReason, Via } from '../events/catalog.js';
import type { ReplySource } from '../llm/types.js';
import { now, type ClientFrame, type ServerFrame } from '../protocol/frames.js';
import type { SessionStore } from '../storage/types.js';
import type { Cluster } from '../cluster/types.js';
import type { Connection, ConnectionRegistry } from '../ws/connections.js';
import type { Delivery } from '../ws/delivery.js';
import type { Limiter } from '../cluster/limiter.js';
import { createFrameHandler } from './client-frames.js';
import { createFanout } from './fanout.js';
import { createOwnerLink } from './owner-link.js';
import { startReplicaLifecycle } from './replica-lifecycle.js';
import { createSessionOwner } from './session-owner.js';
import { statusFrame } from './server-frames.js';
import { createSocketSessions, fail } from './socket-sessions.js';

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
    // A session created a moment ago may have no row yet: the end must not come before it.
    await owner.settle(sessionId);
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
  const { join, sessionFor, unjoin, onOpen, onClose } = createSocketSessions({ store, registry, delivery, fanout, owner, link, modelIds, status, internal });

  async function takeover(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<TakeoverResult> {
    if (!admin.isAdmin) fail('FORBIDDEN', 'only admins may take a session over', false);
    // The hold starts before the takeover's own write lands, and a user message taken meanwhile
    // goes to the admin: the admin's socket hears the session first.
    const was = adminConn?.sessionId;
    const moving = adminConn !== undefined && was !== sessionId;
    if (moving) {
      registry.attach(adminConn, sessionId);
      await fanout.listening(sessionId);
    }
    let result: { readonly alreadyTakenOver: boolean; readonly modelId: string };
    try {
      result = await link.ask({ op: 'takeover', s: sessionId, u: admin.userId, n: admin.name, via });
    } catch (error) {
      if (moving && adminConn.sessionId === sessionId) {
        if (was === undefined) registry.detach(adminConn);
        else registry.attach(adminConn, was);
      }
      throw error;
    }
    if (moving) {
      adminConn.modelId = result.modelId;
      delivery.send(adminConn, status(adminConn));
    }
    return { sessionId, alreadyTakenOver: result.alreadyTakenOver };
  }

  async function handback(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<{ readonly already: boolean }> {
    if (!admin.isAdmin) fail('FORBIDDEN', 'only admins may hand a session back', false);
    const heard = adminConn?.sessionId === sessionId;
    const frame = await link.ask({ op: 'handback', s: sessionId, u: admin.userId, n: admin.name, via });
    if (frame === undefined) return { already: true };
    // The admin who asked hears back even when it never joined this session's sockets.
    if (adminConn !== undefined && !heard) delivery.send(adminConn, frame);
    return { already: false };
  }

  const onFrame = createFrameHandler({
    bus,
    store,
    registry,
    delivery,
    fanout,
    owner,
    link,
    modelIds,
    status,
    sessionFor,
    unjoin,
    takeover,
    handback,
    helpLimiter: options.helpLimiter,
    console: options.console,
    internal,
  });

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
      // Rows still being written are ended or handed over with the others, not after them.
      await owner.settle();
      if (await lifecycle.handOff()) return;
      for (const id of owner.ids()) owner.forget(id, 'shutdown');
      await store.endAllOpen('shutdown');
    },
  };
}
