// The reply is started while the user's message is still being written: the store's latency
// hides inside the provider's time to first token, yet nothing reaches the user before the
// message is stored, and a message that cannot be stored gets no reply at all.
import { afterEach, describe, expect, it } from 'vitest';
import { ChatboxError } from '../../src/errors.js';
import type { Bus } from '../../src/events/bus.js';
import { attachRecorder } from '../../src/events/recorder.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import { createSessionStore } from '../../src/storage/index.js';
import type { ReplyRequest, ReplySource } from '../../src/llm/types.js';
import type { MessageInput, SessionStore } from '../../src/storage/types.js';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server.js';
import { fakeConfig } from '../support/fake-llm/harness.js';
import { fakeReplies } from '../support/fake-replies.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { until } from '../support/until.js';

/** A memory store whose user-message appends wait for the test to release them. */
function gatedStore(base: SessionStore): { store: SessionStore; held: (content: string) => Gate } {
  const gates = new Map<string, Gate>();
  const held = (content: string): Gate => {
    let gate = gates.get(content);
    if (gate === undefined) {
      let release!: (fail: boolean) => void;
      const opened = new Promise<boolean>((r) => (release = r));
      gate = { opened, release, reached: false };
      gates.set(content, gate);
    }
    return gate;
  };
  const store = new Proxy(base, {
    get(target, key, receiver) {
      if (key !== 'appendMessage') return Reflect.get(target, key, receiver) as unknown;
      return async (sessionId: string, message: MessageInput) => {
        const gate = message.sender === 'user' ? gates.get(message.content) : undefined;
        if (gate !== undefined) {
          gate.reached = true;
          if (await gate.opened) throw new ChatboxError('INTERNAL', 'the disk is full', true);
        }
        return target.appendMessage(sessionId, message);
      };
    },
  });
  return { store, held };
}

interface Gate {
  readonly opened: Promise<boolean>;
  release(fail: boolean): void;
  reached: boolean;
}

