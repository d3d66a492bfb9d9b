// A takeover holds the session from its first step, while its own store write (the admin's name)
// is still in flight: a user message taken in that window goes to the admin, so the admin's
// socket must already hear the session. And a takeover that fails leaves the admin's socket where
// it was.
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionStore } from '../../src/storage/index.js';
import type { SessionStore } from '../../src/storage/types.js';
import { fakeReplies } from '../support/fake-replies.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/until.js';

/** A memory store whose setAdmin calls wait until the test opens the gate. */
function gatedSetAdmin(base: SessionStore) {
  let open!: () => void;
  const gate = { reached: false, opened: new Promise<void>((r) => (open = r)) };
  const store = new Proxy(base, {
    get(target, key, receiver) {
      if (key !== 'setAdmin') return Reflect.get(target, key, receiver) as unknown;
      return async (id: string, name: string | null) => {
        gate.reached = true;
        await gate.opened;
        return target.setAdmin(id, name);
      };
    },
  });
  return { store, gate, open: () => open() };
}

describe('the admin socket of a takeover', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function start() {
    const replies = fakeReplies();
    let held: ReturnType<typeof gatedSetAdmin> | undefined;
    server = await startTestServer({
      replies: () => replies,
      store: async (bus) => {
        held = gatedSetAdmin(await createSessionStore({ kind: 'memory', instanceId: 'test', dataDir: '/nonexistent', bus }));
        return held.store;
      },
    });
    const s = server;
    const user = await s.connect(await s.token('alice'));
    await user.next((f) => f.type === 'connection_status');
    user.send({ type: 'user_message', content: 'hi' });
    await user.reply();
    const sessionId = user.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    const admin = await s.connect(await s.token('root', { admin: true, name: 'Ada' }));
    await admin.next((f) => f.type === 'connection_status');
    return { s, replies, user, admin, sessionId, gate: held! };
  }

  it("gets the user's message taken while the takeover's write is in flight", async () => {
    const { replies, user, admin, sessionId, gate } = await start();
    admin.send({ type: 'admin_join', session_id: sessionId });
    await until(() => gate.gate.reached);
    // The session is held already: this message is for the admin, not the AI.
    user.send({ type: 'user_message', content: 'is anyone there?' });
    const relayed = await admin.next((f) => f.type === 'user_message');
    expect(relayed.content).toBe('is anyone there?');
    gate.open();
    await user.next((f) => f.type === 'admin_join');
    const status = await admin.next((f) => f.type === 'connection_status' && f.session_id === sessionId);
    expect(status.model_id).toBe('fake-1');
    expect(replies.requests).toHaveLength(1);
  });

  it('that fails stays in the session it was in, and hears nothing of the other', async () => {
    const { user, admin, sessionId, gate } = await start();
    gate.open();
    admin.send({ type: 'admin_join', session_id: sessionId });
    await admin.next((f) => f.type === 'connection_status' && f.session_id === sessionId);
    const from = admin.frames.length;
    admin.send({ type: 'admin_join', session_id: '00000000-0000-4000-8000-000000000000' });
    const error = await admin.next((f) => f.type === 'error', { from });
    expect(error.error?.code).toBe('NOT_FOUND');

    // Still in the session it holds: the user's next message reaches it.
    user.send({ type: 'user_message', content: 'still here' });
    const relayed = await admin.next((f) => f.type === 'user_message', { from });
    expect(relayed.content).toBe('still here');
    expect(admin.frames.slice(from).filter((f) => f.type === 'connection_status')).toEqual([]);
  });
});
