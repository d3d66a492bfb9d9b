// Frames behind a slow call (here: a user message whose store write has not landed) wait in the
// socket's queue, but only a bounded number: past MAX_WAITING_FRAMES a frame is refused at once
// with RATE_LIMITED and its text is not kept, so a flood costs neither memory nor a late answer.
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageInput, SessionStore } from '../../src/storage/types.js';
import { createSessionStore } from '../../src/storage/index.js';
import { MAX_WAITING_FRAMES } from '../../src/ws/chat-socket.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A memory store whose append of the user message `held` waits until `release()`. */
function holdingStore(base: SessionStore, held: string): { store: SessionStore; release: () => void } {
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  const store = new Proxy(base, {
    get(target, key, receiver) {
      if (key !== 'appendMessage') return Reflect.get(target, key, receiver) as unknown;
      return async (sessionId: string, message: MessageInput) => {
        if (message.sender === 'user' && message.content === held) await opened;
        return target.appendMessage(sessionId, message);
      };
    },
  });
  return { store, release };
}

describe.each(['uws', 'ws'] as const)('a frame flood behind a slow write over %s', (transport) => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('refuses frames past the waiting bound at once, then serves the held message', async () => {
    let holding: ReturnType<typeof holdingStore> | undefined;
    server = await startTestServer({
      transport,
      env: { RATE_LIMIT_PER_MINUTE: '1000' },
      store: async (bus) => {
        holding = holdingStore(await createSessionStore({ kind: 'memory', instanceId: 'test', dataDir: '/nonexistent', bus }), 'hold on');
        return holding.store;
      },
    });
    const client = await server.connect(await server.token('flooder'));
    await client.next((f) => f.type === 'connection_status');
    const before = await server.metric('chatbox_ratelimit_blocked_total', { limiter: 'frames' });
    client.send({ type: 'user_message', content: 'hold on' });
    const flood = 200;
    for (let i = 0; i < flood; i++) client.send({ type: 'typing_indicator' });
    // Every frame past the bound is answered while the write is still held.
    // The held message itself is one of the waiting frames.
    const refusedAtOnce = flood - (MAX_WAITING_FRAMES - 1);
    const refused = () => client.frames.filter((f) => f.type === 'error' && f.error?.code === 'RATE_LIMITED').length;
    const deadline = Date.now() + 10_000;
    while (refused() < refusedAtOnce && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(refused()).toBe(refusedAtOnce);
    expect(client.frames.some((f) => f.type === 'loading' || f.type === 'ai_response')).toBe(false);
    expect((await server.metric('chatbox_ratelimit_blocked_total', { limiter: 'frames' })) - before).toBe(refusedAtOnce);
    // The held message is then stored and answered; the socket is still usable.
    (holding as NonNullable<typeof holding>).release();
    expect((await client.reply({ timeoutMs: 10_000 })).length).toBeGreaterThan(0);
    const stored = await server.store.listUserSessions('flooder');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.messageCount).toBe(2);
  });
});