describe('reply started beside the user message write', () => {
  let server: TestServer | undefined;
  let fake: FakeLlmServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await fake?.close();
    fake = undefined;
  });

  /** A test server over a gated memory store, and one connected user. */
  async function startGated(replies: (bus: Bus) => ReplySource, userId = 'alice') {
    let gated: ReturnType<typeof gatedStore> | undefined;
    server = await startTestServer({
      replies,
      store: async (bus) => {
        gated = gatedStore(await createSessionStore({ kind: 'memory', instanceId: 'test', dataDir: '/nonexistent', bus }));
        return gated.store;
      },
    });
    const s = server;
    const client = await s.connect(await s.token(userId));
    await client.next((f) => f.type === 'connection_status');
    return { s, client, held: (gated as NonNullable<typeof gated>).held };
  }

  async function start() {
    const replies = fakeReplies({ delayMs: 5 });
    return { ...(await startGated(() => replies)), replies };
  }

  it('asks the provider while the write is in flight, and sends nothing before it lands', async () => {
    const { s, client, replies, held } = await start();
    const gate = held('slow write');
    client.send({ type: 'user_message', content: 'slow write' });
    await until(() => gate.reached && replies.requests.length === 1);
    // The provider has the request (and has answered by now); the user has seen nothing of it.
    await new Promise((r) => setTimeout(r, 100));
    expect(client.frames.filter((f) => f.type === 'loading' || f.type === 'ai_response')).toEqual([]);
    expect(replies.requests[0]?.messages.at(-1)).toEqual({ role: 'user', content: 'slow write' });

    gate.release(false);
    const from = client.frames.length;
    await client.next((f) => f.type === 'loading', { from: 0 });
    expect(await client.reply({ from })).toBe('You said: slow write.');
    const sessionId = client.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    const stored = await s.store.getSession(sessionId);
    expect(stored?.messages.map((m) => [m.sender, m.content])).toEqual([
      ['user', 'slow write'],
      ['ai', 'You said: slow write.'],
    ]);
  });

  it('cancels the request and sends no reply when the message cannot be stored', async () => {
    const { s, client, replies, held } = await start();
    client.send({ type: 'user_message', content: 'first' });
    await client.reply();
    const gate = held('doomed');
    client.send({ type: 'user_message', content: 'doomed' });
    await until(() => gate.reached && replies.requests.length === 2);
    const from = client.frames.length;
    gate.release(true);

    const error = await client.next((f) => f.type === 'error', { from });
    expect(error.error?.code).toBe('INTERNAL');
    expect(replies.requests[1]?.signal.aborted).toBe(true);
    // Give a wrongly sent reply time to show up.
    await new Promise((r) => setTimeout(r, 100));
    expect(client.frames.slice(from).filter((f) => f.type === 'loading' || f.type === 'ai_response')).toEqual([]);

    // The lost message is not part of the conversation the next request carries.
    client.send({ type: 'user_message', content: 'again' });
    expect(await client.reply({ from: client.frames.length })).toBe('You said: again.');
    expect(replies.requests[2]?.messages.map((m) => m.content)).toEqual(['first', 'You said: first.', 'again']);
    const sessionId = error.session_id ?? (client.frames.find((f) => f.session_id !== undefined)?.session_id as string);
    const stored = await s.store.getSession(sessionId);
    expect(stored?.messages.map((m) => m.content)).toEqual(['first', 'You said: first.', 'again', 'You said: again.']);
    expect(await s.metric('chatbox_message_errors_total')).toBe(1);
  });

  it.each([
    ['after the provider sent the whole reply', 0],
    ['while the provider is still streaming', 300],
  ])('a takeover while the write is in flight ends the reply cleanly, %s (real OpenAI adapter)', async (_, chunkMs) => {
    // The reply source has handed over its first chunk and waits at a yield when the takeover
    // aborts it. It must settle, not hang.
    fake = await startFakeLlmServer({ chunks: ['one', ' two', ' three'], realistic: { firstTokenMs: 0, chunkMs } });
    const llm = fake;
    let recorder: ReturnType<typeof attachRecorder> | undefined;
    const { s, client: user, held } = await startGated((bus) => {
      recorder = attachRecorder(bus, { only: ['llmRequested', 'llmResponded', 'llmCancelled', 'llmFailed'] });
      return createReplySource({ config: fakeConfig(llm), bus });
    }, 'bob');
    const gate = held('held write');
    user.send({ type: 'user_message', content: 'held write' });
    const sessionId = (await user.next((f) => f.type === 'connection_status' && f.session_id !== undefined)).session_id as string;
    await until(() => gate.reached && (chunkMs === 0 ? llm.delivered().responses === 1 : llm.requests()[0]?.firstChunkAt !== undefined));
    await new Promise((r) => setTimeout(r, 50));

    const admin = await s.connect(await s.token('root', { admin: true }));
    await admin.next((f) => f.type === 'connection_status');
    admin.send({ type: 'admin_join', session_id: sessionId });
    const joinedAt = user.frames.length;
    await user.next((f) => f.type === 'admin_join');
    gate.release(false);

    const events = (recorder as NonNullable<typeof recorder>).events;
    await until(() => events.some((e) => e.type === 'llmCancelled'));
    expect(events.map((e) => e.type)).toEqual(['llmRequested', 'llmCancelled']);
    expect(events[1]?.payload).toMatchObject({ cause: 'takeover' });
    // The admin joined before the reply began: the user sees none of it.
    await new Promise((r) => setTimeout(r, 100));
    expect(user.frames.slice(joinedAt).filter((f) => f.type === 'loading' || f.type === 'ai_response')).toEqual([]);

    // The session is not stuck: after the handback the next message is answered.
    admin.send({ type: 'admin_leave', session_id: sessionId });
    await user.next((f) => f.type === 'admin_leave');
    const from = user.frames.length;
    user.send({ type: 'user_message', content: 'and now?' });
    expect(await user.reply({ from })).toBe('one two three');
    expect(await s.metric('chatbox_llm_requests_total', { provider: 'openai' })).toBe(2);
  });

  it('a provider stream that ignores its abort cannot hold the session after a takeover', async () => {
    const requests: ReplyRequest[] = [];
    const deaf: ReplySource = {
      ...fakeReplies(),
      async *stream(req) {
        requests.push(req);
        if (requests.length > 1) {
          yield { type: 'text', text: 'fresh' };
          yield { type: 'done', usage: { inputTokens: 1, outputTokens: 1 } };
          return;
        }
        yield { type: 'text', text: 'partial' };
        await new Promise(() => {}); // never ends, whatever the signal says
      },
    };
    server = await startTestServer({ replies: () => deaf });
    const s = server;
    const user = await s.connect(await s.token('carol'));
    await user.next((f) => f.type === 'connection_status');
    user.send({ type: 'user_message', content: 'hello' });
    const partial = await user.next((f) => f.type === 'ai_response');
    const sessionId = partial.session_id as string;

    const admin = await s.connect(await s.token('root', { admin: true }));
    await admin.next((f) => f.type === 'connection_status');
    admin.send({ type: 'admin_join', session_id: sessionId });
    const last = await user.next((f) => f.type === 'ai_response' && f.metadata?.['done'] === 'true');
    expect(last.metadata?.['cancelled']).toBe('takeover');
    expect(requests[0]?.signal.aborted).toBe(true);

    admin.send({ type: 'admin_leave', session_id: sessionId });
    await user.next((f) => f.type === 'admin_leave');
    const from = user.frames.length;
    user.send({ type: 'user_message', content: 'still there?' });
    expect(await user.reply({ from })).toBe('fresh');
    const stored = await s.store.getSession(sessionId);
    expect(stored?.messages.map((m) => [m.sender, m.content])).toEqual([
      ['user', 'hello'],
      ['ai', 'partial'],
      ['user', 'still there?'],
      ['ai', 'fresh'],
    ]);
  });
});
