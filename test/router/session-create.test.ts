// A new session's row is written while its first message goes on: the provider is asked before
// the row lands, yet nothing reaches the user before it has, a row that cannot be written fails
// the message (and the next one creates the session again), and an id taken meanwhile is
// handled as it was when the row came first: the user's own ended session reopens, anyone
// else's is refused.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatboxError } from '../../src/errors.js';
import { createSessionStore } from '../../src/storage/index.js';
import type { SessionStore } from '../../src/storage/types.js';
import { fakeReplies } from '../support/fake-replies.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/until.js';
import type { TestClient } from '../support/ws-client.js';

/** A memory store whose first createSession waits for the test: released to write, or to fail. */
function gatedCreate(base: SessionStore) {
  let release!: (fail: boolean) => void;
  const gate = { reached: false, opened: new Promise<boolean>((r) => (release = r)) };
  const store = new Proxy(base, {
    get(target, key, receiver) {
      if (key !== 'createSession') return Reflect.get(target, key, receiver) as unknown;
      return async (input: Parameters<SessionStore['createSession']>[0]) => {
        if (!gate.reached) {
          gate.reached = true;
          if (await gate.opened) throw new ChatboxError('INTERNAL', 'the disk is full', true);
        }
        return target.createSession(input);
      };
    },
  });
  return { store, base, gate, release: (fail: boolean) => release(fail) };
}

const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));
const replyFrames = (c: TestClient, from = 0) => c.frames.slice(from).filter((f) => f.type === 'loading' || f.type === 'ai_response');

