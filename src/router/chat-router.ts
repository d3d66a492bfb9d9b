// The chat logic: sessions, replies, fan-out and admin takeover. It talks to sockets only through
// Delivery and the connection registry, to the LLM through ReplySource and to storage through
// SessionStore; its metrics all come from the events those emit, plus the takeover events here.
import { randomUUID } from 'node:crypto';
import type { Principal } from '../auth/jwt.js';
import type { Bus } from '../events/bus.js';
import type { LlmCancelCause, SessionEndReason, Via } from '../events/catalog.js';
import { ChatboxError, isChatboxError } from '../errors.js';
import type { ChatTurn, ReplyChunk, ReplySource, Usage } from '../llm/types.js';
import type { SessionRecord, SessionStore } from '../storage/types.js';
import type { Connection, ConnectionRegistry } from '../ws/connections.js';
import type { Delivery } from '../ws/delivery.js';
import { errorFrame, now, type ClientFrame, type ServerFrame } from './frames.js';
import type { Limiter } from '../cluster/limiter.js';
import { admitHelpRequest } from './help-request.js';
import { ReplyControl } from './reply-control.js';

/** Turns kept in memory per session for the next LLM request. */
const HISTORY_TURNS = 20;

/** A user message's append while it is in flight, shared with the reply started beside it. */
interface PendingWrite {
  readonly done: Promise<unknown>;
  failed: boolean;
}

interface LiveSession {
  readonly id: string;
  readonly userId: string;
  modelId: string;
  admin: { readonly userId: string; readonly name: string } | undefined;
  reply: ReplyControl | undefined;
  /** Replies of one session run one after another, in message order. */
  chain: Promise<void>;
  history: ChatTurn[];
  idleTimer: NodeJS.Timeout | undefined;
}

export interface ChatRouterOptions {
  readonly bus: Bus;
  readonly store: SessionStore;
  readonly replies: ReplySource;
  readonly registry: ConnectionRegistry;
  readonly delivery: Delivery;
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
  /** A session was ended elsewhere (REST): stop its reply and detach its sockets. */
  sessionEnded(sessionId: string, reason: SessionEndReason): void;
  /** Ends a session now (idle timeout, or on request through the router). */
  endSession(sessionId: string, reason: SessionEndReason): Promise<void>;
  /** Stops every reply and ends every open session with reason `shutdown`. */
  shutdown(): Promise<void>;
}

// A declaration, not an arrow: only then does TypeScript narrow after a call that never returns.
function fail(code: string, message: string, retryable = true): never {
  throw new ChatboxError(code, message, retryable);
}

