// In-memory SessionStore for unit tests and benchmarks: the reference semantics the SQL store's
// contract suite is checked against. Nothing survives the process, so there is nothing to recover.
// Several stores may share one MemoryDatabase to play replicas over one database (tests).
import { randomBytes, randomUUID } from 'node:crypto';
import type { SessionEndReason } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import { createCipher } from './cipher.js';
import type { EndOutcome, OutcomeStore, StoreOptions } from './options.js';
import { memoryListing, memoryUserSessions } from './memory-listing.js';
import { memoryStats } from './memory-stats.js';
import type { MessageRecord, SessionPage, SessionRecord, SessionWithMessages } from './types.js';
import {
  DEFAULT_MAX_CONTENT_BYTES,
  SHARE_TOKEN_BYTES,
  checkAdminName,
  checkFilter,
  checkInstanceId,
  checkMessage,
  checkModelId,
  checkRange,
  checkReason,
  checkSessionId,
  checkUserId,
  checkUserListLimit,
  isSessionId,
  isShareToken,
  nameFrom,
  notFound,
} from './validate.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Row {
  readonly session: Mutable<SessionRecord>;
  owner: string;
  shareToken: string | null;
  readonly messages: MessageRecord[];
}

/** The rows several memory stores can share, as replicas share one PostgreSQL database. */
export interface MemoryDatabase {
  readonly rows: Map<string, Row>;
  readonly shares: Map<string, string>;
}

export const createMemoryDatabase = (): MemoryDatabase => ({ rows: new Map(), shares: new Map() });

export interface MemoryStoreOptions extends StoreOptions {
  /** Rows shared with other memory stores (default: a database of its own). */
  readonly database?: MemoryDatabase;
}

