// The hostile-client probes of issue 13, replayed over both transports against a real server:
// what the protocol says holds (socket stays up or closes with the right code, typed error
// frames with `recoverable` true exactly when the socket goes on), every refusal is counted,
// nothing refused reaches the store or the LLM, other users are unaffected, the process lives.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeReplies } from '../support/fake-replies.js';
import { eventually, startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';
import { connectClient, type TestClient } from '../support/ws-client.js';
import { upgradeAttempt } from './support.js';

const key = new TextEncoder().encode(TEST_SECRET);
const nowS = (): number => Math.floor(Date.now() / 1000);

describe.each(['uws', 'ws'] as const)('hostile clients over %s', (transport) => {
  let server: TestServer | undefined;
  const clients: TestClient[] = [];
  const replies = fakeReplies();

  async function start(env: Record<string, string> = {}): Promise<TestServer> {
    replies.requests.length = 0;
    server = await startTestServer({ transport, env: { TRUSTED_PROXIES: '127.0.0.1', ...env }, replies: () => replies });
    return server;
  }
  /** A client appearing to come from `address` (through the trusted proxy 127.0.0.1). */
  async function connect(token: string, address = '192.0.2.1', sessionId?: string): Promise<TestClient> {
    const s = server as TestServer;
    const c = await s.connect(token, { headers: { 'x-forwarded-for': address }, ...(sessionId === undefined ? {} : { sessionId }) });
    clients.push(c);
    await c.next((f) => f.type === 'connection_status');
    return c;
  }
  const errorAfter = async (c: TestClient, send: () => void) => {
    const from = c.frames.length;
    send();
    return (await c.next((f) => f.type === 'error', { from })).error;
  };
  /** Still healthy: the server answers, and a new user holds a whole conversation. */
  async function stillServing(s: TestServer): Promise<void> {
    expect((await fetch(`${s.app.url}/chatbox/healthz`)).status).toBe(200);
    const c = await connect(await s.token(`bystander-${randomUUID()}`), '192.0.2.200');
    c.send({ type: 'user_message', content: 'still there?' });
    expect(await c.reply()).toContain('still there?');
  }

  afterEach(async () => {
    for (const c of clients) c.terminate();
    clients.length = 0;
    await server?.stop();
    server = undefined;
  });

  it('keeps the frame bucket across reconnects; limited frames never reach the store or the LLM', async () => {
    const s = await start({ RATE_LIMIT_PER_MINUTE: '10' });
    const token = await s.token('mallory');
    let passed = 0;
    for (let cycle = 0; cycle < 5; cycle++) {
      const c = await connect(token);
      for (let i = 0; i < 10; i++) c.send({ type: 'typing_indicator' });
      c.send({ type: 'user_message', content: `spend ${cycle}` });
      // Frames of one socket are answered in order: this error is the last frame's answer.
      const last = await c.next((f) => f.type === 'error' || f.type === 'loading', { from: 1 });
      const errors = c.frames.filter((f) => f.type === 'error' && f.error?.code === 'RATE_LIMITED').length;
      passed += 11 - errors;
      if (last.type === 'error') {
        expect(last.error?.code).toBe('RATE_LIMITED');
        expect(last.error?.recoverable).toBe(true);
        expect(last.error?.retry_after).toBeGreaterThan(0);
      }
      await c.close();
    }
    // 10 per minute; a few seconds of refill could add one.
    expect(passed).toBeLessThanOrEqual(11);
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'frames' })).toBe(55 - passed);
    expect(replies.requests).toHaveLength(0);
    expect(await s.store.listUserSessions('mallory')).toHaveLength(0);
    await stillServing(s);
  });

  it('refuses bad tokens with 401, counts each by reason, then refuses the address with 429', async () => {
    const s = await start({ AUTH_FAILURES_PER_MINUTE: '6', CORS_ORIGINS: 'https://chat.example' });
    const attacker = { 'x-forwarded-for': '198.51.100.66' };
    const noExp = await new SignJWT({ user_id: 'x', roles: ['user'] }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const expired = await new SignJWT({ user_id: 'x', roles: ['user'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(nowS() - 60).sign(key);
    const good = await s.token('x');
    const probes: [string, Record<string, string>, number, string][] = [
      ['', {}, 401, 'missing'],
      ['?token=garbage', {}, 401, 'malformed'],
      [`?token=${expired}`, {}, 401, 'expired'],
      [`?token=${good}=`, {}, 401, 'signature'],
      [`?token=${noExp}`, {}, 401, 'claims'],
      [`?token=${good}`, { origin: 'https://evil.example' }, 403, 'origin'],
    ];
    for (const [query, headers, status, reason] of probes) {
      const answer = await upgradeAttempt(`${s.app.wsUrl}${query}`, { ...attacker, ...headers });
      expect(answer.status, reason).toBe(status);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN' } });
      expect(await s.metric('chatbox_auth_failures_total', { reason })).toBe(1);
    }
    // Six failures used the allowance: even a good token from that address now waits.
    const blocked = await upgradeAttempt(`${s.app.wsUrl}?token=${good}`, attacker);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(blocked.body)).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    const rest = await fetch(`${s.app.url}/chatbox/sessions`, { headers: { ...attacker, authorization: `Bearer ${good}` } });
    expect(rest.status).toBe(429);
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'auth' })).toBe(2);
    expect(await s.metric('chatbox_websocket_connections_total')).toBe(0);
    // Another address is not affected.
    const ok = await upgradeAttempt(`${s.app.wsUrl}?token=${good}`, { 'x-forwarded-for': '198.51.100.67' });
    expect(ok.status).toBe(101);
    await stillServing(s);
  });

  it('counts REST authentication failures the same way, with no-store and nosniff on the answers', async () => {
    const s = await start({ AUTH_FAILURES_PER_MINUTE: '3' });
    const from = { 'x-forwarded-for': '203.0.113.5' };
    const noExp = await new SignJWT({ user_id: 'x', roles: ['user'] }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect((await fetch(`${s.app.url}/chatbox/sessions`, { headers: from })).status).toBe(401);
    const claims = await fetch(`${s.app.url}/chatbox/sessions`, { headers: { ...from, authorization: `Bearer ${noExp}` } });
    expect(claims.status).toBe(401);
    expect(claims.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetch(`${s.app.url}/chatbox/admin/sessions`, { headers: { ...from, authorization: 'Bearer a.b.c' } })).status).toBe(401);
    expect((await fetch(`${s.app.url}/chatbox/sessions`, { headers: { ...from, authorization: `Bearer ${await s.token('x')}` } })).status).toBe(429);
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'missing' })).toBe(1);
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'claims' })).toBe(1);
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'malformed' })).toBe(1);
    const mine = await fetch(`${s.app.url}/chatbox/sessions`, { headers: { authorization: `Bearer ${await s.token('x')}` } });
    expect(mine.status).toBe(200);
    expect(mine.headers.get('cache-control')).toBe('no-store');
    expect(mine.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('counts a bad METRICS_TOKEN and a refused CORS preflight as failed authentications, and locks the address out after too many', async () => {
    const s = await start({ METRICS_TOKEN: 'scrape-me', CORS_ORIGINS: 'https://widget.example', AUTH_FAILURES_PER_MINUTE: '3' });
    const from = { 'x-forwarded-for': '203.0.113.9' };
    expect((await fetch(`${s.app.url}/metrics`, { headers: from })).status).toBe(401);
    const guessed = await fetch(`${s.app.url}/metrics`, { headers: { ...from, authorization: 'Bearer guess' } });
    expect(guessed.status).toBe(401);
    expect(await guessed.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const preflight = await fetch(`${s.app.url}/chatbox/sessions`, { method: 'OPTIONS', headers: { ...from, origin: 'https://evil.example' } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    // Three failures used the allowance: even the right token from that address now waits.
    const locked = await fetch(`${s.app.url}/metrics`, { headers: { ...from, authorization: 'Bearer scrape-me' } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // s.metric scrapes with the token from another address.
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'missing' })).toBe(1);
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'signature' })).toBe(1);
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'origin' })).toBe(1);
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'auth' })).toBe(1);
    const allowed = await fetch(`${s.app.url}/chatbox/sessions`, { method: 'OPTIONS', headers: { origin: 'https://widget.example' } });
    expect(allowed.status).toBe(204);
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'origin' })).toBe(1);
  });

  it('300 bad-token upgrades in a burst: 20 counted as failures, the rest refused with 429, a few log lines', async () => {
    const lines: { msg: string; suppressed?: number }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line) as { msg: string });
        done();
      },
    });
    replies.requests.length = 0;
    const s = await startTestServer({ transport, env: { TRUSTED_PROXIES: '127.0.0.1' }, replies: () => replies, logger: pino({ level: 'warn' }, sink) });
    server = s;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const { status } = await upgradeAttempt(`${s.app.wsUrl}?token=bad${i}`, { 'x-forwarded-for': '198.51.100.99' });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: 20, 429: 280 });
    expect(await s.metric('chatbox_auth_failures_total', { reason: 'malformed' })).toBe(20);
    // Upgrades 21-120 hit the failure allowance; from the 121st the upgrade limit (120/min) comes first.
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'auth' })).toBe(100);
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'upgrade' })).toBe(180);
    const refusals = lines.filter((l) => /refused/.test(l.msg));
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThanOrEqual(4);
    await stillServing(s);
  });

  it('limits upgrades per client address', async () => {
    const s = await start({ UPGRADE_RATE_LIMIT_PER_MINUTE: '3' });
    const token = await s.token('flood');
    for (let i = 0; i < 3; i++) expect((await upgradeAttempt(`${s.app.wsUrl}?token=${token}`, { 'x-forwarded-for': '192.0.2.9' })).status).toBe(101);
    const refused = await upgradeAttempt(`${s.app.wsUrl}?token=${token}`, { 'x-forwarded-for': '192.0.2.9' });
    expect(refused.status).toBe(429);
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'upgrade' })).toBe(1);
    // The client cannot pick its own address: X-Forwarded-For from an untrusted peer is ignored.
    const s2 = await startTestServer({ transport, env: { UPGRADE_RATE_LIMIT_PER_MINUTE: '2' } });
    try {
      for (const a of ['1.1.1.1', '2.2.2.2']) expect((await upgradeAttempt(`${s2.app.wsUrl}?token=${token}`, { 'x-forwarded-for': a })).status).toBe(101);
      expect((await upgradeAttempt(`${s2.app.wsUrl}?token=${token}`, { 'x-forwarded-for': '3.3.3.3' })).status).toBe(429);
    } finally {
      await s2.stop();
    }
  });

  it("relays help only for the caller's own session, a few times, with bounded text", async () => {
    const s = await start();
    const admin = await connect(await s.token('root', { admin: true }), '192.0.2.50');
    const owner = await connect(await s.token('olive'));
    owner.send({ type: 'user_message', content: 'hello' });
    await owner.reply();
    const sessionId = owner.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    const intruder = await connect(await s.token('ivan'), '192.0.2.2');
    const forbidden = await errorAfter(intruder, () => intruder.send({ type: 'help_request', session_id: sessionId, content: 'x'.repeat(900) }));
    expect(forbidden).toMatchObject({ code: 'FORBIDDEN', recoverable: true });
    const missing = await errorAfter(intruder, () => intruder.send({ type: 'help_request', session_id: 'no-such-session' }));
    expect(missing).toMatchObject({ code: 'NOT_FOUND', recoverable: true });
    const long = await errorAfter(owner, () => owner.send({ type: 'help_request', content: 'h'.repeat(60_000) }));
    expect(long).toMatchObject({ code: 'INVALID_MESSAGE', recoverable: true });
    for (let i = 0; i < 3; i++) owner.send({ type: 'help_request', content: `help ${i}` });
    const limited = await errorAfter(owner, () => owner.send({ type: 'help_request', session_id: sessionId }));
    expect(limited).toMatchObject({ code: 'RATE_LIMITED', recoverable: true });
    expect(limited?.retry_after).toBeGreaterThan(0);
    await eventually(() => expect(admin.frames.filter((f) => f.type === 'notification')).toHaveLength(3));
    expect(admin.frames.filter((f) => f.type === 'notification').every((f) => f.session_id === sessionId && f.metadata?.['user_id'] === 'olive')).toBe(true);
    expect(await s.metric('chatbox_ratelimit_blocked_total', { limiter: 'help' })).toBe(1);
    // The intruder's socket goes on working.
    intruder.send({ type: 'user_message', content: 'my own chat' });
    expect(await intruder.reply()).toContain('my own chat');
    expect(await s.metric('chatbox_message_errors_total')).toBe(4);
  });

  it('closes an oversized frame with 1009, counted, and nobody else notices', async () => {
    const s = await start({ MAX_MESSAGE_BYTES: '1024' });
    const other = await connect(await s.token('calm'), '192.0.2.3');
    const big = await connect(await s.token('big'));
    big.sendRaw(JSON.stringify({ type: 'user_message', content: 'y'.repeat(4000) }));
    expect((await big.closed).code).toBe(1009);
    await eventually(async () => expect(await s.metric('chatbox_websocket_connections_total')).toBe(1));
    expect(await s.metric('chatbox_message_errors_total')).toBe(1);
    expect(await s.store.listUserSessions('big')).toHaveLength(0);
    other.send({ type: 'user_message', content: 'fine here' });
    expect(await other.reply()).toContain('fine here');
  });

  it('refuses a user_message with NUL before any session exists; the socket goes on', async () => {
    const s = await start();
    const c = await connect(await s.token('nul'));
    const e = await errorAfter(c, () => c.send({ type: 'user_message', content: 'a\u0000b' }));
    expect(e).toMatchObject({ code: 'INVALID_MESSAGE', recoverable: true });
    expect(await s.store.listUserSessions('nul')).toHaveLength(0);
    expect(await s.metric('chatbox_sessions_created_total')).toBe(0);
    expect(replies.requests).toHaveLength(0);
    const help = await errorAfter(c, () => c.send({ type: 'help_request', content: '\u0000' }));
    expect(help?.code).toBe('INVALID_MESSAGE');
    c.send({ type: 'user_message', content: 'clean' });
    expect(await c.reply()).toContain('clean');
    expect(await s.store.listUserSessions('nul')).toHaveLength(1);
  });

  it("says recoverable for a refused foreign session_id on connect, and the socket works on", async () => {
    const s = await start();
    const owner = await connect(await s.token('pat'));
    owner.send({ type: 'user_message', content: 'mine' });
    await owner.reply();
    const sessionId = owner.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    const intruder = await connectClient(`${s.app.wsUrl}?token=${await s.token('quinn')}&session_id=${sessionId}`);
    clients.push(intruder);
    const e = await intruder.next((f) => f.type === 'error');
    expect(e.error).toMatchObject({ code: 'FORBIDDEN', recoverable: true });
    intruder.send({ type: 'user_message', content: 'elsewhere' });
    expect(await intruder.reply()).toContain('elsewhere');
    expect((await s.store.getSession(sessionId))?.messages).toHaveLength(2);
  });

  it('answers 405 with Allow, and nosniff on every answer', async () => {
    const s = await start();
    const del = await fetch(`${s.app.url}/chatbox/healthz`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    const end = await fetch(`${s.app.url}/chatbox/sessions/abc/end`, { method: 'GET' });
    expect(end.status).toBe(405);
    expect(end.headers.get('allow')).toBe('POST');
    for (const path of ['/chatbox/healthz', '/metrics', '/nowhere', '/chatbox/sessions']) {
      const res = await fetch(`${s.app.url}${path}`);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    const token = await s.token('owner');
    const c = await connect(token);
    c.send({ type: 'user_message', content: 'private' });
    await c.reply();
    const id = c.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    const history = await fetch(`${s.app.url}/chatbox/sessions/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(history.status).toBe(200);
    expect(history.headers.get('cache-control')).toBe('no-store');
    const adminList = await fetch(`${s.app.url}/chatbox/admin/sessions`, { headers: { authorization: `Bearer ${await s.token('boss', { admin: true })}` } });
    expect(adminList.headers.get('cache-control')).toBe('no-store');
  });
});
