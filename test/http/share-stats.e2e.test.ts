// protocol.md "More endpoints" over a real server: share / revoke / shared view, admin stats,
// sorting and the extra fields of the admin listing, idempotent takeover and handback.
import { afterEach, describe, expect, it } from 'vitest';
import { fakeReplies } from '../support/fake-replies.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function call(s: TestServer, method: string, path: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.app.url}/chatbox${path}`, { method, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

async function chat(s: TestServer, user: string, text: string): Promise<string> {
  const c = await s.connect(await s.token(user));
  c.send({ type: 'user_message', content: text });
  await c.reply();
  const id = c.frames.find((f) => f.session_id !== undefined)?.session_id as string;
  await c.close();
  return id;
}

describe('share links', () => {
  it('gives the owner one read-only link, readable without a token, until revoked', async () => {
    const s = (server = await startTestServer({ replies: () => fakeReplies() }));
    const id = await chat(s, 'ann', 'share me');
    const ann = await s.token('ann');
    const first = await call(s, 'POST', `/sessions/${id}/share`, ann);
    expect(first.status).toBe(200);
    expect(first.body.share_token).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(first.body.url).toBe(`${s.app.url}/chatbox/?share=${first.body.share_token}`);
    expect((await call(s, 'POST', `/sessions/${id}/share`, ann)).body.share_token).toBe(first.body.share_token);
    expect((await call(s, 'POST', `/sessions/${id}/share`, await s.token('bob'))).status).toBe(404);
    expect((await call(s, 'POST', `/sessions/${id}/share`)).status).toBe(401);

    const shared = await call(s, 'GET', `/shared/${first.body.share_token}`);
    expect(shared.status).toBe(200);
    expect(shared.body).toMatchObject({ session_id: id, name: 'share me' });
    expect(shared.body.messages.map((m: { sender: string }) => m.sender)).toEqual(['user', 'ai']);
    expect(shared.body.messages[1]).toMatchObject({ type: 'ai_response', content: 'You said: share me.' });

    expect((await call(s, 'DELETE', `/sessions/${id}/share`, await s.token('bob'))).status).toBe(404);
    const revoked = await call(s, 'DELETE', `/sessions/${id}/share`, await s.token('root', { admin: true }));
    expect(revoked).toMatchObject({ status: 200, body: { revoked: true } });
    expect((await call(s, 'GET', `/shared/${first.body.share_token}`)).status).toBe(404);
    expect((await call(s, 'GET', '/shared/not-a-token!')).status).toBe(404);
  });

  it('rate-limits the shared view per client', async () => {
    const s = (server = await startTestServer({ env: { HTTP_RATE_LIMIT_PER_MINUTE: '3' }, replies: () => fakeReplies() }));
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await call(s, 'GET', '/shared/AAAAAAAAAAAAAAAAAAAAAA')).status);
    expect(codes.slice(0, 3)).toEqual([404, 404, 404]);
    expect(codes.slice(3)).toEqual([429, 429]);
  });
});

describe('admin additions', () => {
  it('stats over a range, sorting, extra fields, idempotent takeover and handback', async () => {
    const s = (server = await startTestServer({ replies: () => fakeReplies() }));
    const a = await chat(s, 'ann', 'one');
    const b = await chat(s, 'bob', 'two words');
    const root = await s.token('root', { admin: true, name: 'Rita' });
    expect((await call(s, 'GET', '/admin/stats', await s.token('ann'))).status).toBe(403);
    const stats = await call(s, 'GET', '/admin/stats', root);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ sessions: 2, messages: 4, admin_assisted: 0 });
    expect(stats.body.avg_response_seconds).toEqual(expect.any(Number));
    expect(stats.body.max_response_seconds).toBeGreaterThanOrEqual(stats.body.avg_response_seconds);
    const future = await call(s, 'GET', `/admin/stats?from=${new Date(Date.now() + 3600_000).toISOString()}&to=${new Date(Date.now() + 7200_000).toISOString()}`, root);
    expect(future.body).toMatchObject({ sessions: 0, messages: 0, avg_response_seconds: null });
    expect((await call(s, 'GET', '/admin/stats?from=yesterday', root)).status).toBe(400);

    const byUser = await call(s, 'GET', '/admin/sessions?sort=user_id&order=asc', root);
    expect(byUser.body.sessions.map((x: { user_id: string }) => x.user_id)).toEqual(['ann', 'bob']);
    expect(byUser.body.sessions[0]).toMatchObject({ id: a, admin_name: null, help_requested: false, tokens: expect.any(Number) });
    expect(byUser.body.sessions[0].duration_seconds).toBeGreaterThanOrEqual(0);
    expect((await call(s, 'GET', '/admin/sessions?user_id=bob', root)).body.sessions.map((x: { id: string }) => x.id)).toEqual([b]);
    expect((await call(s, 'GET', '/admin/sessions?sort=name', root)).status).toBe(400);
    expect((await call(s, 'GET', '/admin/sessions?order=up', root)).status).toBe(400);

    const take = await call(s, 'POST', `/admin/takeover/${a}`, root);
    expect(take.body).toMatchObject({ taken_over: true, already: false });
    expect((await call(s, 'POST', `/admin/takeover/${a}`, root)).body).toMatchObject({ taken_over: true, already: true });
    expect((await call(s, 'GET', '/admin/sessions?admin_assisted=true', root)).body.sessions[0]).toMatchObject({ id: a, admin_name: 'Rita' });
    expect((await call(s, 'POST', `/admin/handback/${a}`, root)).body).toMatchObject({ already: false });
    expect((await call(s, 'POST', `/admin/handback/${a}`, root))).toMatchObject({ status: 200, body: { already: true } });
    expect((await call(s, 'GET', `/sessions`, await s.token('ann'))).body.sessions[0]).toMatchObject({ id: a, admin_name: null, admin_assisted: true });
  });
});