export function createMemoryStore(options: MemoryStoreOptions): OutcomeStore {
  // Validated for parity with the SQL stores (a bad key fails at start); content stays in memory.
  if (options.encryptionKey !== undefined) createCipher(options.encryptionKey);
  const me = options.instanceId;
  const now = options.now ?? (() => new Date());
  const maxContentBytes = options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const { rows, shares } = options.database ?? createMemoryDatabase();
  let open = 0;
  let closed = false;

  const snapshot = (row: Row): SessionRecord => ({ ...row.session });
  const live = (): void => {
    if (closed) throw new ChatboxError('INTERNAL', 'session store is closed', true);
  };
  const rowOf = (id: string): Row => {
    const row = isSessionId(id) ? rows.get(id) : undefined;
    if (row === undefined) throw notFound();
    return row;
  };

  function endRow(row: Row, reason: SessionEndReason): boolean {
    if (!row.session.isActive) return false;
    row.session.isActive = false;
    row.session.endedAt = now();
    row.session.endReason = reason;
    // An ended session has no one assisting it: a reopened one starts with the AI.
    row.session.adminName = null;
    if (row.owner === me) open--;
    return true;
  }

  async function endSessionOutcome(id: string, reason: SessionEndReason): Promise<EndOutcome | undefined> {
    live();
    checkReason(reason);
    const row = rows.get(id);
    if (row === undefined) return undefined;
    const changed = endRow(row, reason);
    return { record: snapshot(row), changed };
  }

  const countOwned = (owner: string): number => {
    let n = 0;
    for (const row of rows.values()) if (row.session.isActive && row.owner === owner) n++;
    return n;
  };

  /** Moves every open session of `from` to `to`; the caller fixes its own count. */
  function move(from: string, to: string): number {
    let n = 0;
    for (const row of rows.values()) {
      if (row.session.isActive && row.owner === from) {
        row.owner = to;
        n++;
      }
    }
    return n;
  }

  return {
    async init() {
      live();
    },
    async createSession(input) {
      live();
      const id = input.id === undefined ? randomUUID() : checkSessionId(input.id);
      const userId = checkUserId(input.userId);
      const modelId = checkModelId(input.modelId);
      if (rows.has(id)) throw new ChatboxError('CONFLICT', 'a session with this id already exists');
      const startedAt = now();
      const session: Mutable<SessionRecord> = {
        id,
        userId,
        name: null,
        modelId,
        isActive: true,
        startedAt,
        endedAt: null,
        endReason: null,
        adminAssisted: false,
        messageCount: 0,
        lastActivity: startedAt,
        tokens: 0,
        adminName: null,
        helpRequested: false,
      };
      rows.set(id, { session, owner: me, shareToken: null, messages: [] });
      open++;
      return { ...session };
    },
    async resumeSession(id) {
      live();
      const row = rows.get(id);
      if (row === undefined) return undefined;
      if (!row.session.isActive || row.owner !== me) {
        row.session.isActive = true;
        row.session.endedAt = null;
        row.session.endReason = null;
        row.owner = me;
        open++;
      }
      return snapshot(row);
    },
    async appendMessage(sessionId, input) {
      live();
      const message = checkMessage(input, maxContentBytes, now);
      const row = rows.get(sessionId);
      if (row === undefined) throw notFound();
      const record: MessageRecord = {
        sessionId,
        seq: row.messages.length + 1,
        sender: message.sender,
        content: message.content,
        createdAt: message.createdAt,
        metadata: message.metadata,
        inputTokens: message.inputTokens,
        outputTokens: message.outputTokens,
        responseMs: message.responseMs,
      };
      row.messages.push(record);
      const s = row.session;
      s.messageCount = row.messages.length;
      s.tokens += message.inputTokens + message.outputTokens;
      if (message.createdAt.getTime() > s.lastActivity.getTime()) s.lastActivity = message.createdAt;
      if (s.name === null && message.sender === 'user') s.name = nameFrom(message.content);
      return record;
    },
    async endSession(id, reason) {
      return (await endSessionOutcome(id, reason))?.record;
    },
    endSessionOutcome,
    async setModel(id, modelId) {
      live();
      checkModelId(modelId);
      rowOf(id).session.modelId = modelId;
    },
    async markAdminAssisted(id) {
      live();
      rowOf(id).session.adminAssisted = true;
    },
    async setAdmin(id, adminName) {
      live();
      const name = checkAdminName(adminName);
      const s = rowOf(id).session;
      s.adminName = name;
      if (name !== null) s.adminAssisted = true;
    },
    async markHelpRequested(id) {
      live();
      rowOf(id).session.helpRequested = true;
    },
    async shareSession(id) {
      live();
      const row = rowOf(id);
      if (row.shareToken === null) {
        row.shareToken = randomBytes(SHARE_TOKEN_BYTES).toString('base64url');
        shares.set(row.shareToken, id);
      }
      return row.shareToken;
    },
    async revokeShare(id) {
      live();
      const row = isSessionId(id) ? rows.get(id) : undefined;
      if (row === undefined || row.shareToken === null) return false;
      shares.delete(row.shareToken);
      row.shareToken = null;
      return true;
    },
    async findShared(token): Promise<SessionWithMessages | undefined> {
      live();
      if (!isShareToken(token)) return undefined;
      const id = shares.get(token);
      const row = id === undefined ? undefined : rows.get(id);
      return row === undefined ? undefined : { ...snapshot(row), messages: [...row.messages] };
    },
    async stats(range) {
      live();
      return memoryStats(rows.values(), checkRange(range));
    },
    async transferOpenSessions(toInstance) {
      live();
      const to = checkInstanceId(toInstance);
      if (to === me) return 0;
      const n = move(me, to);
      open = Math.max(0, open - n);
      return n;
    },
    async adoptOpenSessions(fromInstance) {
      live();
      const from = checkInstanceId(fromInstance);
      if (from === me) return 0;
      const n = move(from, me);
      open += n;
      return n;
    },
    async refreshOpenCount() {
      live();
      open = countOwned(me);
      return open;
    },
    async getSession(id): Promise<SessionWithMessages | undefined> {
      live();
      const row = rows.get(id);
      return row === undefined ? undefined : { ...snapshot(row), messages: [...row.messages] };
    },
    async findSession(id) {
      live();
      const row = rows.get(id);
      return row === undefined ? undefined : snapshot(row);
    },
    async listUserSessions(userId, limit) {
      live();
      // The id as stored: a lone surrogate is kept as U+FFFD, as the SQL stores keep it.
      const user = checkUserId(userId);
      const n = checkUserListLimit(limit);
      return memoryUserSessions(rows.values(), user, n);
    },
    async listSessions(filter): Promise<SessionPage> {
      live();
      return memoryListing(rows.values(), checkFilter(filter));
    },
    openSessionCount: () => open,
    async endAllOpen(reason) {
      live();
      checkReason(reason);
      let n = 0;
      for (const row of rows.values()) if (row.owner === me && endRow(row, reason)) n++;
      return n;
    },
    async close() {
      closed = true;
    },
  };
}
