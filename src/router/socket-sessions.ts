// Which session a socket is in: joining one, finding or creating the session a user's frame is
// about, and what a socket's open and close mean for its session. Apart from the router's wiring
// (chat-router.ts) so the socket side's session rules read in one place.
import { randomUUID } from 'node:crypto';
import { ChatboxError } from '../errors.js';
import type { ServerFrame } from '../protocol/frames.js';
import type { SessionStore } from '../storage/types.js';
import type { Connection, ConnectionRegistry } from '../ws/connections.js';
import type { Delivery } from '../ws/delivery.js';
import type { Fanout } from './fanout.js';
import type { OwnerLink } from './owner-link.js';
import type { SessionOwner } from './session-owner.js';

export interface SocketSessions {
  join(conn: Connection, sessionId: string, modelId: string): Promise<void>;
  sessionFor(conn: Connection, requested: string | undefined, modelId: string | undefined): Promise<string>;
  onOpen(conn: Connection, requested: string | undefined): Promise<void>;
  onClose(conn: Connection): void;
  /**
   * A first message failed after its socket joined the session it was creating: unless the
   * session is there after all (the message failed, not its row), the socket leaves it and waits
   * for that id again.
   */
  unjoin(conn: Connection, sessionId: string): Promise<void>;
}

// A declaration, not an arrow: only then does TypeScript narrow after a call that never returns.
export function fail(code: string, message: string, retryable = true): never {
  throw new ChatboxError(code, message, retryable);
}

/** The router's parts the socket side works with (client-frames.ts takes them too). */
export interface RouterParts {
  readonly store: SessionStore;
  readonly registry: ConnectionRegistry;
  readonly delivery: Delivery;
  readonly fanout: Fanout;
  readonly owner: SessionOwner;
  readonly link: OwnerLink;
  readonly modelIds: ReadonlySet<string>;
  readonly status: (conn: Connection, extra?: Partial<ServerFrame>) => ServerFrame;
  readonly internal: (error: unknown) => void;
}

export function createSocketSessions(options: RouterParts): SocketSessions {
  const { store, registry, delivery, fanout, owner, link, modelIds, status, internal } = options;

  async function join(conn: Connection, sessionId: string, modelId: string): Promise<void> {
    if (conn.sessionId === sessionId) return;
    registry.attach(conn, sessionId);
    conn.modelId = modelId;
    delivery.send(conn, status(conn));
    // Nothing is asked of the owner before this replica hears the session's frames.
    await fanout.listening(sessionId);
  }

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
        const opened = await link.ask({ op: 'open', s: target });
        await join(conn, target, opened.modelId);
        return target;
      }
    }
    const model = modelId ?? conn.modelId;
    if (!modelIds.has(model)) fail('INVALID_MESSAGE', `unknown model_id ${JSON.stringify(model)}`);
    const id = target ?? randomUUID();
    // The owner writes the new session's row while the message goes on (the user's other sockets
    // waiting for this id join when it is there); a row that cannot be written fails the message.
    const created = await link.ask({ op: 'create', s: id, u: userId, m: model });
    await join(conn, id, created.modelId);
    return id;
  }

  async function unjoin(conn: Connection, sessionId: string): Promise<void> {
    if (conn.sessionId !== sessionId) return;
    const found = owner.peek(sessionId) ?? (await store.findSession(sessionId).catch(() => undefined));
    // The message failed, not the session: the socket stays in it.
    if (found?.userId === conn.principal.userId) return;
    registry.detach(conn);
    // As before the message: the next one creates the session of this id again.
    conn.pendingSessionId = sessionId;
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
        const opened = live ?? (await link.ask({ op: 'open', s: requested }));
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

  return { join, sessionFor, onOpen, onClose, unjoin };
}
