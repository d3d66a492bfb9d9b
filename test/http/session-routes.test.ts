// The session REST routes: called directly with fabricated requests, and once end to end
// through the uWS server with fetch.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth/jwt.js';
import { createRouter, type HttpReply, type HttpRequest, type Route } from '../../src/http/routes.js';
import { sessionRoutes } from '../../src/http/session-routes.js';
import { startUwsServer, type RunningServer } from '../../src/http/uws-server.js';
import { createMemoryStore } from '../../src/storage/memory-store.js';
import type { OutcomeStore } from '../../src/storage/options.js';

const auth = createAuthenticator('test-secret-that-is-long-enough-for-hs256-0123456789');
const PREFIX = '/chatbox';

let store: OutcomeStore;
let routes: Route[];
let ended: string[];
let clock: number;

beforeEach(() => {
  clock = Date.parse('2030-05-01T10:00:00Z');
  store = createMemoryStore({ instanceId: 'i', now: () => new Date((clock += 1000)) });
  ended = [];
  routes = sessionRoutes({ prefix: PREFIX, store, auth, onSessionEnded: (id) => ended.push(id) });
});

const token = (userId: string, admin = false) => auth.mint({ userId, roles: admin ? ['admin'] : ['user'] });

async function call(method: string, url: string, bearer?: string): Promise<{ status: number; body: any }> {
  const [path = '', query = ''] = url.split('?');
  const matched = createRouter(routes).match(method, path);
  if ('status' in matched) return { status: matched.status, body: JSON.parse(matched.body) };
  const headers = new Map<string, string>();
  if (bearer !== undefined) headers.set('authorization', `Bearer ${bearer}`);
  const req: HttpRequest = {
    method,
    path,
    query: new URLSearchParams(query),
    header: (name) => headers.get(name),
    params: matched.params,
    body: '',
    remoteAddress: '127.0.0.1',
  };
  const reply: HttpReply = await matched.handler(req);
  expect(reply.headers?.['content-type']).toMatch(/^application\/json/);
  return { status: reply.status, body: JSON.parse(reply.body) };
}

async function conversation(userId: string) {
  const s = await store.createSession({ userId, modelId: 'gpt' });
  await store.appendMessage(s.id, { sender: 'user', content: 'Where is my order?' });
  await store.appendMessage(s.id, { sender: 'ai', content: 'Let me check.', metadata: { model_id: 'gpt' }, outputTokens: 4 });
  await store.appendMessage(s.id, { sender: 'admin', content: 'Shipped today.', metadata: { admin_name: 'Ann' } });
  await store.appendMessage(s.id, { sender: 'system', content: 'Session resumed' });
  return s;
}

describe('authentication', () => {
  it.each([
    ['GET', '/chatbox/sessions'],
    ['GET', '/chatbox/sessions/abc'],
    ['POST', '/chatbox/sessions/abc/end'],
    ['GET', '/chatbox/admin/sessions'],
  ])('%s %s: 401 JSON without a token or with a bad one', async (method, url) => {
    expect(await call(method, url)).toEqual({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'missing bearer token' } } });
    const bad = await call(method, url, 'not.a.jwt');
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('UNAUTHORIZED');
  });
});

describe('GET {prefix}/sessions', () => {
  it("lists the caller's sessions, newest first, in the protocol's shape", async () => {
    const first = await conversation('alice');
    const second = await store.createSession({ userId: 'alice', modelId: 'claude' });
    await store.endSession(first.id, 'user');
    await store.markAdminAssisted(first.id);
    await conversation('bob');
    const { status, body } = await call('GET', '/chatbox/sessions', await token('alice'));
    expect(status).toBe(200);
    expect(body.user_id).toBe('alice');
    expect(body.count).toBe(2);
    expect(body.sessions.map((s: { id: string }) => s.id)).toEqual([second.id, first.id]);
    expect(body.sessions[1]).toEqual({
      id: first.id,
      name: 'Where is my order?',
      model_id: 'gpt',
      is_active: false,
      started_at: first.startedAt.toISOString(),
      ended_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      message_count: 4,
      admin_assisted: true,
      // protocol.md "More endpoints"
      user_id: 'alice',
      last_activity: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      duration_seconds: expect.any(Number),
      tokens: expect.any(Number),
      admin_name: null,
      help_requested: false,
    });
    expect(body.sessions[0]).toMatchObject({ is_active: true, ended_at: null, name: null, message_count: 0 });
  });

  it('refuses a bad limit with 400', async () => {
    const { status, body } = await call('GET', '/chatbox/sessions?limit=0', await token('alice'));
    expect(status).toBe(400);
    expect(body.error.code).toBe('INVALID_MESSAGE');
  });
});

