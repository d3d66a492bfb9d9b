// Several replicas behave as one service (../shared/protocol.md, "Several replicas"): real server
// processes on one PostgreSQL schema and one Redis prefix, a paced fake LLM so replies take long
// enough to be interrupted. Two replicas first, then a third for scale-down and a kill -9.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server.js';
import type { Frame, TestClient } from '../support/ws-client.js';
import { eventually, startReplicaSet, type Replica, type ReplicaSet } from './support.js';

let fake: FakeLlmServer;
let set: ReplicaSet;
const clients: TestClient[] = [];
const track = (c: TestClient): TestClient => {
  clients.push(c);
  return c;
};
const isStatus = (f: Frame): boolean => f.type === 'connection_status';
// Generous waits: these run beside the rest of the suite on a shared two-core machine.
const SLOW = { timeoutMs: 15_000 };
const rest = (r: Replica, path: string, token: string, method = 'GET') =>
  fetch(`${r.url}/chatbox${path}`, { method, headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  // ~1 s per reply: 25 chunks, 40 ms apart.
  fake = await startFakeLlmServer({ realistic: { firstTokenMs: 30, chunkMs: 40, chunks: 25 } });
  set = await startReplicaSet({
    count: 2,
    env: {
      OPENAI_API_KEY: 'sk-replicas',
      OPENAI_BASE_URL: fake.baseUrls.openai,
      OPENAI_MODEL: 'gpt-replicas',
      RATE_LIMIT_PER_MINUTE: '40',
      HTTP_RATE_LIMIT_PER_MINUTE: '40',
      MAX_SOCKETS_PER_USER: '3',
    },
  });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.terminate();
  await set?.stop();
  await fake?.close();
}, 60_000);

