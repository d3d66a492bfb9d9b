// The owner side of sessions: the replica that owns a session (src/cluster decides which) keeps
// its live state, runs its replies one at a time in message order, and applies takeover,
// handback and end. Its calls take session ids and plain sender data, never a socket, so the
// router reaches them the same way from this replica or from another (owner-link.ts).
import type { Bus } from '../events/bus.js';
import type { SessionEndReason, Via } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import type { ChatTurn, ReplySource } from '../llm/types.js';
import type { ServerFrame } from '../protocol/frames.js';
import type { SessionStore } from '../storage/types.js';
import type { ConnectionRegistry } from '../ws/connections.js';
import type { Cluster } from '../cluster/types.js';
import type { ConnRef, Fanout } from './fanout.js';
import { afterStored, remember, unremember, type LiveSession, type PendingWrite } from './live-session.js';
import { createLiveSessions } from './live-sessions.js';
import { reply, type ReplyDeps } from './reply.js';
import { sessionFrame } from './server-frames.js';

/** Who sent something, as the owner needs to know it (from the token, never the client's frame). */
export interface Sender {
  readonly userId: string;
  readonly name: string;
}

export interface UserMessage extends Sender {
  readonly content: string;
  readonly modelId?: string | undefined;
  /** The socket it came from: it does not get its own message echoed. */
  readonly from: ConnRef;
}

export interface SessionOwner {
  /** The live session's user and model when this replica holds it. */
  peek(sessionId: string): { readonly userId: string; readonly modelId: string } | undefined;
  /** Makes a stored session live here (reopening it when it had ended); NOT_FOUND when there is none. */
  open(sessionId: string): Promise<{ readonly userId: string; readonly modelId: string }>;
  /** A session adopted from a dead replica: live here (idle timer included) if it is still open. */
  adopt(sessionId: string): Promise<void>;
  /** A new session with this id, or the existing one when another socket created it first. */
  create(sessionId: string, userId: string, modelId: string): Promise<{ readonly userId: string; readonly modelId: string }>;
  submit(sessionId: string, message: UserMessage): Promise<void>;
  /** An admin's message into a session it has taken over; false when the session is not taken over (by someone else's user). */
  say(sessionId: string, admin: Sender, content: string, from: ConnRef): Promise<boolean>;
  takeover(sessionId: string, admin: Sender, via: Via): Promise<{ readonly alreadyTakenOver: boolean; readonly modelId: string }>;
  /** Returns the `admin_leave` frame (the admin who asked may not be in the session's audience); undefined when no admin held it (idempotent). */
  handback(sessionId: string, admin: Sender, via: Via): Promise<ServerFrame | undefined>;
  setModel(sessionId: string, userId: string, modelId: string): Promise<void>;
  /** A socket of the session left: stop the reply when none of the session user's is left here. */
  left(sessionId: string): void;
  /** Drops the live state and stops its reply; `keep` leaves the ownership record (hand-over). */
  forget(sessionId: string, reason: SessionEndReason, keep?: boolean): void;
  /** Waits for new sessions' rows still being written (all, or the one of `sessionId`): before an end, a hand-over or a shutdown. */
  settle(sessionId?: string): Promise<void>;
  ids(): readonly string[];
}

export interface SessionOwnerOptions {
  readonly bus: Bus;
  readonly store: SessionStore;
  readonly replies: ReplySource;
  readonly registry: ConnectionRegistry;
  readonly fanout: Fanout;
  readonly cluster: Cluster;
  readonly idleMs: number;
  readonly stopping: () => boolean;
  /** Ends a session (idle timeout): the router's endSession, which tells every replica. */
  readonly endSession: (sessionId: string, reason: SessionEndReason) => Promise<void>;
  readonly internal: (error: unknown) => void;
}

// A declaration, not an arrow: only then does TypeScript narrow after a call that never returns.
function fail(code: string, message: string, retryable = true): never {
  throw new ChatboxError(code, message, retryable);
}

