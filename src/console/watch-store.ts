// A store decorator that reports which session a write changed, so admin consoles get the row
// pushed (src/console/console-hub.ts). A Proxy, so methods the store gains later pass through.
import type { SessionStore } from '../storage/types.js';

/** Writes whose first argument is the session id. */
const BY_ID: ReadonlySet<string> = new Set([
  'resumeSession',
  'appendMessage',
  'endSession',
  'setModel',
  'markAdminAssisted',
  'setAdmin',
  'markHelpRequested',
]);

export function watchStore(store: SessionStore, changed: (sessionId: string) => void): SessionStore {
  const wrapped = new Map<PropertyKey, unknown>();
  const report = (id: unknown): void => {
    if (typeof id !== 'string') return;
    try {
      changed(id);
    } catch {
      // a console that cannot be told must not fail the chat's write
    }
  };
  return new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      const cached = wrapped.get(key);
      if (cached !== undefined) return cached;
      const fn = value as (...args: unknown[]) => unknown;
      let out: unknown;
      if (key === 'createSession') {
        out = async (...args: unknown[]) => {
          const record = (await fn.apply(target, args)) as { id: string };
          report(record.id);
          return record;
        };
      } else if (typeof key === 'string' && BY_ID.has(key)) {
        out = async (...args: unknown[]) => {
          const result = await fn.apply(target, args);
          report(args[0]);
          return result;
        };
      } else {
        out = fn.bind(target);
      }
      wrapped.set(key, out);
      return out;
    },
  });
}