describe('two replicas', () => {
  it('a user\'s devices on different replicas see the same replies, one at a time, in message order', async () => {
    const [r1, r2] = set.replicas as [Replica, Replica];
    const token = await set.token('ann');
    const sid = randomUUID();
    const a = track(await set.connect(r1, token, sid));
    const b = track(await set.connect(r2, token, sid));
    await a.next(isStatus, SLOW);
    await b.next(isStatus, SLOW);
    // The first message creates the session on r2; the device on r1 joins it.
    let fa = a.frames.length;
    let fb = b.frames.length;
    b.send({ type: 'user_message', content: 'hello from the phone' });
    const onB = await b.reply({ from: fb, timeoutMs: 20_000 });
    const onA = await a.reply({ from: fa, timeoutMs: 20_000 });
    expect(onA).toBe(onB);
    expect(onA.length).toBeGreaterThan(0);

    // Two messages at once from both devices: two replies, never interleaved, on both devices.
    fa = a.frames.length;
    fb = b.frames.length;
    a.send({ type: 'user_message', content: 'first from the laptop' });
    b.send({ type: 'user_message', content: 'second from the phone' });
    for (const [c, from] of [[a, fa], [b, fb]] as const) {
      await eventually(() => {
        expect(c.frames.slice(from).filter((f) => f.type === 'ai_response' && f.metadata?.['done'] === 'true').length).toBe(2);
      }, 20_000);
      const kinds = c.frames.slice(from).filter((f) => f.type === 'loading' || (f.type === 'ai_response' && f.metadata?.['done'] === 'true'));
      expect(kinds.map((f) => f.type)).toEqual(['loading', 'ai_response', 'loading', 'ai_response']);
    }
    // Typing reaches the other device, not the sender.
    fa = a.frames.length;
    b.send({ type: 'typing_indicator' });
    await a.next((f) => f.type === 'typing_indicator', { from: fa, timeoutMs: 15_000 });

    const rows = (await set.sessions()).filter((s) => s.id === sid);
    expect(rows).toHaveLength(1);
    const stored = await set.messages(sid);
    expect(stored.filter((m) => m.sender === 'user').map((m) => m.content).sort()).toEqual(
      ['first from the laptop', 'hello from the phone', 'second from the phone'].sort(),
    );
    expect(stored.filter((m) => m.sender === 'ai')).toHaveLength(3);
  }, 60_000);

  it('an admin on the other replica takes over mid-reply, talks with the user both ways, and hands back', async () => {
    const [r1, r2] = set.replicas as [Replica, Replica];
    const user = track(await set.connect(r1, await set.token('bob')));
    await user.next(isStatus, SLOW);
    const adminToken = await set.token('ada', true);
    const admin = track(await set.connect(r2, adminToken));
    await admin.next(isStatus, SLOW);

    let from = user.frames.length;
    user.send({ type: 'user_message', content: 'tell me a long story' });
    const loading = await user.next((f) => f.type === 'loading', { from, timeoutMs: 15_000 });
    const sid = loading.session_id as string;
    await user.next((f) => f.type === 'ai_response', { from, timeoutMs: 15_000 });
    const res = await rest(r2, `/admin/takeover/${sid}`, adminToken, 'POST');
    expect(res.status).toBe(200);
    await user.next((f) => f.type === 'admin_join', { from, timeoutMs: 15_000 });
    // The reply running on r1 stopped: its last frame says why.
    const last = await user.next((f) => f.type === 'ai_response' && f.metadata?.['done'] === 'true', { from, timeoutMs: 10_000 });
    expect(last.metadata?.['cancelled']).toBe('takeover');

    // The admin joins over its socket (already taken over: idempotent) and talks to the user.
    let fromAdmin = admin.frames.length;
    admin.send({ type: 'admin_join', session_id: sid });
    await admin.next((f) => isStatus(f) && f.session_id === sid, { from: fromAdmin, timeoutMs: 15_000 });
    from = user.frames.length;
    admin.send({ type: 'user_message', session_id: sid, content: 'hi, a human here' });
    const said = await user.next((f) => f.type === 'ai_response' && f.sender === 'admin', { from, timeoutMs: 15_000 });
    expect(said.content).toBe('hi, a human here');
    expect(said.metadata?.['admin_name']).toBe('ada');
    fromAdmin = admin.frames.length;
    user.send({ type: 'user_message', content: 'thanks, human' });
    const heard = await admin.next((f) => f.type === 'user_message', { from: fromAdmin, timeoutMs: 15_000 });
    expect(heard.content).toBe('thanks, human');
    // No AI answer while taken over.
    await new Promise((r) => setTimeout(r, 300));
    expect(user.frames.slice(from).some((f) => f.type === 'loading')).toBe(false);

    // Help requests reach admins on every replica.
    fromAdmin = admin.frames.length;
    user.send({ type: 'help_request', content: 'anyone there?' });
    const help = await admin.next((f) => f.type === 'notification', { from: fromAdmin, timeoutMs: 15_000 });
    expect(help.metadata?.['user_id']).toBe('bob');

    from = user.frames.length;
    admin.send({ type: 'admin_leave', session_id: sid });
    await user.next((f) => f.type === 'admin_leave', { from, timeoutMs: 15_000 });
    await admin.next((f) => f.type === 'admin_leave', { from: fromAdmin, timeoutMs: 15_000 });
    from = user.frames.length;
    user.send({ type: 'user_message', content: 'back to the AI' });
    expect((await user.reply({ from, timeoutMs: 20_000 })).length).toBeGreaterThan(0);
    // Idempotent: a second handback answers 200 with `already`.
    const again = await rest(r1, `/admin/handback/${sid}`, adminToken, 'POST');
    expect(again.status).toBe(200);
    expect(((await again.json()) as { already: boolean }).already).toBe(true);
    const stored = await set.messages(sid);
    expect(stored.map((m) => m.sender)).toEqual(['user', 'ai', 'admin', 'user', 'user', 'ai']);
  }, 60_000);

  it('the per-user frame limit and the socket cap hold across replicas', async () => {
    const [r1, r2] = set.replicas as [Replica, Replica];
    const token = await set.token('carl');
    const a = track(await set.connect(r1, token));
    const b = track(await set.connect(r2, token));
    await a.next(isStatus, SLOW);
    await b.next(isStatus, SLOW);
    const before = await set.sum('chatbox_ratelimit_blocked_total', { limiter: 'frames' });
    // 30 frames on each replica against 40 per minute for the user: 20 are refused in all.
    for (let i = 0; i < 30; i++) {
      a.send({ type: 'typing_indicator' });
      b.send({ type: 'typing_indicator' });
    }
    const limited = (c: TestClient) => c.frames.filter((f) => f.type === 'error' && f.error?.code === 'RATE_LIMITED').length;
    await eventually(() => expect(limited(a) + limited(b)).toBe(20));
    expect(await set.sum('chatbox_ratelimit_blocked_total', { limiter: 'frames' })).toBe(before + 20);

    // MAX_SOCKETS_PER_USER=3: a third socket is fine, a fourth on either replica is refused.
    const c = track(await set.connect(r1, token));
    await c.next(isStatus, SLOW);
    const fromA = a.frames.length;
    const refusedOn = async (r: Replica) => (await set.scrape(r)).value('chatbox_ratelimit_blocked_total', { limiter: 'sockets' });
    const [on1, on2] = [await refusedOn(r1), await refusedOn(r2)];
    await expect(set.connect(r2, token)).rejects.toMatchObject({ status: 429 });
    // Counted once, by the replica that refused it.
    expect([await refusedOn(r1), await refusedOn(r2)]).toEqual([on1, (on2 ?? 0) + 1]);
    const note = await a.next((f) => f.type === 'notification', { from: fromA, timeoutMs: 15_000 });
    expect(note.metadata?.['kind']).toBe('too_many_sockets');
    await b.next((f) => f.type === 'notification', SLOW);
    // One closes: there is room again.
    await c.close();
    await eventually(async () => {
      const d = await set.connect(r2, token);
      track(d);
    });
  }, 60_000);

  it('the per-client HTTP limit holds across replicas', async () => {
    const [r1, r2] = set.replicas as [Replica, Replica];
    const token = await set.token('dora');
    const codes: number[] = [];
    for (let i = 0; i < 60; i++) codes.push((await rest(i % 2 === 0 ? r1 : r2, '/sessions', token)).status);
    // 40 per minute per client address for the whole service (earlier tests used a few): with a
    // limit per replica, all 60 would pass (30 on each).
    const ok = codes.filter((c) => c === 200).length;
    const refused = codes.filter((c) => c === 429).length;
    expect(ok + refused).toBe(60);
    expect(ok).toBeLessThanOrEqual(40);
    expect(refused).toBeGreaterThanOrEqual(20);
    expect(await set.sum('chatbox_ratelimit_blocked_total', { limiter: 'http' })).toBe(refused);
  });

  it('an admin console on one replica gets the rows of a session started and messaged on the other', async () => {
    const [r1, r2] = set.replicas as [Replica, Replica];
    const admin = track(await set.connect(r2, await set.token('ivy', true)));
    await admin.next(isStatus, SLOW);
    admin.send({ type: 'console_subscribe' });
    // The first metrics frame means the console is watching.
    await admin.next((f) => f.type === 'console_metrics', SLOW);
    const user = track(await set.connect(r1, await set.token('gia')));
    await user.next(isStatus, SLOW);
    user.send({ type: 'user_message', content: 'a row for the console' });
    await user.reply({ timeoutMs: 20_000 });
    const row = (f: Frame): Record<string, unknown> | undefined => (f as { session?: Record<string, unknown> }).session;
    const last = await admin.next((f) => f.type === 'console_session' && row(f)?.['user_id'] === 'gia' && row(f)?.['message_count'] === 2, SLOW);
    expect(row(last)).toMatchObject({ name: 'a row for the console', is_active: true });
    expect((await set.sessions()).find((s) => s.id === last.session_id)?.owner_instance).toBe('r1');
  }, 60_000);

  it('metrics summed over the replicas tell the truth', async () => {
    const rows = await set.sessions();
    await eventually(async () => {
      expect(await set.sum('chatbox_sessions_created_total')).toBe(rows.length);
      expect(await set.sum('chatbox_active_sessions_total')).toBe((await set.sessions()).filter((s) => s.is_active).length);
      expect(await set.sum('chatbox_websocket_connections_total')).toBe(clients.filter((c) => c.socket.readyState === c.socket.OPEN).length);
    });
    for (const r of set.replicas) {
      const x = await set.scrape(r);
      expect(x.value('chatbox_cluster_connected')).toBe(1);
      expect(x.value('chatbox_cluster_replicas')).toBe(2);
      expect(x.value('chatbox_cluster_messages_total', { direction: 'published' })).toBeGreaterThan(0);
      expect(x.value('chatbox_cluster_messages_total', { direction: 'received' })).toBeGreaterThan(0);
      expect(x.value('chatbox_cluster_delivery_seconds_count')).toBeGreaterThan(0);
      expect(x.value('chatbox_messages_dropped_total', { reason: 'unreachable' })).toBe(0);
    }
    expect(await set.sum('chatbox_admin_takeovers_total')).toBe(1);
    expect(await set.sum('chatbox_admin_handbacks_total')).toBe(1);
  });
});

