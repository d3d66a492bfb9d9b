// The sessions live on this replica (the owner's side): making one live, from its stored row or
// as a new session whose row is still being written, its idle timer, and dropping it. What the
// chat does with them (messages, takeover, end) is session-owner.ts.
import type { SessionEndReason } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import type { ChatTurn } from '../llm/types.js';
import type { Cluster } from '../cluster/types.js';
import type { SessionRecord, SessionStore } from '../storage/types.js';
import type { Fanout } from './fanout.js';
import { HISTORY_TURNS, toTurn, type LiveSession } from './live-session.js';

export interface LiveSessions {
  get(id: string): LiveSession | undefined;
  /** The stored session of this id, live here; NOT_FOUND when there is none, FORBIDDEN (before reopening it) when it is not `userId`'s. */
  ensure(id: string, userId?: string): Promise<LiveSession>;
  /** A stored session made live here, reopened if it had ended. */
  liven(record: SessionRecord): Promise<LiveSession>;
  /**
   * A new session, live at once; its row is written meanwhile (`stored`), and the user's other
   * sockets waiting for the id join it when the row is there. Another socket's session of the
   * same id, already live, is returned instead (the caller checks its user).
   */
  create(id: string, userId: string, modelId: string): Promise<LiveSession>;
  /**
   * Why a new session's row could not be written, when that happened before its first message
   * reached the owner (asked once: the message's answer).
   */
  failure(id: string): unknown;
  /** The idle timer starts again. */
  touch(live: LiveSession): void;
  /** No longer live here (the reply is the caller's to stop). */
  drop(live: LiveSession): void;
  /** Waits for new sessions' rows still being written (all of them, or the one of `id`). */
  settle(id?: string): Promise<void>;
  ids(): string[];
}

export interface LiveSessionsOptions {
  readonly store: SessionStore;
  readonly fanout: Fanout;
  readonly cluster: Cluster;
  readonly modelIds: ReadonlySet<string>;
  readonly defaultModel: () => string;
  readonly idleMs: number;
  /** Ends a session (idle timeout): the router's endSession, which tells every replica. */
  readonly endSession: (sessionId: string, reason: SessionEndReason) => Promise<void>;
  readonly internal: (error: unknown) => void;
}

const ignore = (): void => {};
/** How long a failed new session's error waits for its first message (it follows the create at once). */
const FAILURE_KEPT_MS = 10_000;

export function createLiveSessions(options: LiveSessionsOptions): LiveSessions {
  const { store, fanout, cluster, modelIds, internal } = options;
  const lives = new Map<string, LiveSession>();
  const making = new Map<string, Promise<LiveSession>>();
  const failures = new Map<string, unknown>();

  function touch(live: LiveSession): void {
    if (live.idleTimer !== undefined) {
      live.idleTimer.refresh();
      return;
    }
    live.idleTimer = setTimeout(() => {
      options.endSession(live.id, 'idle').catch(internal);
    }, options.idleMs);
    live.idleTimer.unref();
  }

  function register(id: string, userId: string, modelId: string, history: ChatTurn[]): LiveSession {
    const live: LiveSession = {
      id,
      userId,
      modelId,
      admin: undefined,
      reply: undefined,
      chain: Promise.resolve(),
      history,
      idleTimer: undefined,
      stored: undefined,
    };
    lives.set(id, live);
    fanout.hold(id);
    touch(live);
    return live;
  }

  function drop(live: LiveSession): void {
    if (lives.get(live.id) !== live) return;
    lives.delete(live.id);
    clearTimeout(live.idleTimer);
    fanout.release(live.id);
  }

  /** One task per session id at a time: two sockets asking at once get the same live session. */
  async function once(id: string, make: () => Promise<LiveSession>): Promise<LiveSession> {
    const existing = lives.get(id);
    if (existing !== undefined) return existing;
    const pending = making.get(id);
    if (pending !== undefined) return pending;
    const task = make();
    making.set(id, task);
    try {
      return await task;
    } finally {
      making.delete(id);
    }
  }

  async function livenNow(record: SessionRecord): Promise<LiveSession> {
    // With other replicas the row may name another owner (a dead or departed replica): the
    // resume moves it here, so the active-sessions gauge counts it on this replica.
    if (!record.isActive || !cluster.alone()) {
      const reopened = await store.resumeSession(record.id);
      if (reopened === undefined) throw new ChatboxError('NOT_FOUND', 'session not found', false);
    }
    const full = await store.getSession(record.id);
    const modelId = modelIds.has(record.modelId) ? record.modelId : options.defaultModel();
    const history = (full?.messages ?? []).slice(-HISTORY_TURNS).map((m) => toTurn(m.sender, m.content));
    const live = register(record.id, record.userId, modelId, history);
    // An admin's hold outlives the replica that had it (a hand-over or a failover): the store
    // keeps the assisting admin's name, so the AI does not start answering again.
    if (record.adminName !== null) live.admin = { userId: '', name: record.adminName };
    return live;
  }

  const liven = (record: SessionRecord): Promise<LiveSession> => once(record.id, () => livenNow(record));

  return {
    get: (id) => lives.get(id),
    async ensure(id, userId) {
      const live = lives.get(id);
      if (live !== undefined) return live;
      const record = await store.findSession(id);
      if (record === undefined) throw new ChatboxError('NOT_FOUND', 'session not found', false);
      if (userId !== undefined && record.userId !== userId) throw new ChatboxError('FORBIDDEN', 'this session belongs to another user', false);
      return liven(record);
    },
    liven,
    create(id, userId, modelId) {
      return once(id, async () => {
        const live = register(id, userId, modelId, []);
        // Off the first message's way: the row is the one write of a new session that can fail
        // for a reason of its own (CONFLICT: the id was taken after the socket looked it up).
        // Every later write waits for it; session-owner's submit handles the conflict.
        live.stored = store.createSession({ id, userId, modelId }).then(
          () => {
            live.stored = undefined;
            fanout.created(userId, id, modelId);
          },
          (error: unknown) => {
            drop(live);
            // Its first message may not have reached this owner yet (another replica's socket,
            // or a store that fails at once): that message's answer is this error.
            failures.set(id, error);
            setTimeout(() => failures.delete(id), FAILURE_KEPT_MS).unref();
            throw error;
          },
        );
        // Whoever writes next reads the failure; a session nobody writes to again has none to tell.
        live.stored.catch(ignore);
        return live;
      });
    },
    failure(id) {
      const error = failures.get(id);
      failures.delete(id);
      return error;
    },
    touch,
    drop,
    async settle(id) {
      const pending = id === undefined ? [...lives.values()] : [lives.get(id)];
      await Promise.all(pending.map((live) => live?.stored?.catch(ignore)));
    },
    ids: () => [...lives.keys()],
  };
}