describe('GET {prefix}/sessions/:id', () => {
  it('gives the owner the history as frames', async () => {
    const s = await conversation('alice');
    const { status, body } = await call('GET', `/chatbox/sessions/${s.id}`, await token('alice'));
    expect(status).toBe(200);
    expect(body).toMatchObject({ session_id: s.id, name: 'Where is my order?', model_id: 'gpt', is_active: true });
    expect(body.messages.map((m: any) => [m.type, m.sender, m.content])).toEqual([
      ['user_message', 'user', 'Where is my order?'],
      ['ai_response', 'ai', 'Let me check.'],
      ['ai_response', 'admin', 'Shipped today.'],
      ['notification', 'system', 'Session resumed'],
    ]);
    expect(body.messages[1].metadata).toEqual({ model_id: 'gpt', streaming: 'false', done: 'true' });
    expect(body.messages[2].metadata).toEqual({ admin_name: 'Ann', streaming: 'false', done: 'true' });
    expect(body.messages[0].metadata).toEqual({});
    expect(Date.parse(body.messages[0].timestamp)).not.toBeNaN();
  });

  it("gives admins anyone's session, and everyone else a 404 that does not leak existence", async () => {
    const s = await conversation('alice');
    expect((await call('GET', `/chatbox/sessions/${s.id}`, await token('root', true))).status).toBe(200);
    const other = await call('GET', `/chatbox/sessions/${s.id}`, await token('mallory'));
    const missing = await call('GET', '/chatbox/sessions/does-not-exist', await token('mallory'));
    expect(other).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'session not found' } } });
    expect(missing).toEqual(other);
    expect((await call('GET', '/chatbox/sessions/bad%20id', await token('alice'))).status).toBe(400);
  });
});

describe('POST {prefix}/sessions/:id/end', () => {
  it('lets the owner end a session (reason user) and tells the router', async () => {
    const s = await store.createSession({ userId: 'alice', modelId: 'm' });
    const { status, body } = await call('POST', `/chatbox/sessions/${s.id}/end`, await token('alice'));
    expect(status).toBe(200);
    expect(body).toMatchObject({ session_id: s.id, is_active: false, end_reason: 'user', already_ended: false });
    expect(ended).toEqual([s.id]);
    expect(store.openSessionCount()).toBe(0);
    const again = await call('POST', `/chatbox/sessions/${s.id}/end`, await token('alice'));
    expect(again.body).toMatchObject({ end_reason: 'user', already_ended: true });
  });

  it("lets an admin end someone's session (reason admin); others get 404 and nothing changes", async () => {
    const s = await store.createSession({ userId: 'alice', modelId: 'm' });
    expect((await call('POST', `/chatbox/sessions/${s.id}/end`, await token('mallory'))).status).toBe(404);
    expect((await store.findSession(s.id))?.isActive).toBe(true);
    expect(ended).toEqual([]);
    const { body } = await call('POST', `/chatbox/sessions/${s.id}/end`, await token('root', true));
    expect(body.end_reason).toBe('admin');
  });
});

