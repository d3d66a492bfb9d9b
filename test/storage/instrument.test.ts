// The instrumentation decorator and the factory: timing of every call, and session events
// only for real transitions, carrying the store's own open count.
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachRecorder } from '../../src/events/recorder.js';
import { ChatboxError } from '../../src/errors.js';
import { createSessionStore } from '../../src/storage/index.js';
import { instrumentStore } from '../../src/storage/instrument.js';
import { createMemoryStore } from '../../src/storage/memory-store.js';
import type { SessionStore } from '../../src/storage/types.js';

function setup(hideOutcomes = false) {
  const bus = createBus();
  const recorder = attachRecorder(bus);
  const inner = createMemoryStore({ instanceId: 'i' });
  // A store without endSessionOutcome exercises the decorator's fallback path.
  const base: SessionStore = hideOutcomes ? { ...inner, endSessionOutcome: undefined } as unknown as SessionStore : inner;
  return { bus, recorder, store: instrumentStore(base, bus) };
}

describe.each([false, true])('instrumentStore (store hides outcomes: %s)', (hide) => {
  it('emits sessionCreated / sessionEnded with the open count after the change', async () => {
    const { recorder, store } = setup(hide);
    const a = await store.createSession({ userId: 'u', modelId: 'm' });
    await store.createSession({ userId: 'u', modelId: 'm' });
    expect(recorder.of('sessionCreated')).toEqual([{ open: 1 }, { open: 2 }]);
    await store.endSession(a.id, 'idle');
    await store.endSession(a.id, 'user');
    await store.endSession('unknown', 'user');
    expect(recorder.of('sessionEnded')).toEqual([{ reason: 'idle', open: 1 }]);
    await store.resumeSession(a.id);
    expect(recorder.count('sessionCreated')).toBe(2);
    expect(store.openSessionCount()).toBe(2);
    expect(await store.endAllOpen('shutdown')).toBe(2);
    expect(recorder.of('sessionEnded').slice(1)).toEqual([
      { reason: 'shutdown', open: 0 },
      { reason: 'shutdown', open: 0 },
    ]);
  });

  it('times every call into storageOperation, ok false on failure, and emits nothing for a failed create', async () => {
    const { recorder, store } = setup(hide);
    await store.init();
    const s = await store.createSession({ id: 'dup', userId: 'u', modelId: 'm' });
    await expect(store.createSession({ id: 'dup', userId: 'u', modelId: 'm' })).rejects.toBeInstanceOf(ChatboxError);
    await store.appendMessage(s.id, { sender: 'user', content: 'x' });
    await store.getSession(s.id);
    await store.listUserSessions('u');
    await store.listSessions({});
    await store.markAdminAssisted(s.id);
    await expect(store.appendMessage('missing', { sender: 'user', content: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const ops = recorder.of('storageOperation').map((e) => [e.operation, e.ok]);
    expect(ops).toEqual([
      ['migrate', true],
      ['create_session', true],
      ['create_session', false],
      ['append_message', true],
      ['get_session', true],
      ['list_sessions', true],
      ['list_admin_sessions', true],
      ['set_admin', true],
      ['append_message', false],
    ]);
    for (const e of recorder.of('storageOperation')) expect(e.seconds).toBeGreaterThanOrEqual(0);
    expect(recorder.count('sessionCreated')).toBe(1);
  });

  it('times the store additions under their operations', async () => {
    const { recorder, store } = setup(hide);
    const s = await store.createSession({ userId: 'u', modelId: 'm' });
    await store.setAdmin(s.id, 'Ann');
    await store.markHelpRequested(s.id);
    const token = await store.shareSession(s.id);
    await store.findShared(token);
    await store.revokeShare(s.id);
    await store.stats({ from: new Date(0), to: new Date() });
    await store.transferOpenSessions('other');
    await store.adoptOpenSessions('other');
    await store.refreshOpenCount();
    expect(recorder.of('storageOperation').map((e) => e.operation)).toEqual([
      'create_session',
      'set_admin',
      'set_admin',
      'share_session',
      'get_session',
      'share_session',
      'stats',
      'move_sessions',
      'move_sessions',
      'count_open',
    ]);
    expect(store.openSessionCount()).toBe(1);
  });
});

describe('createSessionStore', () => {
  it('returns an instrumented memory store when asked', async () => {
    const bus = createBus();
    const recorder = attachRecorder(bus);
    const store = await createSessionStore({ kind: 'memory', instanceId: 'i', bus });
    await store.init();
    await store.createSession({ userId: 'u', modelId: 'm' });
    expect(recorder.of('sessionCreated')).toEqual([{ open: 1 }]);
    expect(recorder.count('storageOperation')).toBe(2);
    await store.close();
  });

  it('refuses the postgres kind without DATABASE_URL', async () => {
    await expect(createSessionStore({ kind: 'postgres', instanceId: 'i', bus: createBus() })).rejects.toMatchObject({
      code: 'CHATBOX_ERR_CONFIG',
    });
  });
});