export function createChatRouter(options: ChatRouterOptions): ChatRouter {
  const { bus, store, replies, registry, delivery } = options;
  const lives = new Map<string, LiveSession>();
  const creating = new Map<string, Promise<LiveSession>>();
  const idleMs = options.sessionIdleTimeoutSeconds * 1000;
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

  function statusFrame(conn: Connection, extra: Partial<ServerFrame> = {}): ServerFrame {
    return {
      type: 'connection_status',
      ...(conn.sessionId === undefined ? {} : { session_id: conn.sessionId }),
      sender: 'system',
      timestamp: now(),
      user_id: conn.principal.userId,
      models: modelList,
      model_id: conn.modelId,
      ...extra,
    };
  }

  function touch(live: LiveSession): void {
    if (live.idleTimer !== undefined) {
      live.idleTimer.refresh();
      return;
    }
    live.idleTimer = setTimeout(() => {
      endSession(live.id, 'idle').catch(internal);
    }, idleMs);
    live.idleTimer.unref();
  }

  function toTurn(sender: string, content: string): ChatTurn {
    return { role: sender === 'user' ? 'user' : 'assistant', content };
  }

  function remember(live: LiveSession, turn: ChatTurn): void {
    live.history.push(turn);
    if (live.history.length > HISTORY_TURNS) live.history.splice(0, live.history.length - HISTORY_TURNS);
  }

  /** Takes back a turn whose message could not be stored. */
  function unremember(live: LiveSession, turn: ChatTurn): void {
    const at = live.history.lastIndexOf(turn);
    if (at !== -1) live.history.splice(at, 1);
  }

  /** The live state of a stored session, reopening it under this process if it had ended. */
  async function liven(record: SessionRecord): Promise<LiveSession> {
    const existing = lives.get(record.id);
    if (existing !== undefined) return existing;
    const pending = creating.get(record.id);
    if (pending !== undefined) return pending;
    const task = (async () => {
      if (!record.isActive) {
        const reopened = await store.resumeSession(record.id);
        if (reopened === undefined) fail('NOT_FOUND', 'session not found', false);
      }
      const full = await store.getSession(record.id);
      const live: LiveSession = {
        id: record.id,
        userId: record.userId,
        modelId: modelIds.has(record.modelId) ? record.modelId : replies.defaultModel(),
        admin: undefined,
        reply: undefined,
        chain: Promise.resolve(),
        history: (full?.messages ?? []).slice(-HISTORY_TURNS).map((m) => toTurn(m.sender, m.content)),
        idleTimer: undefined,
      };
      lives.set(live.id, live);
      touch(live);
      return live;
    })();
    creating.set(record.id, task);
    try {
      return await task;
    } finally {
      creating.delete(record.id);
    }
  }

  async function create(id: string, userId: string, modelId: string): Promise<LiveSession> {
    const pending = creating.get(id);
    if (pending !== undefined) return pending;
    const task = (async () => {
      await store.createSession({ id, userId, modelId });
      const live: LiveSession = {
        id,
        userId,
        modelId,
        admin: undefined,
        reply: undefined,
        chain: Promise.resolve(),
        history: [],
        idleTimer: undefined,
      };
      lives.set(id, live);
      touch(live);
      return live;
    })();
    creating.set(id, task);
    try {
      return await task;
    } finally {
      creating.delete(id);
    }
  }

  function join(conn: Connection, live: LiveSession): void {
    if (conn.sessionId === live.id) return;
    registry.attach(conn, live.id);
    conn.modelId = live.modelId;
    delivery.send(conn, statusFrame(conn));
  }

  /** The session a user's frame is about, creating it on the first message. */
  async function sessionFor(conn: Connection, requested: string | undefined, modelId: string | undefined): Promise<LiveSession> {
    const target = requested ?? conn.sessionId ?? conn.pendingSessionId;
    if (target !== undefined) {
      const live = lives.get(target);
      if (live !== undefined) {
        if (live.userId !== conn.principal.userId) fail('FORBIDDEN', 'this session belongs to another user', false);
        join(conn, live);
        return live;
      }
      const record = await store.findSession(target);
      if (record !== undefined) {
        if (record.userId !== conn.principal.userId) fail('FORBIDDEN', 'this session belongs to another user', false);
        const resumed = await liven(record);
        join(conn, resumed);
        return resumed;
      }
    }
    const model = modelId ?? conn.modelId;
    if (!modelIds.has(model)) fail('INVALID_MESSAGE', `unknown model_id ${JSON.stringify(model)}`);
    const live = await create(target ?? randomUUID(), conn.principal.userId, model);
    join(conn, live);
    // Other tabs of the same user that connected with this id see the session start too.
    for (const other of registry.ofUser(conn.principal.userId)) {
      if (other.pendingSessionId === live.id) join(other, live);
    }
    return live;
  }

  function sessionFrame(live: LiveSession, frame: Omit<ServerFrame, 'timestamp' | 'session_id'>): ServerFrame {
    return { ...frame, session_id: live.id, timestamp: now() };
  }

  /** The last frame of a streamed reply (`done: "true"`, empty content), to every socket of the session. */
  function sendLast(live: LiveSession, metadata: Readonly<Record<string, string>>): void {
    delivery.sendAll(
      registry.inSession(live.id),
      sessionFrame(live, { type: 'ai_response', sender: 'ai', content: '', metadata: { streaming: 'true', done: 'true', ...metadata } }),
    );
  }

  /**
   * Answers the session's latest user message. With `write` (that message's append, still in
   * flight) the provider is asked at once and nothing is sent until the write has landed, so the
   * store's latency hides inside the time to first token; a failed write cancels the request.
   */
  async function reply(live: LiveSession, askedAt: number, write?: PendingWrite): Promise<void> {
    if (live.admin !== undefined || stopping || write?.failed === true) return;
    const control = new ReplyControl();
    live.reply = control;
    const chunks = replies
      .stream({
        model: live.modelId,
        // A snapshot: the history grows while this reply streams.
        messages: live.history.slice(),
        signal: control.signal,
        sessionId: live.id,
        userId: live.userId,
      })
      [Symbol.asyncIterator]();
    // The request goes out now; its outcome is read below (the catch only marks it handled).
    const first = chunks.next();
    first.catch(() => {});
    if (write !== undefined) {
      let stored = true;
      try {
        await write.done;
      } catch {
        // The user gets the storage error from the message handler; this reply never happened.
        stored = false;
        control.stop('aborted');
      }
      if (!stored || control.stopped) {
        // Stopped before the user saw any of it (a takeover shows as admin_join): nothing to send.
        // Closing the stream settles its attempt (llmCancelled) without reading it further.
        void chunks.return?.()?.catch(internal);
        if (live.reply === control) live.reply = undefined;
        return;
      }
    }
    delivery.sendAll(registry.inSession(live.id), sessionFrame(live, { type: 'loading', sender: 'ai', model_id: live.modelId }));
    let text = '';
    let responseMs: number | undefined;
    let usage: Usage = { inputTokens: 0, outputTokens: 0 };
    const streaming = { streaming: 'true', done: 'false' } as const;
    // Each chunk is raced against stop(): the stream is closed in the background (below).
    const pull = (): Promise<IteratorResult<ReplyChunk>> => (control.stopped ? Promise.reject(control.cause) : control.race(chunks.next()));
    try {
      for (let r = await control.race(first); r.done !== true; r = await pull()) {
        const chunk = r.value;
        if (chunk.type === 'done') {
          usage = chunk.usage;
          continue;
        }
        text += chunk.text;
        responseMs ??= Math.max(0, Date.now() - askedAt);
        delivery.sendAll(
          registry.inSession(live.id),
          sessionFrame(live, { type: 'ai_response', sender: 'ai', content: chunk.text, metadata: streaming }),
        );
      }
      remember(live, { role: 'assistant', content: text });
      await store.appendMessage(live.id, {
        sender: 'ai',
        content: text,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        metadata: { model_id: live.modelId },
        ...(responseMs === undefined ? {} : { responseMs }),
      });
      sendLast(live, { model_id: live.modelId });
    } catch (error) {
      const cancelled = control.stopped;
      if (text !== '') {
        // A cut reply is kept as far as the user saw it.
        remember(live, { role: 'assistant', content: text });
        await store
          .appendMessage(live.id, { sender: 'ai', content: text, metadata: { model_id: live.modelId, cut: 'true' } })
          .catch(internal);
      }
      if (cancelled) {
        const cause = control.cause as LlmCancelCause;
        if (cause !== 'shutdown' && cause !== 'client_left') {
          sendLast(live, { cancelled: cause });
        }
        return;
      }
      const known = isChatboxError(error);
      if (!known) internal(error);
      bus.emit('messageFailed', { code: 'LLM_UNAVAILABLE' });
      delivery.sendAll(
        registry.inSession(live.id),
        errorFrame('LLM_UNAVAILABLE', known ? error.message : 'the AI could not answer; try again', {
          sessionId: live.id,
          recoverable: true,
        }),
      );
    } finally {
      // Closes the stream if this loop left it early (a no-op once it has ended), so the reply
      // source settles its attempt and clears its timers.
      void chunks.return?.()?.catch(internal);
      if (live.reply === control) live.reply = undefined;
    }
  }

  async function userMessage(conn: Connection, frame: Extract<ClientFrame, { type: 'user_message' }>): Promise<void> {
    if (conn.principal.isAdmin) {
      const targetId = frame.session_id ?? conn.sessionId;
      const live = targetId === undefined ? undefined : lives.get(targetId);
      if (live !== undefined && live.admin !== undefined && live.userId !== conn.principal.userId) {
        await adminMessage(conn, live, frame.content);
        return;
      }
    }
    const live = await sessionFor(conn, frame.session_id, frame.model_id);
    if (frame.model_id !== undefined && frame.model_id !== live.modelId) {
      if (!modelIds.has(frame.model_id)) fail('INVALID_MESSAGE', `unknown model_id ${JSON.stringify(frame.model_id)}`);
      live.modelId = frame.model_id;
      await store.setModel(live.id, frame.model_id);
    }
    // Durability: the message is stored before anything is sent in reply to it. The reply is
    // started while the write is in flight (see reply) unless a human holds the session.
    const turn: ChatTurn = { role: 'user', content: frame.content };
    const askedAt = Date.now();
    const write: PendingWrite = { done: store.appendMessage(live.id, { sender: 'user', content: frame.content }), failed: false };
    const early = live.admin === undefined && !stopping;
    if (early) {
      remember(live, turn);
      live.chain = live.chain.then(() => reply(live, askedAt, write)).catch(internal);
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
      delivery.sendAll(
        registry.inSession(live.id),
        sessionFrame(live, {
          type: 'user_message',
          sender: 'user',
          content: frame.content,
          metadata: { user_id: conn.principal.userId, user_name: conn.principal.name },
        }),
        conn,
      );
      return;
    }
    if (!early) live.chain = live.chain.then(() => reply(live, askedAt)).catch(internal);
  }

  async function adminMessage(conn: Connection, live: LiveSession, content: string): Promise<void> {
    await store.appendMessage(live.id, { sender: 'admin', content, metadata: { admin_name: conn.principal.name } });
    remember(live, { role: 'assistant', content });
    touch(live);
    delivery.sendAll(
      registry.inSession(live.id),
      sessionFrame(live, {
        type: 'ai_response',
        sender: 'admin',
        content,
        metadata: { admin_name: conn.principal.name, streaming: 'false', done: 'true' },
      }),
      conn,
    );
  }

  async function takeover(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<TakeoverResult> {
    if (!admin.isAdmin) fail('FORBIDDEN', 'only admins may take a session over', false);
    const record = lives.has(sessionId) ? undefined : await store.findSession(sessionId);
    if (!lives.has(sessionId)) {
      if (record === undefined) fail('NOT_FOUND', 'session not found', false);
      if (record !== undefined && !record.isActive) fail('CONFLICT', 'session has ended', false);
    }
    const live = lives.get(sessionId) ?? (await liven(record as SessionRecord));
    const alreadyTakenOver = live.admin !== undefined;
    if (!alreadyTakenOver) {
      live.admin = { userId: admin.userId, name: admin.name };
      live.reply?.stop('takeover');
      await store.setAdmin(live.id, admin.name);
      bus.emit('adminTookOver', { via });
      delivery.sendAll(
        registry.inSession(live.id),
        sessionFrame(live, { type: 'admin_join', sender: 'admin', metadata: { admin_name: admin.name } }),
      );
    }
    touch(live);
    if (adminConn !== undefined) join(adminConn, live);
    return { sessionId: live.id, alreadyTakenOver };
  }

  async function handback(sessionId: string, admin: Principal, via: Via, adminConn?: Connection): Promise<{ readonly already: boolean }> {
    if (!admin.isAdmin) fail('FORBIDDEN', 'only admins may hand a session back', false);
    const live = lives.get(sessionId);
    if (live === undefined) {
      if ((await store.findSession(sessionId)) === undefined) fail('NOT_FOUND', 'session not found', false);
      return { already: true };
    }
    if (live.admin === undefined) return { already: true };
    live.admin = undefined;
    await store.setAdmin(live.id, null);
    bus.emit('adminHandedBack', { via });
    const frame = sessionFrame(live, { type: 'admin_leave', sender: 'admin', metadata: { admin_name: admin.name } });
    const audience = [...registry.inSession(live.id)];
    // The admin who asked hears back even when it never joined this session's sockets.
    if (adminConn !== undefined && !audience.includes(adminConn)) audience.push(adminConn);
    delivery.sendAll(audience, frame);
    // Admin sockets leave the session; the user's stay.
    for (const conn of audience) {
      if (conn.sessionId === live.id && conn.principal.isAdmin && conn.principal.userId !== live.userId) registry.detach(conn);
    }
    touch(live);
    return { already: false };
  }

  function forget(sessionId: string, reason: SessionEndReason): LiveSession | undefined {
    const live = lives.get(sessionId);
    if (live === undefined) return undefined;
    lives.delete(sessionId);
    clearTimeout(live.idleTimer);
    live.reply?.stop(reason === 'shutdown' ? 'shutdown' : 'aborted');
    for (const conn of [...registry.inSession(sessionId)]) {
      registry.detach(conn);
      if (reason !== 'shutdown') delivery.send(conn, statusFrame(conn, { metadata: { session_ended: reason } }));
    }
    return live;
  }

  async function endSession(sessionId: string, reason: SessionEndReason): Promise<void> {
    forget(sessionId, reason);
    await store.endSession(sessionId, reason);
  }

  async function onFrame(conn: Connection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'user_message':
        return userMessage(conn, frame);
      case 'model_select': {
        if (!modelIds.has(frame.model_id)) fail('INVALID_MESSAGE', `unknown model_id ${JSON.stringify(frame.model_id)}`);
        conn.modelId = frame.model_id;
        const live = conn.sessionId === undefined ? undefined : lives.get(conn.sessionId);
        if (live !== undefined && live.userId === conn.principal.userId) {
          live.modelId = frame.model_id;
          await store.setModel(live.id, frame.model_id);
        }
        delivery.send(conn, statusFrame(conn));
        return;
      }
      case 'help_request': {
        const sessionId = await admitHelpRequest(conn, frame.session_id, {
          bus,
          ownerOf: async (id) => lives.get(id)?.userId ?? (await store.findSession(id))?.userId,
          limiter: options.helpLimiter,
          onInternalError: internal,
        });
        if (sessionId !== undefined && lives.get(sessionId)?.userId === conn.principal.userId) await store.markHelpRequested(sessionId);
        delivery.sendAll(registry.allAdmins(), {
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
        delivery.sendAll(
          registry.inSession(conn.sessionId),
          { type: 'typing_indicator', session_id: conn.sessionId, sender: conn.principal.isAdmin ? 'admin' : 'user', timestamp: now() },
          conn,
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
        // Only a session live in this process streams; an ended one is read over REST.
        const watched = lives.get(frame.session_id);
        if (watched !== undefined) registry.attach(conn, watched.id);
        else registry.detach(conn);
        return;
      }
      case 'file_upload':
      case 'voice_message':
        fail('UNSUPPORTED', `${frame.type} is not supported by this server`);
    }
  }

  async function onOpen(conn: Connection, requested: string | undefined): Promise<void> {
    if (requested !== undefined) {
      const live = lives.get(requested);
      const record = live === undefined ? await store.findSession(requested) : undefined;
      const owner = live?.userId ?? record?.userId;
      if (owner === undefined) {
        conn.pendingSessionId = requested;
      } else if (owner !== conn.principal.userId) {
        delivery.send(conn, statusFrame(conn));
        fail('FORBIDDEN', 'this session belongs to another user', false);
      } else {
        const resumed = live ?? (await liven(record as SessionRecord));
        registry.attach(conn, resumed.id);
        conn.modelId = resumed.modelId;
      }
    }
    delivery.send(conn, statusFrame(conn));
  }

  function onClose(conn: Connection): void {
    const sessionId = conn.sessionId;
    if (sessionId === undefined) return;
    const live = lives.get(sessionId);
    if (live === undefined) return;
    // Nobody of the user's left to read the reply: stop paying for it.
    for (const other of registry.inSession(sessionId)) if (other.principal.userId === live.userId) return;
    live.reply?.stop('client_left');
  }

  return {
    onOpen,
    onFrame,
    onClose,
    takeover,
    handback,
    sessionEnded(sessionId, reason) {
      forget(sessionId, reason);
    },
    endSession,
    async shutdown() {
      stopping = true;
      for (const id of [...lives.keys()]) forget(id, 'shutdown');
      await store.endAllOpen('shutdown');
    },
  };
}