describe('three replicas', () => {
  it('SIGTERM on one hands its sessions to the others: 1001, not ended, the summed gauge does not dip', async () => {
    const r3 = await set.start('r3');
    const [r1] = set.replicas as [Replica];
    const token = await set.token('eve');
    const phone = track(await set.connect(r3, token));
    await phone.next(isStatus, SLOW);
    phone.send({ type: 'user_message', content: 'remember the number 42' });
    const loading = await phone.next((f) => f.type === 'loading', { timeoutMs: 15_000 });
    const sid = loading.session_id as string;
    await phone.reply({ timeoutMs: 20_000 });
    const laptop = track(await set.connect(r1, token, sid));
    await laptop.next(isStatus, SLOW);
    await eventually(async () => expect(await set.sum('chatbox_cluster_replicas')).toBe(9));
    const active = (await set.sessions()).filter((s) => s.is_active).length;
    await eventually(async () => expect(await set.sum('chatbox_active_sessions_total')).toBe(active));
    const endedBefore = await set.sum('chatbox_sessions_ended_total');

    expect(await r3.proc.stop()).toBe(0);
    expect((await phone.closed).code).toBe(1001);
    const row = (await set.sessions()).find((s) => s.id === sid);
    expect(row?.is_active).toBe(true);
    expect(row?.end_reason).toBeNull();
    expect(['r1', 'r2']).toContain(row?.owner_instance);
    expect(await set.sum('chatbox_active_sessions_total')).toBe(active);
    expect(await set.sum('chatbox_sessions_ended_total')).toBe(endedBefore);

    // The phone reconnects elsewhere and carries on in the same session; the laptop hears it.
    const again = track(await set.connect(set.replicas[1] as Replica, token, sid));
    expect((await again.next(isStatus, SLOW)).session_id).toBe(sid);
    const fromLaptop = laptop.frames.length;
    again.send({ type: 'user_message', content: 'what was the number?' });
    await again.reply({ timeoutMs: 20_000 });
    await laptop.reply({ from: fromLaptop, timeoutMs: 20_000 });
    expect((await set.messages(sid)).map((m) => m.sender)).toEqual(['user', 'ai', 'user', 'ai']);
  }, 90_000);

  it('kill -9 of the owner mid-reply: the users reconnect, the session carries on, nothing acknowledged is lost', async () => {
    const r4 = await set.start('r4');
    const token = await set.token('finn');
    const c = track(await set.connect(r4, token));
    await c.next(isStatus, SLOW);
    c.send({ type: 'user_message', content: 'first, acknowledged' });
    const sid = (await c.next((f) => f.type === 'loading', { timeoutMs: 15_000 })).session_id as string;
    await c.reply({ timeoutMs: 20_000 });
    let from = c.frames.length;
    c.send({ type: 'user_message', content: 'second, cut by the crash' });
    await c.next((f) => f.type === 'ai_response', { from, timeoutMs: 15_000 });
    r4.proc.child.kill('SIGKILL');
    await r4.proc.exited;
    await c.closed;

    // The user reconnects to a survivor and goes on: served within a few seconds.
    const started = Date.now();
    const [r1] = set.replicas as [Replica];
    let again: TestClient | undefined;
    for (;;) {
      const d = track(await set.connect(r1, token, sid));
      const status = await d.next((f) => isStatus(f) || f.type === 'error', { timeoutMs: 10_000 });
      if (isStatus(status) && status.session_id === sid) {
        again = d;
        break;
      }
      d.terminate();
      expect(Date.now() - started).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 250));
    }
    from = again.frames.length;
    again.send({ type: 'user_message', content: 'third, after the crash' });
    await again.reply({ from, timeoutMs: 20_000 });
    expect(Date.now() - started).toBeLessThan(15_000);

    const users = (await set.messages(sid)).filter((m) => m.sender === 'user').map((m) => m.content);
    expect(users).toEqual(['first, acknowledged', 'second, cut by the crash', 'third, after the crash']);
    // The dead replica's sessions are adopted once: the summed gauge comes back to the truth.
    await eventually(async () => {
      const open = (await set.sessions()).filter((s) => s.is_active);
      expect(open.every((s) => s.owner_instance !== 'r4')).toBe(true);
      expect(await set.sum('chatbox_active_sessions_total')).toBe(open.length);
      expect(await set.sum('chatbox_cluster_replicas')).toBe(4);
    }, 15_000);
  }, 90_000);
});
