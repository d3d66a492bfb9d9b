// The store additions (admin name, help flag, share tokens, stats, sorts, replica moves) over
// every SessionStore: one contract, describe.each over the kits.
import { afterAll, describe, expect, it } from 'vitest';
import type { AdminSessionFilter, SessionRecord, SessionSort } from '../../src/storage/types.js';
import { SESSION_SORTS } from '../../src/storage/types.js';
import { contractKits, rejection, steppingClock, uniqueId } from './support.js';

describe.each(contractKits())('SessionStore additions: $name', (kit) => {
  afterAll(() => kit.teardown());

  it('starts with no activity, no tokens, no admin, no help request', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    expect(s).toMatchObject({ tokens: 0, adminName: null, helpRequested: false });
    expect(s.lastActivity.getTime()).toBe(s.startedAt.getTime());
    expect(await store.findSession(s.id)).toEqual(s);
  });

  it('keeps lastActivity, tokens and responseMs from the messages', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const t1 = new Date(s.startedAt.getTime() + 5_000);
    const t2 = new Date(s.startedAt.getTime() + 9_000);
    await store.appendMessage(s.id, { sender: 'user', content: 'q', createdAt: t1, inputTokens: 3 });
    const reply = await store.appendMessage(s.id, { sender: 'ai', content: 'a', createdAt: t2, inputTokens: 10, outputTokens: 20, responseMs: 1234.5 });
    expect(reply.responseMs).toBe(1234.5);
    const full = await store.getSession(s.id);
    expect(full?.tokens).toBe(33);
    expect(full?.lastActivity.toISOString()).toBe(t2.toISOString());
    expect(full?.messages.map((m) => m.responseMs)).toEqual([null, 1234.5]);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
      expect((await rejection(store.appendMessage(s.id, { sender: 'ai', content: 'x', responseMs: bad as never }))).code).toBe('INVALID_MESSAGE');
    }
    expect((await store.findSession(s.id))?.messageCount).toBe(2);
  });

  it('setAdmin names the admin and marks the session assisted; null hands it back', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.setAdmin(s.id, 'Grace');
    expect(await store.findSession(s.id)).toMatchObject({ adminName: 'Grace', adminAssisted: true });
    await store.setAdmin(s.id, null);
    expect(await store.findSession(s.id)).toMatchObject({ adminName: null, adminAssisted: true });
    expect((await rejection(store.setAdmin(uniqueId('nope'), 'Grace'))).code).toBe('NOT_FOUND');
    expect((await rejection(store.setAdmin(s.id, ''))).code).toBe('INVALID_MESSAGE');
    expect((await rejection(store.setAdmin(s.id, 42 as never))).code).toBe('INVALID_MESSAGE');
    // Ending a session ends the admin's hold: reopened, it starts with the AI (and stays assisted).
    await store.setAdmin(s.id, 'Grace');
    await store.endSession(s.id, 'admin');
    expect(await store.findSession(s.id)).toMatchObject({ adminName: null, adminAssisted: true });
    expect(await store.resumeSession(s.id)).toMatchObject({ adminName: null, isActive: true });
  });

  it('markHelpRequested sets a flag that stays', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.markHelpRequested(s.id);
    await store.endSession(s.id, 'user');
    await store.markHelpRequested(s.id);
    expect((await store.findSession(s.id))?.helpRequested).toBe(true);
    expect((await rejection(store.markHelpRequested(uniqueId('nope')))).code).toBe('NOT_FOUND');
  });

  it('shares a session with one stable token until revoked', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.appendMessage(s.id, { sender: 'user', content: 'shared question' });
    const token = await store.shareSession(s.id);
    expect(token).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(await store.shareSession(s.id)).toBe(token);
    const shared = await store.findShared(token);
    expect(shared?.id).toBe(s.id);
    expect(shared?.messages.map((m) => m.content)).toEqual(['shared question']);
    expect(await store.revokeShare(s.id)).toBe(true);
    expect(await store.revokeShare(s.id)).toBe(false);
    expect(await store.findShared(token)).toBeUndefined();
    const again = await store.shareSession(s.id);
    expect(again).not.toBe(token);
    expect((await store.findShared(again))?.id).toBe(s.id);
    const other = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    expect(await store.shareSession(other.id)).not.toBe(again);
    expect(await store.findShared('x'.repeat(32))).toBeUndefined();
    expect(await store.findShared('not a token')).toBeUndefined();
    expect(await store.findShared(42 as never)).toBeUndefined();
    expect((await rejection(store.shareSession(uniqueId('nope')))).code).toBe('NOT_FOUND');
    expect(await store.revokeShare(uniqueId('nope'))).toBe(false);
  });

  it('stats count sessions, messages, tokens and response times in [from, to)', async () => {
    const base = Date.parse('2033-03-01T00:00:00Z');
    const store = await kit.make({ now: steppingClock(base) });
    // Far from every other test's clock, so the range holds only these sessions.
    const a = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const b = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const c = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.endSession(b.id, 'user');
    await store.setAdmin(a.id, 'Ada');
    const at = (s: number) => new Date(base + s * 1000);
    await store.appendMessage(a.id, { sender: 'user', content: 'q', createdAt: at(10), inputTokens: 1 });
    await store.appendMessage(a.id, { sender: 'ai', content: 'r', createdAt: at(11), outputTokens: 4, responseMs: 1000 });
    await store.appendMessage(c.id, { sender: 'ai', content: 'r', createdAt: at(12), outputTokens: 5, responseMs: 3000 });
    await store.appendMessage(c.id, { sender: 'ai', content: 'late', createdAt: at(500), outputTokens: 100, responseMs: 9000 });
    const inRange = await store.stats({ from: at(0), to: at(100) });
    expect(inRange).toEqual({
      sessions: 3,
      activeSessions: 2,
      adminAssisted: 1,
      messages: 3,
      tokens: 10,
      avgResponseSeconds: 2,
      maxResponseSeconds: 3,
    });
    const onlyC = await store.stats({ from: c.startedAt, to: new Date(c.startedAt.getTime() + 1) });
    expect(onlyC).toMatchObject({ sessions: 1, activeSessions: 1, adminAssisted: 0, messages: 0, tokens: 0, avgResponseSeconds: null, maxResponseSeconds: null });
    const empty = await store.stats({ from: at(-100), to: at(-50) });
    expect(empty).toEqual({ sessions: 0, activeSessions: 0, adminAssisted: 0, messages: 0, tokens: 0, avgResponseSeconds: null, maxResponseSeconds: null });
    expect((await rejection(store.stats({ from: at(5), to: at(5) }))).code).toBe('INVALID_MESSAGE');
    expect((await rejection(store.stats({ from: new Date('x'), to: at(5) }))).code).toBe('INVALID_MESSAGE');
  });

  it('sorts the admin listing by every key in both orders, cursor paging included', async () => {
    const store = await kit.make({ now: steppingClock(Date.parse('2034-01-01T00:00:00Z')) });
    const user = uniqueId('u');
    const made: SessionRecord[] = [];
    // Ties on purpose (equal counts and tokens), so the id tie-break is exercised.
    const plan = [
      { n: 2, tok: 5 },
      { n: 0, tok: 0 },
      { n: 3, tok: 5 },
      { n: 2, tok: 1 },
      { n: 1, tok: 9 },
      { n: 3, tok: 0 },
    ];
    for (const [i, p] of plan.entries()) {
      const s = await store.createSession({ userId: `${user}-${String.fromCharCode(102 - i)}`, modelId: 'm' });
      for (let k = 0; k < p.n; k++) {
        await store.appendMessage(s.id, { sender: 'user', content: 'x', createdAt: new Date(Date.parse('2034-02-01T00:00:00Z') + ((i * 7) % 5) * 1000 + k), inputTokens: k === 0 ? p.tok : 0 });
      }
      made.push(s);
    }
    const mine = new Set(made.map((s) => s.id));
    const all = (await Promise.all(made.map((s) => store.findSession(s.id)))) as SessionRecord[];
    const key = (s: SessionRecord, sort: SessionSort): number | string =>
      sort === 'started_at' ? s.startedAt.getTime() : sort === 'last_activity' ? s.lastActivity.getTime() : sort === 'message_count' ? s.messageCount : sort === 'tokens' ? s.tokens : s.userId;
    for (const sort of SESSION_SORTS) {
      for (const order of ['asc', 'desc'] as const) {
        const sign = order === 'asc' ? 1 : -1;
        const expected = [...all]
          .sort((x, y) => {
            const a = key(x, sort);
            const b = key(y, sort);
            if (a !== b) return (a < b ? -1 : 1) * sign;
            return (x.id < y.id ? -1 : 1) * sign;
          })
          .map((s) => s.id);
        const walked: string[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 10; page++) {
          const filter: AdminSessionFilter = { sort, order, limit: 2, from: made[0]!.startedAt, ...(cursor === undefined ? {} : { cursor }) };
          const result = await store.listSessions(filter);
          walked.push(...result.sessions.map((s) => s.id).filter((id) => mine.has(id)));
          if (result.nextCursor === null) break;
          cursor = result.nextCursor;
        }
        expect({ sort, order, walked }).toEqual({ sort, order, walked: expected });
      }
    }
    const first = await store.listSessions({ sort: 'tokens', order: 'asc', limit: 1, from: made[0]!.startedAt });
    expect((await rejection(store.listSessions({ sort: 'tokens', order: 'desc', cursor: first.nextCursor! }))).code).toBe('INVALID_MESSAGE');
    expect((await rejection(store.listSessions({ sort: 'message_count', cursor: first.nextCursor! }))).code).toBe('INVALID_MESSAGE');
    expect((await rejection(store.listSessions({ sort: 'name' as never }))).code).toBe('INVALID_MESSAGE');
    expect((await rejection(store.listSessions({ order: 'up' as never }))).code).toBe('INVALID_MESSAGE');
  });

  if (kit.shared) {
    it('transfers open sessions to another instance and adopts a dead one\'s, each session once', async () => {
      const [ia, ib, ic] = [uniqueId('inst'), uniqueId('inst'), uniqueId('inst')];
      const a = await kit.make({ instanceId: ia });
      const b = await kit.make({ instanceId: ib });
      const c = await kit.make({ instanceId: ic });
      const user = uniqueId('u');
      const open = await Promise.all(Array.from({ length: 6 }, () => a.createSession({ userId: user, modelId: 'm' })));
      await a.endSession(open[0]!.id, 'user');
      expect(a.openSessionCount()).toBe(5);
      expect(await a.transferOpenSessions(ib)).toBe(5);
      expect(a.openSessionCount()).toBe(0);
      expect(b.openSessionCount()).toBe(0);
      expect(await b.refreshOpenCount()).toBe(5);
      expect(b.openSessionCount()).toBe(5);
      expect(await a.transferOpenSessions(ib)).toBe(0);
      // b dies; a and c race to adopt its sessions: each moves once.
      const [na, nc] = await Promise.all([a.adoptOpenSessions(ib), c.adoptOpenSessions(ib)]);
      expect(na + nc).toBe(5);
      expect(a.openSessionCount() + c.openSessionCount()).toBe(5);
      expect(await a.refreshOpenCount()).toBe(na);
      expect(await c.refreshOpenCount()).toBe(nc);
      expect(await b.refreshOpenCount()).toBe(0);
      expect(await c.adoptOpenSessions(ib)).toBe(0);
      expect(await a.endAllOpen('shutdown')).toBe(na);
      expect(await c.endAllOpen('shutdown')).toBe(nc);
      expect((await rejection(a.adoptOpenSessions(''))).code).toBe('INVALID_MESSAGE');
    });
  }

  it('refreshOpenCount agrees with the sessions it owns', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.endSession(s.id, 'user');
    expect(await store.refreshOpenCount()).toBe(1);
    expect(store.openSessionCount()).toBe(1);
  });
});
