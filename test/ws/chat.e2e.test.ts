// End to end over both transports: real server on 127.0.0.1, `ws` clients, and after every
// scenario /metrics shows exactly the counts the scenario implies.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeReplies } from '../support/fake-replies.js';
import { eventually, startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';
import type { TestClient } from '../support/ws-client.js';

const TRANSPORTS = ['uws', 'ws'] as const;

describe.each(TRANSPORTS)('chat over %s', (transport) => {
  let server: TestServer | undefined;
  const clients: TestClient[] = [];
  let sentByClients = 0;

  async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
    server = await startTestServer({ transport, ...options });
    return server;
  }
  async function connect(token: string, sessionId?: string): Promise<TestClient> {
    const c = await (server as TestServer).connect(token, sessionId === undefined ? {} : { sessionId });
    clients.push(c);
    const send = c.send.bind(c);
    const sendRaw = c.sendRaw.bind(c);
    c.send = (f) => {
      sentByClients++;
      send(f);
    };
    c.sendRaw = (d) => {
      sentByClients++;
      sendRaw(d);
    };
    return c;
  }
  /** The frame counters must equal what the clients themselves saw. */
  async function expectExactCounts(s: TestServer, extra: { errors?: number } = {}): Promise<void> {
    await eventually(async () => {
      const x = await s.scrape();
      const received = clients.reduce((n, c) => n + c.frames.length, 0);
      const errorFrames = clients.reduce((n, c) => n + c.frames.filter((f) => f.type === 'error').length, 0);
      expect(x.value('chatbox_messages_received_total')).toBe(sentByClients);
      expect(x.value('chatbox_messages_sent_total')).toBe(received);
      expect(x.value('chatbox_message_errors_total')).toBe(errorFrames + (extra.errors ?? 0));
      expect(x.value('chatbox_websocket_connections_total')).toBe(s.app.connections.size);
      expect(x.value('chatbox_active_sessions_total')).toBe(s.store.openSessionCount());
    });
  }

  afterEach(async () => {
    for (const c of clients) c.terminate();
    clients.length = 0;
    sentByClients = 0;
    await server?.stop();
    server = undefined;
  });

  it('holds a scripted conversation: status, loading, streamed reply with done', async () => {
    const s = await start();
    const alice = await connect(await s.token('alice', { name: 'Alice' }));
    const hello = await alice.next((f) => f.type === 'connection_status');
    expect(hello.user_id).toBe('alice');
    expect(hello.models?.map((m) => m.id)).toEqual(['fake-1', 'fake-2']);
    expect(hello.model_id).toBe('fake-1');
    expect(hello.session_id).toBeUndefined();

    alice.send({ type: 'user_message', content: 'hello there', sender: 'ai', timestamp: '1999-01-01T00:00:00Z' });
    const status = await alice.next((f) => f.type === 'connection_status' && f.session_id !== undefined);
    const sessionId = status.session_id as string;
    await alice.next((f) => f.type === 'loading');
    expect(await alice.reply()).toBe('You said: hello there.');
    const chunks = alice.frames.filter((f) => f.type === 'ai_response');
    expect(chunks.every((f) => f.session_id === sessionId && f.metadata?.['streaming'] === 'true')).toBe(true);
    expect(chunks.slice(0, -1).every((f) => f.metadata?.['done'] === 'false')).toBe(true);

    const stored = await s.store.getSession(sessionId);
    expect(stored?.userId).toBe('alice');
    expect(stored?.name).toBe('hello there');
    expect(stored?.messages.map((m) => [m.sender, m.content])).toEqual([
      ['user', 'hello there'],
      ['ai', 'You said: hello there.'],
    ]);
    expect(await s.metric('chatbox_sessions_created_total')).toBe(1);
    expect(await s.metric('chatbox_active_sessions_total')).toBe(1);
    expect(await s.metric('chatbox_websocket_connections_total')).toBe(1);
    await expectExactCounts(s);
  });

  it('resumes a session by session_id with its history', async () => {
    const replies = fakeReplies();
    const s = await start({ replies: () => replies });
    const token = await s.token('bob');
    const first = await connect(token);
    first.send({ type: 'user_message', content: 'remember 42' });
    await first.reply();
    const sessionId = first.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    await first.close();

    const second = await connect(token, sessionId);
    const status = await second.next((f) => f.type === 'connection_status');
    expect(status.session_id).toBe(sessionId);
    second.send({ type: 'user_message', content: 'what number?' });
    await second.reply();
    expect(replies.requests[1]?.messages.map((m) => m.content)).toEqual(['remember 42', 'You said: remember 42.', 'what number?']);
    expect(await s.metric('chatbox_sessions_created_total')).toBe(1);
    await eventually(async () => expect(await s.metric('chatbox_websocket_connections_total')).toBe(1));
    await expectExactCounts(s);
  });

  it('fans a session out to every socket of the user', async () => {
    const s = await start();
    const token = await s.token('carol');
    const sessionId = randomUUID();
    const tab1 = await connect(token, sessionId);
    const tab2 = await connect(token, sessionId);
    await tab2.next((f) => f.type === 'connection_status');
    tab1.send({ type: 'user_message', content: 'two tabs' });
    expect(await tab1.reply()).toBe('You said: two tabs.');
    expect(await tab2.reply()).toBe('You said: two tabs.');
    expect((await tab2.next((f) => f.type === 'loading')).session_id).toBe(sessionId);
    expect(await s.metric('chatbox_websocket_connections_total')).toBe(2);
    await expectExactCounts(s);
  });

  it('lets an admin take over (stopping the AI mid-stream) and hand back', async () => {
    const s = await start({
      replies: () => fakeReplies({ delayMs: 30, chunks: (req) => (req.messages.length === 1 ? Array(40).fill('x') : ['back']) }),
    });
    const user = await connect(await s.token('dave', { name: 'Dave' }));
    user.send({ type: 'user_message', content: 'a long answer please' });
    const first = await user.next((f) => f.type === 'ai_response');
    const sessionId = first.session_id as string;

    const admin = await connect(await s.token('root', { admin: true, name: 'Rita Root' }));
    await admin.next((f) => f.type === 'connection_status');
    admin.send({ type: 'admin_join', session_id: sessionId });
    const joined = await user.next((f) => f.type === 'admin_join');
    expect(joined.metadata?.['admin_name']).toBe('Rita Root');
    const cancelled = await user.next((f) => f.type === 'ai_response' && f.metadata?.['done'] === 'true');
    expect(cancelled.metadata?.['cancelled']).toBe('takeover');
    const aiChunks = user.frames.filter((f) => f.type === 'ai_response' && f.sender === 'ai').length;
    expect(aiChunks).toBeLessThan(40);

    const mark = user.frames.length;
    user.send({ type: 'user_message', content: 'is a human there?' });
    const forwarded = await admin.next((f) => f.type === 'user_message');
    expect(forwarded.content).toBe('is a human there?');
    expect(forwarded.sender).toBe('user');
    admin.send({ type: 'user_message', content: 'yes, Rita here', session_id: sessionId });
    const fromAdmin = await user.next((f) => f.sender === 'admin' && f.type === 'ai_response', { from: mark });
    expect(fromAdmin.content).toBe('yes, Rita here');
    expect(fromAdmin.metadata?.['admin_name']).toBe('Rita Root');
    expect(user.frames.slice(mark).some((f) => f.type === 'loading')).toBe(false);

    admin.send({ type: 'admin_leave', session_id: sessionId });
    await user.next((f) => f.type === 'admin_leave');
    const mark2 = user.frames.length;
    user.send({ type: 'user_message', content: 'bot again?' });
    expect(await user.reply({ from: mark2 })).toBe('back');

    expect(await s.metric('chatbox_admin_takeovers_total')).toBe(1);
    expect(await s.metric('chatbox_admin_handbacks_total')).toBe(1);
    const stored = await s.store.getSession(sessionId);
    expect(stored?.adminAssisted).toBe(true);
    expect(stored?.messages.map((m) => m.sender)).toEqual(['user', 'ai', 'user', 'admin', 'user', 'ai']);
    expect(stored?.messages[1]?.metadata['cut']).toBe('true');
    await expectExactCounts(s);
  });

  it('takes over and hands back over REST; non-admins are refused everywhere', async () => {
    const s = await start();
    const user = await connect(await s.token('erin'));
    user.send({ type: 'user_message', content: 'hi' });
    await user.reply();
    const sessionId = user.frames.find((f) => f.session_id !== undefined)?.session_id as string;

    user.send({ type: 'admin_join', session_id: sessionId });
    const refused = await user.next((f) => f.type === 'error');
    expect(refused.error?.code).toBe('FORBIDDEN');

    const post = (path: string, token: string) =>
      fetch(`${s.app.url}/chatbox${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const asUser = await post(`/admin/takeover/${sessionId}`, await s.token('erin'));
    expect(asUser.status).toBe(403);
    expect(((await asUser.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    const adminToken = await s.token('boss', { admin: true, name: 'Boss' });
    expect((await post('/admin/takeover/nope', adminToken)).status).toBe(404);
    const ok = await post(`/admin/takeover/${sessionId}`, adminToken);
    expect(ok.status).toBe(200);
    expect((await user.next((f) => f.type === 'admin_join')).metadata?.['admin_name']).toBe('Boss');
    expect((await post(`/admin/handback/${sessionId}`, adminToken)).status).toBe(200);
    await user.next((f) => f.type === 'admin_leave');
    // Idempotent (protocol.md "More endpoints"): a repeat answers 200 with already: true.
    const again = await post(`/admin/handback/${sessionId}`, adminToken);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ already: true });
    expect(await s.metric('chatbox_admin_takeovers_total')).toBe(1);
    expect(await s.metric('chatbox_admin_handbacks_total')).toBe(1);
    await expectExactCounts(s);
  });

  it('refuses bad tokens with 401 before the upgrade', async () => {
    const s = await start();
    const key = new TextEncoder().encode(TEST_SECRET);
    const expired = await new SignJWT({ user_id: 'x', roles: ['user'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key);
    const wrongSecret = await new SignJWT({ user_id: 'x', roles: ['user'] })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('another-secret-another-secret-another-secret'));
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ user_id: 'x', roles: ['admin'] })}.`;
    const noRoles = await new SignJWT({ user_id: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const noUser = await new SignJWT({ roles: ['user'] }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    for (const token of [expired, wrongSecret, algNone, noRoles, noUser, 'garbage']) {
      await expect(s.connect(token)).rejects.toMatchObject({ status: 401 });
    }
    await expect(
      (async () => {
        const { connectClient } = await import('../support/ws-client.js');
        return connectClient(s.app.wsUrl);
      })(),
    ).rejects.toMatchObject({ status: 401 });
    expect(await s.metric('chatbox_websocket_connections_total')).toBe(0);
  });

  it('answers bad input with typed error frames and keeps the socket open', async () => {
    const s = await start({ env: { MAX_MESSAGE_BYTES: '1024', RATE_LIMIT_PER_MINUTE: '12' } });
    const c = await connect(await s.token('fred'));
    await c.next((f) => f.type === 'connection_status');
    const expectError = async (send: () => void, code: string) => {
      const from = c.frames.length;
      send();
      const e = await c.next((f) => f.type === 'error', { from });
      expect(e.error?.code).toBe(code);
      expect(typeof e.error?.message).toBe('string');
      return e;
    };
    await expectError(() => c.sendRaw('{not json'), 'INVALID_JSON');
    await expectError(() => c.send({ type: 'dance' }), 'INVALID_MESSAGE');
    await expectError(() => c.send({ type: 'user_message' }), 'INVALID_MESSAGE');
    await expectError(() => c.send({ type: 'user_message', content: 'x', session_id: '../../etc' }), 'INVALID_MESSAGE');
    await expectError(() => c.sendRaw(Buffer.from([1, 2, 3])), 'INVALID_MESSAGE');
    const unsupported = await expectError(() => c.send({ type: 'file_upload' }), 'UNSUPPORTED');
    expect(unsupported.error?.recoverable).toBe(true);
    await expectError(() => c.send({ type: 'model_select', model_id: 'gpt-99' }), 'INVALID_MESSAGE');
    // 7 frames so far; the bucket holds 12.
    for (let i = 0; i < 5; i++) c.send({ type: 'typing_indicator' });
    const limited = await expectError(() => c.send({ type: 'typing_indicator' }), 'RATE_LIMITED');
    expect(limited.error?.retry_after).toBeGreaterThan(0);
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'frames' })).toBe(1);
    expect(c.socket.readyState).toBe(c.socket.OPEN);
    await expectExactCounts(s);

    // Over the size limit: the socket is closed with 1009, and the frame is counted.
    c.sendRaw(JSON.stringify({ type: 'user_message', content: 'y'.repeat(2000) }));
    const closed = await c.closed;
    expect(closed.code).toBe(1009);
    await eventually(async () => expect(await s.metric('chatbox_websocket_connections_total')).toBe(0));
    await expectExactCounts(s, { errors: 1 });
  });

  it("refuses someone else's session", async () => {
    const s = await start();
    const owner = await connect(await s.token('gina'));
    owner.send({ type: 'user_message', content: 'mine' });
    await owner.reply();
    const sessionId = owner.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    const intruder = await connect(await s.token('hank'), sessionId);
    const e = await intruder.next((f) => f.type === 'error');
    expect(e.error?.code).toBe('FORBIDDEN');
    intruder.send({ type: 'user_message', content: 'let me in', session_id: sessionId });
    const from = intruder.frames.indexOf(e) + 1;
    expect((await intruder.next((f) => f.type === 'error', { from })).error?.code).toBe('FORBIDDEN');
    const rest = await fetch(`${s.app.url}/chatbox/sessions/${sessionId}`, { headers: { authorization: `Bearer ${await s.token('hank')}` } });
    expect(rest.status).toBe(404);
    expect((await s.store.getSession(sessionId))?.messages).toHaveLength(2);
    await expectExactCounts(s);
  });

  it('tells the user when the LLM is unavailable, and counts it', async () => {
    const s = await start({ replies: () => fakeReplies({ fail: () => true }) });
    const c = await connect(await s.token('ivy'));
    c.send({ type: 'user_message', content: 'anyone?' });
    const e = await c.next((f) => f.type === 'error');
    expect(e.error?.code).toBe('LLM_UNAVAILABLE');
    expect(e.error?.recoverable).toBe(true);
    await expectExactCounts(s);
  });

  it('shuts down gracefully: sockets closed with 1001, sessions ended, gauges at 0', async () => {
    const s = await start();
    const a = await connect(await s.token('jack'));
    a.send({ type: 'user_message', content: 'bye soon' });
    await a.reply();
    const b = await connect(await s.token('kim'));
    await b.next((f) => f.type === 'connection_status');
    expect(await s.metric('chatbox_active_sessions_total')).toBe(1);
    const registry = s.app.metricsRegistry;
    await s.stop();
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    const { renderMetrics } = await import('../../src/metrics/render.js');
    const { parseExposition } = await import('../support/exposition.js');
    const x = parseExposition((await renderMetrics(registry)).body);
    expect(x.value('chatbox_websocket_connections_total')).toBe(0);
    expect(x.value('chatbox_active_sessions_total')).toBe(0);
    expect(x.value('chatbox_sessions_ended_total')).toBe(1);
    server = undefined;
  });
});