describe('a new session: its row written beside the first message', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function start(gated: boolean) {
    const replies = fakeReplies({ delayMs: 5 });
    let held: ReturnType<typeof gatedCreate> | undefined;
    server = await startTestServer({
      replies: () => replies,
      store: async (bus) => {
        const base = await createSessionStore({ kind: 'memory', instanceId: 'test', dataDir: '/nonexistent', bus });
        if (!gated) return base;
        held = gatedCreate(base);
        return held.store;
      },
    });
    const s = server;
    const sessionId = randomUUID();
    const open = async (userId: string): Promise<TestClient> => {
      const c = await s.connect(await s.token(userId), { sessionId });
      await c.next((f) => f.type === 'connection_status');
      return c;
    };
    return { s, replies, sessionId, open, held };
  }

  it('asks the provider before the row lands, sends nothing until it has, and other tabs join when it is there', async () => {
    const { s, replies, sessionId, open, held } = await start(true);
    const gate = held!;
    const tab = await open('alice');
    const other = await open('alice');
    tab.send({ type: 'user_message', content: 'hello' });
    await until(() => gate.gate.reached && replies.requests.length === 1);
    await settle();
    expect(await s.store.findSession(sessionId)).toBeUndefined();
    expect(replyFrames(tab)).toEqual([]);
    // The other tab hears of the session only once it exists.
    expect(other.frames.filter((f) => f.session_id === sessionId)).toEqual([]);

    gate.release(false);
    expect(await tab.reply()).toBe('You said: hello.');
    expect(await other.reply()).toBe('You said: hello.');
    expect(other.frames.find((f) => f.type === 'connection_status' && f.session_id === sessionId)).toBeDefined();
    const stored = await s.store.getSession(sessionId);
    expect(stored?.userId).toBe('alice');
    expect(stored?.messages.map((m) => [m.sender, m.content])).toEqual([
      ['user', 'hello'],
      ['ai', 'You said: hello.'],
    ]);
    expect(await s.metric('chatbox_active_sessions_total')).toBe(1);
  });

  it('a row that cannot be written fails the message, cancels its request, and the next message creates the session', async () => {
    const { s, replies, sessionId, open, held } = await start(true);
    const gate = held!;
    const tab = await open('alice');
    tab.send({ type: 'user_message', content: 'doomed' });
    await until(() => gate.gate.reached && replies.requests.length === 1);
    gate.release(true);
    const error = await tab.next((f) => f.type === 'error');
    expect(error.error?.code).toBe('INTERNAL');
    expect(replies.requests[0]?.signal.aborted).toBe(true);
    await settle();
    expect(replyFrames(tab)).toEqual([]);
    expect(await s.store.findSession(sessionId)).toBeUndefined();
    expect(await s.metric('chatbox_active_sessions_total')).toBe(0);

    const from = tab.frames.length;
    tab.send({ type: 'user_message', content: 'again' });
    expect(await tab.reply({ from })).toBe('You said: again.');
    expect(tab.frames.slice(from).find((f) => f.type === 'ai_response')?.session_id).toBe(sessionId);
    expect(replies.requests[1]?.messages.map((m) => m.content)).toEqual(['again']);
    const stored = await s.store.getSession(sessionId);
    expect(stored?.messages.map((m) => m.content)).toEqual(['again', 'You said: again.']);
  });

  it('a takeover while the row is on its way waits for it: the session is held by the admin and the AI does not answer', async () => {
    const { s, replies, sessionId, open, held } = await start(true);
    const gate = held!;
    const tab = await open('alice');
    tab.send({ type: 'user_message', content: 'a person, please' });
    await until(() => gate.gate.reached && replies.requests.length === 1);
    const admin = await s.connect(await s.token('root', { admin: true, name: 'Ada' }));
    await admin.next((f) => f.type === 'connection_status');
    admin.send({ type: 'admin_join', session_id: sessionId });
    await settle();
    gate.release(false);

    await tab.next((f) => f.type === 'admin_join');
    await settle();
    expect(replyFrames(tab)).toEqual([]);
    expect(replies.requests[0]?.signal.aborted).toBe(true);
    const stored = await s.store.getSession(sessionId);
    expect(stored?.adminName).toBe('Ada');
    expect(stored?.messages.map((m) => [m.sender, m.content])).toEqual([['user', 'a person, please']]);
  });

  // The id can be found taken before the message reaches the owner (a store that answers at
  // once) or while the message waits for the row (a slow one, gated here): both paths.
  const paths = [
    ['before the message reaches the owner', false],
    ['while the message waits for the row', true],
  ] as const;

  it.each(paths)("an id the user's own ended session took meanwhile (%s): reopened with its history, answered once, and other tabs join", async (_, gated) => {
    const { s, replies, sessionId, open, held } = await start(gated);
    const tab = await open('alice');
    const other = await open('alice');
    // Created, used and ended by another of alice's devices after these sockets looked the id up
    // (past the gate, which holds the server's own create).
    await (held?.base ?? s.store).createSession({ id: sessionId, userId: 'alice', modelId: 'fake-1' });
    await s.store.appendMessage(sessionId, { sender: 'user', content: 'earlier' });
    await s.store.appendMessage(sessionId, { sender: 'ai', content: 'an answer' });
    await s.store.endSession(sessionId, 'user');

    tab.send({ type: 'user_message', content: 'back again' });
    if (held !== undefined) {
      await until(() => held.gate.reached && replies.requests.length === 1);
      held.release(false);
    }
    expect(await tab.reply()).toBe('You said: back again.');
    expect(await other.reply()).toBe('You said: back again.');
    await settle();
    expect(replyFrames(tab).filter((f) => f.type === 'loading')).toHaveLength(1);
    expect(replyFrames(tab).filter((f) => f.metadata?.['done'] === 'true')).toHaveLength(1);
    // A request made for a new session was cancelled; the one answered carries the history.
    expect(replies.requests).toHaveLength(gated ? 2 : 1);
    if (gated) expect(replies.requests[0]?.signal.aborted).toBe(true);
    expect(replies.requests.at(-1)?.messages.map((m) => m.content)).toEqual(['earlier', 'an answer', 'back again']);
    const stored = await s.store.getSession(sessionId);
    expect(stored?.isActive).toBe(true);
    expect(stored?.messages.map((m) => m.content)).toEqual(['earlier', 'an answer', 'back again', 'You said: back again.']);
  });

  it.each(paths)("an id someone else's session took meanwhile (%s): FORBIDDEN, nothing of it reaches the socket, which stays out of it", async (_, gated) => {
    const { s, replies, sessionId, open, held } = await start(gated);
    const tab = await open('alice');
    await (held?.base ?? s.store).createSession({ id: sessionId, userId: 'mallory', modelId: 'fake-1' });
    await s.store.endSession(sessionId, 'user');

    for (const content of ['mine?', 'and now?']) {
      const from = tab.frames.length;
      tab.send({ type: 'user_message', content });
      if (held !== undefined && !held.gate.reached) {
        await until(() => held.gate.reached && replies.requests.length === 1);
        held.release(false);
      }
      const error = await tab.next((f) => f.type === 'error', { from });
      expect(error.error?.code).toBe('FORBIDDEN');
    }
    await settle();
    expect(replyFrames(tab)).toEqual([]);
    for (const r of replies.requests) expect(r.signal.aborted).toBe(true);
    const stored = await s.store.getSession(sessionId);
    expect(stored?.userId).toBe('mallory');
    expect(stored?.messages).toEqual([]);
    expect(stored?.isActive).toBe(false);
  });
});