describe('GET {prefix}/admin/sessions', () => {
  it('is for admins only (403 JSON otherwise)', async () => {
    expect(await call('GET', '/chatbox/admin/sessions', await token('alice'))).toEqual({
      status: 403,
      body: { error: { code: 'FORBIDDEN', message: 'admin role required' } },
    });
  });

  it('filters and pages with next_cursor', async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await store.createSession({ userId: i % 2 === 0 ? 'alice' : 'bob', modelId: 'm' }));
    await store.endSession(made[0]!.id, 'idle');
    await store.markAdminAssisted(made[2]!.id);
    const admin = await token('root', true);
    const page1 = await call('GET', '/chatbox/admin/sessions?limit=2', admin);
    expect(page1.status).toBe(200);
    expect(page1.body.sessions.map((s: any) => s.id)).toEqual([made[4]!.id, made[3]!.id]);
    expect(page1.body.sessions[0]).toMatchObject({ user_id: 'alice', end_reason: null, is_active: true });
    const page2 = await call('GET', `/chatbox/admin/sessions?limit=2&cursor=${page1.body.next_cursor}`, admin);
    const page3 = await call('GET', `/chatbox/admin/sessions?limit=2&cursor=${page2.body.next_cursor}`, admin);
    expect(page3.body).toMatchObject({ next_cursor: null });
    expect([...page2.body.sessions, ...page3.body.sessions].map((s: any) => s.id)).toEqual([made[2]!.id, made[1]!.id, made[0]!.id]);
    const ids = async (query: string) => (await call('GET', `/chatbox/admin/sessions?${query}`, admin)).body.sessions.map((s: any) => s.id);
    expect(await ids('active=false')).toEqual([made[0]!.id]);
    expect(await ids('user_id=bob')).toEqual([made[3]!.id, made[1]!.id]);
    expect(await ids('admin_assisted=true&user_id=alice')).toEqual([made[2]!.id]);
    const from = encodeURIComponent(made[1]!.startedAt.toISOString());
    const to = encodeURIComponent(made[3]!.startedAt.toISOString());
    expect(await ids(`from=${from}&to=${to}`)).toEqual([made[2]!.id, made[1]!.id]);
  });

  it.each([
    'active=maybe',
    'admin_assisted=1',
    'from=yesterday',
    'to=2030-13-45T00:00:00Z',
    'from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z',
    'cursor=%%%',
    'cursor=eyJ4IjoxfQ',
    'limit=0',
    'limit=101',
    'limit=ten',
  ])('refuses %s with 400 INVALID_MESSAGE', async (query) => {
    const { status, body } = await call('GET', `/chatbox/admin/sessions?${query}`, await token('root', true));
    expect(status).toBe(400);
    expect(body.error.code).toBe('INVALID_MESSAGE');
    expect(typeof body.error.message).toBe('string');
  });
});

describe('end to end through uWebSockets.js', () => {
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  it('serves the routes over HTTP', async () => {
    server = await startUwsServer({ host: '127.0.0.1', port: 0, routes });
    const base = `http://127.0.0.1:${server.port}`;
    const s = await conversation('alice');
    const alice = { authorization: `Bearer ${await token('alice')}` };
    const list = await fetch(`${base}/chatbox/sessions`, { headers: alice });
    expect(list.status).toBe(200);
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await list.json()) as any).sessions[0].id).toBe(s.id);
    const one = await fetch(`${base}/chatbox/sessions/${s.id}`, { headers: alice });
    expect(((await one.json()) as any).messages).toHaveLength(4);
    const stranger = await fetch(`${base}/chatbox/sessions/${s.id}`, { headers: { authorization: `Bearer ${await token('eve')}` } });
    expect(stranger.status).toBe(404);
    const anonymous = await fetch(`${base}/chatbox/admin/sessions`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing bearer token' } });
    const forbidden = await fetch(`${base}/chatbox/admin/sessions`, { headers: alice });
    expect(forbidden.status).toBe(403);
    const end = await fetch(`${base}/chatbox/sessions/${s.id}/end`, { method: 'POST', headers: alice });
    expect(await end.json()).toMatchObject({ session_id: s.id, is_active: false, end_reason: 'user' });
    expect(ended).toEqual([s.id]);
  });
});
