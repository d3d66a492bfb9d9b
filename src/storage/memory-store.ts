// In-memory SessionStore for unit tests and benchmarks: the reference semantics the SQL store's
// contract suite is checked against. Nothing survives the process, so there is nothing to recover.
import { randomUUID } from 'node:crypto';
import type { SessionEndReason } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import { createCipher } from './cipher.js';
import type { EndOutcome, OutcomeStore, StoreOptions } from './options.js';
import type { MessageRecord, SessionPage, SessionRecord, SessionWithMessages } from './types.js';
import {
  DEFAULT_MAX_CONTENT_BYTES,
  checkFilter,
  checkMessage,
  checkModelId,
  checkReason,
  checkSessionId,
  checkUserId,
  checkUserListLimit,
  encodeCursor,
  nameFrom,
  newerFirst,
  notFound,
} from './validate.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Row {
  readonly session: Mutable<SessionRecord>;
  owner: string;
  readonly messages: MessageRecord[];
}

export function createMemoryStore(options: StoreOptions): OutcomeStore {
  // Validated for parity with the SQL stores (a bad key fails at start); content stays in memory.
  if (options.encryptionKey !== undefined) createCipher(options.encryptionKey);
  const me = options.instanceId;
  const now = options.now ?? (() => new Date());
  const maxContentBytes = options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const rows = new Map<string, Row>();
  let open = 0;
  let closed = false;

  const snapshot = (row: Row): SessionRecord => ({ ...row.session });
  const live = (): void => {
    if (closed) throw new ChatboxError('INTERNAL', 'session store is closed', true);
  };

  function endRow(row: Row, reason: SessionEndReason): boolean {
    if (!row.session.isActive) return false;
    row.session.isActive = false;
    row.session.endedAt = now();
    row.session.endReason = reason;
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
      const session: Mutable<SessionRecord> = {
        id,
        userId,
        name: null,
        modelId,
        isActive: true,
        startedAt: now(),
        endedAt: null,
        endReason: null,
        adminAssisted: false,
        messageCount: 0,
      };
      rows.set(id, { session, owner: me, messages: [] });
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
      const record: MessageRecord = { sessionId, seq: row.messages.length + 1, ...message };
      row.messages.push(record);
      row.session.messageCount = row.messages.length;
      if (row.session.name === null && message.sender === 'user') row.session.name = nameFrom(message.content);
      return record;
    },
    async endSession(id, reason) {
      return (await endSessionOutcome(id, reason))?.record;
    },
    endSessionOutcome,
    async setModel(id, modelId) {
      live();
      checkModelId(modelId);
      const row = rows.get(id);
      if (row === undefined) throw notFound();
      row.session.modelId = modelId;
    },
    async markAdminAssisted(id) {
      live();
      const row = rows.get(id);
      if (row === undefined) throw notFound();
      row.session.adminAssisted = true;
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
      checkUserId(userId);
      const n = checkUserListLimit(limit);
      return [...rows.values()]
        .filter((r) => r.session.userId === userId)
        .map(snapshot)
        .sort(newerFirst)
        .slice(0, n);
    },
    async listSessions(filter): Promise<SessionPage> {
      live();
      const f = checkFilter(filter);
      const matching = [...rows.values()]
        .map((r) => r.session)
        .filter(
          (s) =>
            (f.active === undefined || s.isActive === f.active) &&
            (f.userId === undefined || s.userId === f.userId) &&
            (f.adminAssisted === undefined || s.adminAssisted === f.adminAssisted) &&
            (f.from === undefined || s.startedAt.getTime() >= f.from.getTime()) &&
            (f.to === undefined || s.startedAt.getTime() < f.to.getTime()) &&
            (f.after === undefined || newerFirst(f.after, s) < 0),
        )
        .sort(newerFirst);
      const page = matching.slice(0, f.limit).map((s) => ({ ...s }));
      const last = page[page.length - 1];
      return { sessions: page, nextCursor: matching.length > f.limit && last !== undefined ? encodeCursor(last) : null };
    },
    openSessionCount: () => open,
    async endAllOpen(reason) {
      live();
      checkReason(reason);
      let n = 0;
      for (const row of rows.values()) if (row.owner === me && endRow(row, reason)) n++;
      return n;
    },
    async transferOpenSessions(toInstance) {
      live();
      let n = 0;
      for (const row of rows.values()) {
        if (!row.session.isActive || row.owner !== me || toInstance === me) continue;
        row.owner = toInstance;
        open--;
        n++;
      }
      return n;
    },
    async adoptOpenSessions(fromInstance) {
      live();
      let n = 0;
      for (const row of rows.values()) {
        if (!row.session.isActive || row.owner !== fromInstance || fromInstance === me) continue;
        row.owner = me;
        open++;
        n++;
      }
      return n;
    },
    async refreshOpenCount() {
      live();
      open = 0;
      for (const row of rows.values()) if (row.session.isActive && row.owner === me) open++;
      return open;
    },
    async close() {
      closed = true;
    },
  };
}
