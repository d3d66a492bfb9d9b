// Instrumentation as a decorator: the store implementations know nothing about the bus. Every
// call is timed into `storageOperation`; `sessionCreated` / `sessionEnded` carry the store's own
// open count after the change and fire only for real transitions (ending an ended session, or a
// failed create, emits nothing).
import { performance } from 'node:perf_hooks';
import type { Bus } from '../events/bus.js';
import type { SessionEndReason, StorageOperation } from '../events/catalog.js';
import { hasOutcomes, type EndOutcome } from './options.js';
import type { SessionStore } from './types.js';

export function instrumentStore(store: SessionStore, bus: Bus): SessionStore {
  // Decided once: our stores report what endSession changed; any other store is asked first.
  const endOutcome: (id: string, reason: SessionEndReason) => Promise<EndOutcome | undefined> = hasOutcomes(store)
    ? (id, reason) => store.endSessionOutcome(id, reason)
    : async (id, reason) => {
        const before = await store.findSession(id);
        const record = await store.endSession(id, reason);
        return record === undefined ? undefined : { record, changed: before?.isActive === true && !record.isActive };
      };

  async function timed<T>(operation: StorageOperation, call: () => Promise<T>): Promise<T> {
    if (!bus.has('storageOperation')) return call();
    const start = performance.now();
    let ok = false;
    try {
      const result = await call();
      ok = true;
      return result;
    } finally {
      bus.emit('storageOperation', { operation, seconds: (performance.now() - start) / 1000, ok });
    }
  }

  const ended = (reason: SessionEndReason): void => {
    bus.emit('sessionEnded', { reason, open: store.openSessionCount() });
  };

  return {
    init: () => timed('migrate', () => store.init()),
    async createSession(input) {
      const record = await timed('create_session', () => store.createSession(input));
      bus.emit('sessionCreated', { open: store.openSessionCount() });
      return record;
    },
    // A resume reopens a session (a session-row write like a creation) but creates nothing: the
    // active gauge follows it through openSessionCount(), the created counter does not.
    resumeSession: (id) => timed('resume_session', () => store.resumeSession(id)),
    appendMessage: (id, message) => timed('append_message', () => store.appendMessage(id, message)),
    async endSession(id, reason) {
      const outcome = await timed('end_session', () => endOutcome(id, reason));
      if (outcome?.changed === true) ended(reason);
      return outcome?.record;
    },
    // No dedicated operation name exists for a model change; it is the same kind of one-row
    // session update as the admin flag.
    setModel: (id, modelId) => timed('set_model', () => store.setModel(id, modelId)),
    markAdminAssisted: (id) => timed('set_admin', () => store.markAdminAssisted(id)),
    setAdmin: (id, adminName) => timed('set_admin', () => store.setAdmin(id, adminName)),
    markHelpRequested: (id) => timed('set_admin', () => store.markHelpRequested(id)),
    shareSession: (id) => timed('share_session', () => store.shareSession(id)),
    revokeShare: (id) => timed('share_session', () => store.revokeShare(id)),
    findShared: (token) => timed('get_session', () => store.findShared(token)),
    stats: (range) => timed('stats', () => store.stats(range)),
    // Moves change this process's open count; the active-sessions gauge reads it at scrape time.
    transferOpenSessions: (to) => timed('move_sessions', () => store.transferOpenSessions(to)),
    adoptOpenSessions: (from) => timed('move_sessions', () => store.adoptOpenSessions(from)),
    refreshOpenCount: () => timed('count_open', () => store.refreshOpenCount()),
    getSession: (id) => timed('get_session', () => store.getSession(id)),
    findSession: (id) => timed('get_session', () => store.findSession(id)),
    listUserSessions: (userId, limit) => timed('list_sessions', () => store.listUserSessions(userId, limit)),
    listSessions: (filter) => timed('list_admin_sessions', () => store.listSessions(filter)),
    // Read at every scrape from memory: timing it would only measure the scrape.
    openSessionCount: () => store.openSessionCount(),
    async endAllOpen(reason) {
      const n = await timed('end_session', () => store.endAllOpen(reason));
      for (let i = 0; i < n; i++) ended(reason);
      return n;
    },
    close: () => store.close(),
  };
}
