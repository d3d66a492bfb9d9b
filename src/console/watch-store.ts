// A store decorator that reports which session a write changed, so admin consoles get the row
// pushed (src/console/console-hub.ts). Written out method by method, not a Proxy: it sits on the
// chat's hot path (two appends per turn), and a store method added later is a compile error here
// until someone decides whether it changes a session's row.
import type { SessionStore } from '../storage/types.js';

export function watchStore(store: SessionStore, changed: (sessionId: string) => void): SessionStore {
  const report = (id: string): void => {
    try {
      changed(id);
    } catch {
      // a console that cannot be told must not fail the chat's write
    }
  };
  /** `pending`, reporting `id` once it succeeded. */
  const after = <T>(id: string, pending: Promise<T>): Promise<T> =>
    pending.then((result) => {
      report(id);
      return result;
    });
  return {
    init: () => store.init(),
    createSession: (input) =>
      store.createSession(input).then((record) => {
        report(record.id);
        return record;
      }),
    resumeSession: (id) => after(id, store.resumeSession(id)),
    appendMessage: (id, message) => after(id, store.appendMessage(id, message)),
    endSession: (id, reason) => after(id, store.endSession(id, reason)),
    setModel: (id, modelId) => after(id, store.setModel(id, modelId)),
    markAdminAssisted: (id) => after(id, store.markAdminAssisted(id)),
    setAdmin: (id, adminName) => after(id, store.setAdmin(id, adminName)),
    markHelpRequested: (id) => after(id, store.markHelpRequested(id)),
    getSession: (id) => store.getSession(id),
    findSession: (id) => store.findSession(id),
    listUserSessions: (userId, limit) => store.listUserSessions(userId, limit),
    listSessions: (filter) => store.listSessions(filter),
    openSessionCount: () => store.openSessionCount(),
    endAllOpen: (reason) => store.endAllOpen(reason),
    shareSession: (id) => store.shareSession(id),
    revokeShare: (id) => store.revokeShare(id),
    findShared: (token) => store.findShared(token),
    stats: (range) => store.stats(range),
    transferOpenSessions: (to) => store.transferOpenSessions(to),
    adoptOpenSessions: (from) => store.adoptOpenSessions(from),
    refreshOpenCount: () => store.refreshOpenCount(),
    close: () => store.close(),
  };
}
