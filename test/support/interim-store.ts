// INTERIM: a minimal in-memory SessionStore so the chat tests can run before src/storage lands.
// Replaced by src/storage's memory store; delete this file then.
import type { Bus } from '../../src/events/bus.js';
import { ChatboxError } from '../../src/errors.js';
import type { SessionEndReason } from '../../src/events/catalog.js';
import type { MessageRecord, SessionRecord, SessionStore, SessionWithMessages } from '../../src/storage/types.js';

interface Row {
  s: { -readonly [K in keyof SessionRecord]: SessionRecord[K] };
  messages: MessageRecord[];
}

export function interimStore(bus: Bus): SessionStore {
  const rows = new Map<string, Row>();
  let open = 0;
  const snap = (r: Row): SessionRecord => ({ ...r.s, messageCount: r.messages.length });
  return {
    async init() {},
    async createSession({ id = crypto.randomUUID(), userId, modelId }) {
      if (rows.has(id)) throw new ChatboxError('CONFLICT', 'session exists');
      const s = { id, userId, name: null, modelId, isActive: true, startedAt: new Date(), endedAt: null, endReason: null, adminAssisted: false, messageCount: 0 };
      rows.set(id, { s, messages: [] });
      open++;
      bus.emit('sessionCreated', { open });
      return { ...s };
    },
    async resumeSession(id) {
      const r = rows.get(id);
      if (r === undefined) return undefined;
      if (!r.s.isActive) {
        r.s.isActive = true;
        r.s.endedAt = null;
        r.s.endReason = null;
        open++;
      }
      return snap(r);
    },
    async appendMessage(sessionId, m) {
      const r = rows.get(sessionId);
      if (r === undefined) throw new ChatboxError('NOT_FOUND', 'session not found');
      const rec: MessageRecord = {
        sessionId,
        seq: r.messages.length + 1,
        sender: m.sender,
        content: m.content,
        createdAt: m.createdAt ?? new Date(),
        metadata: m.metadata ?? {},
        inputTokens: m.inputTokens ?? 0,
        outputTokens: m.outputTokens ?? 0,
      };
      r.messages.push(rec);
      if (r.s.name === null && m.sender === 'user') r.s.name = m.content.slice(0, 80);
      return rec;
    },
    async endSession(id, reason: SessionEndReason) {
      const r = rows.get(id);
      if (r === undefined) return undefined;
      if (r.s.isActive) {
        r.s.isActive = false;
        r.s.endedAt = new Date();
        r.s.endReason = reason;
        open--;
        bus.emit('sessionEnded', { reason, open });
      }
      return snap(r);
    },
    async setModel(id, modelId) {
      const r = rows.get(id);
      if (r) r.s.modelId = modelId;
    },
    async markAdminAssisted(id) {
      const r = rows.get(id);
      if (r) r.s.adminAssisted = true;
    },
    async getSession(id): Promise<SessionWithMessages | undefined> {
      const r = rows.get(id);
      return r === undefined ? undefined : { ...snap(r), messages: [...r.messages] };
    },
    async findSession(id) {
      const r = rows.get(id);
      return r === undefined ? undefined : snap(r);
    },
    async listUserSessions(userId) {
      return [...rows.values()].filter((r) => r.s.userId === userId).map(snap).reverse();
    },
    async listSessions() {
      return { sessions: [...rows.values()].map(snap), nextCursor: null };
    },
    openSessionCount: () => open,
    async endAllOpen(reason) {
      let n = 0;
      for (const r of rows.values()) if (r.s.isActive) {
        await this.endSession(r.s.id, reason);
        n++;
      }
      return n;
    },
    async close() {},
  };
}