const isConflict = (error: unknown): boolean => error instanceof ChatboxError && error.code === 'CONFLICT';

export function createSessionOwner(options: SessionOwnerOptions): SessionOwner {
  const { bus, store, replies, registry, fanout, cluster, internal } = options;
  const modelIds = new Set(replies.models().map((m) => m.id));
  const lives = createLiveSessions({
    store,
    fanout,
    cluster,
    modelIds,
    defaultModel: () => replies.defaultModel(),
    idleMs: options.idleMs,
    endSession: options.endSession,
    internal,
  });
  const { touch } = lives;
  const deps: ReplyDeps = { bus, store, replies, fanout, stopping: options.stopping, internal };

  const info = (live: LiveSession) => ({ userId: live.userId, modelId: live.modelId });

  async function submit(sessionId: string, m: UserMessage): Promise<void> {
    const live = lives.get(sessionId);
    if (live === undefined) {
      // A new session's row that failed before this, its first message, came: that is the answer.
      const failure = lives.failure(sessionId);
      if (failure === undefined) return submitTo(await lives.ensure(sessionId, m.userId), m);
      if (!isConflict(failure)) throw failure;
      return rejoin(sessionId, m);
    }
    // Every message but a new session's first: no second async frame on the hot path.
    if (live.stored === undefined) return submitTo(live, m);
    try {
      await submitTo(live, m);
    } catch (error) {
      if (!isConflict(error)) throw error;
      await rejoin(sessionId, m);
    }
  }

  /**
   * The id of a new session was taken between the socket's lookup and its first message: a
   * session of this user's that had ended, or one a dead replica held. Opened like any stored
   * session (and only if it is the user's), it gets the message; a reply started for the new one
   * was never sent (its write failed).
   */
  async function rejoin(sessionId: string, m: UserMessage): Promise<void> {
    const opened = await lives.ensure(sessionId, m.userId);
    fanout.created(m.userId, sessionId, opened.modelId);
    await submitTo(opened, m);
  }

  async function submitTo(live: LiveSession, m: UserMessage): Promise<void> {
    if (live.userId !== m.userId) fail('FORBIDDEN', 'this session belongs to another user', false);
    const chosen = m.modelId;
    if (chosen !== undefined && chosen !== live.modelId) {
      if (!modelIds.has(chosen)) fail('INVALID_MESSAGE', `unknown model_id ${JSON.stringify(chosen)}`);
      live.modelId = chosen;
      await afterStored(live, () => store.setModel(live.id, chosen));
    }
    // Durability: the message is stored before anything is sent in reply to it. The reply is
    // started while the write is in flight (see reply) unless a human holds the session.
    const turn: ChatTurn = { role: 'user', content: m.content };
    const askedAt = Date.now();
    const write: PendingWrite = { done: afterStored(live, () => store.appendMessage(live.id, { sender: 'user', content: m.content })), failed: false };
    const early = live.admin === undefined && !options.stopping();
    if (early) {
      remember(live, turn);
      live.chain = live.chain.then(() => reply(deps, live, askedAt, write)).catch(internal);
    }
    try {
      await write.done;
    } catch (error) {
      write.failed = true;
      if (early) unremember(live, turn);
      throw error;
    }
    if (!early) remember(live, turn);
    touch(live);
    if (live.admin !== undefined) {
      // Taken over: the message goes to the human, not to the AI.
      fanout.toSession(
        live.id,
        sessionFrame(live.id, { type: 'user_message', sender: 'user', content: m.content, metadata: { user_id: m.userId, user_name: m.name } }),
        m.from,
      );
      return;
    }
    if (!early) live.chain = live.chain.then(() => reply(deps, live, askedAt)).catch(internal);
  }

  async function say(sessionId: string, admin: Sender, content: string, from: ConnRef): Promise<boolean> {
    const live = lives.get(sessionId);
    if (live === undefined || live.admin === undefined || live.userId === admin.userId) return false;
    await afterStored(live, () => store.appendMessage(live.id, { sender: 'admin', content, metadata: { admin_name: admin.name } }));
    remember(live, { role: 'assistant', content });
    touch(live);
    fanout.toSession(
      live.id,
      sessionFrame(live.id, { type: 'ai_response', sender: 'admin', content, metadata: { admin_name: admin.name, streaming: 'false', done: 'true' } }),
      from,
    );
    return true;
  }

  async function takeover(sessionId: string, admin: Sender, via: Via): Promise<{ alreadyTakenOver: boolean; modelId: string }> {
    let live = lives.get(sessionId);
    if (live === undefined) {
      const record = await store.findSession(sessionId);
      if (record === undefined) fail('NOT_FOUND', 'session not found', false);
      if (!record.isActive) fail('CONFLICT', 'session has ended', false);
      live = await lives.liven(record);
    }
    const alreadyTakenOver = live.admin !== undefined;
    if (!alreadyTakenOver) {
      live.admin = { userId: admin.userId, name: admin.name };
      live.reply?.stop('takeover');
      await afterStored(live, () => store.setAdmin(live.id, admin.name));
      bus.emit('adminTookOver', { via });
      fanout.toSession(live.id, sessionFrame(live.id, { type: 'admin_join', sender: 'admin', metadata: { admin_name: admin.name } }));
    }
    touch(live);
    return { alreadyTakenOver, modelId: live.modelId };
  }

  async function handback(sessionId: string, admin: Sender, via: Via): Promise<ServerFrame | undefined> {
    const live = lives.get(sessionId);
    if (live === undefined) {
      if ((await store.findSession(sessionId)) === undefined) fail('NOT_FOUND', 'session not found', false);
      return undefined;
    }
    if (live.admin === undefined) return undefined;
    live.admin = undefined;
    await afterStored(live, () => store.setAdmin(live.id, null));
    bus.emit('adminHandedBack', { via });
    const frame = sessionFrame(live.id, { type: 'admin_leave', sender: 'admin', metadata: { admin_name: admin.name } });
    fanout.toSession(live.id, frame);
    fanout.adminsLeft(live.id, live.userId);
    touch(live);
    return frame;
  }

  return {
    peek: (id) => {
      const live = lives.get(id);
      return live === undefined ? undefined : info(live);
    },
    open: async (id) => info(await lives.ensure(id)),
    async adopt(id) {
      if (lives.get(id) !== undefined) return;
      const record = await store.findSession(id);
      if (record?.isActive === true) await lives.liven(record);
    },
    async create(id, userId, modelId) {
      const live = await lives.create(id, userId, modelId);
      if (live.userId !== userId) fail('FORBIDDEN', 'this session belongs to another user', false);
      return info(live);
    },
    submit,
    say,
    takeover,
    handback,
    async setModel(id, userId, modelId) {
      const live = await lives.ensure(id);
      if (live.userId !== userId) return;
      live.modelId = modelId;
      await afterStored(live, () => store.setModel(live.id, modelId));
    },
    left(id) {
      const live = lives.get(id);
      if (live === undefined) return;
      // Nobody of the user's left to read the reply: stop paying for it.
      for (const other of registry.inSession(id)) if (other.principal.userId === live.userId) return;
      const reply = live.reply;
      if (reply === undefined) return;
      if (cluster.alone()) {
        reply.stop('client_left');
        return;
      }
      // The user may still have a device on a third replica: stop only when none is open anywhere.
      cluster.userSockets(live.userId, registry.ofUser(live.userId).size).then((open) => {
        if (open === 0) reply.stop('client_left');
      }, internal);
    },
    forget(id, reason, keep = false) {
      const live = lives.get(id);
      if (live === undefined) return;
      lives.drop(live);
      live.reply?.stop(reason === 'shutdown' ? 'shutdown' : 'aborted');
      if (!keep) cluster.release(id);
    },
    settle: (id) => lives.settle(id),
    ids: () => lives.ids(),
  };
}
