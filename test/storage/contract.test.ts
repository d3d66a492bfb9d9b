// One contract, every SessionStore: memory, SQLite, and PostgreSQL when DATABASE_URL is set.
import { afterAll, describe, expect, it } from 'vitest';
import { ChatboxError } from '../../src/errors.js';
import type { SessionRecord } from '../../src/storage/types.js';
import { contractKits, rejection, steppingClock, uniqueId, type StoreKit } from './support.js';

const kits: StoreKit[] = contractKits();

describe.each(kits)('SessionStore contract: $name', (kit) => {
  afterAll(() => kit.teardown());

  it('creates sessions owned by this instance and counts them open', async () => {
    const store = await kit.make();
    const user = uniqueId('u');
    expect(store.openSessionCount()).toBe(0);
    const a = await store.createSession({ userId: user, modelId: 'm1' });
    const b = await store.createSession({ id: uniqueId('sess'), userId: user, modelId: 'm2' });
    expect(store.openSessionCount()).toBe(2);
    expect(a).toMatchObject({ userId: user, modelId: 'm1', isActive: true, name: null, endedAt: null, endReason: null, adminAssisted: false, messageCount: 0 });
    expect(a.startedAt).toBeInstanceOf(Date);
    expect(await store.findSession(b.id)).toEqual(b);
    expect(await store.findSession(uniqueId('missing'))).toBeUndefined();
  });

  it('refuses a duplicate id (CONFLICT) and malformed input, writing nothing', async () => {
    const store = await kit.make();
    const id = uniqueId('dup');
    const user = uniqueId('u');
    await store.createSession({ id, userId: user, modelId: 'm' });
    expect((await rejection(store.createSession({ id, userId: uniqueId('other'), modelId: 'm' }))).code).toBe('CONFLICT');
    expect((await rejection(store.createSession({ id: 'has space', userId: user, modelId: 'm' }))).code).toBe('INVALID_MESSAGE');
    expect((await rejection(store.createSession({ userId: '', modelId: 'm' }))).code).toBe('INVALID_MESSAGE');
    expect((await rejection(store.createSession({ userId: user, modelId: '' }))).code).toBe('INVALID_MESSAGE');
    expect(store.openSessionCount()).toBe(1);
    expect(await store.listUserSessions(user)).toHaveLength(1);
    expect((await store.findSession(id))?.userId).toBe(user);
  });

  it('appends messages in order with seq from 1; the first user message names the session', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const at = new Date('2031-02-03T04:05:06.789Z');
    const r1 = await store.appendMessage(s.id, { sender: 'system', content: 'welcome' });
    const r2 = await store.appendMessage(s.id, { sender: 'user', content: '  How do I reset my password?  ', createdAt: at });
    const r3 = await store.appendMessage(s.id, {
      sender: 'ai',
      content: 'Click "forgot password". ü 🎉',
      metadata: { model_id: 'm' },
      inputTokens: 12,
      outputTokens: 34,
    });
    await store.appendMessage(s.id, { sender: 'user', content: 'second question' });
    expect([r1.seq, r2.seq, r3.seq]).toEqual([1, 2, 3]);
    expect(r2.createdAt.toISOString()).toBe(at.toISOString());
    const full = await store.getSession(s.id);
    expect(full?.name).toBe('How do I reset my password?');
    expect(full?.messageCount).toBe(4);
    expect(full?.messages.map((m) => [m.seq, m.sender, m.content])).toEqual([
      [1, 'system', 'welcome'],
      [2, 'user', '  How do I reset my password?  '],
      [3, 'ai', 'Click "forgot password". ü 🎉'],
      [4, 'user', 'second question'],
    ]);
    expect(full?.messages[2]).toMatchObject({ metadata: { model_id: 'm' }, inputTokens: 12, outputTokens: 34, sessionId: s.id });
    expect(full?.messages[1]?.createdAt.toISOString()).toBe(at.toISOString());
    expect((await store.findSession(s.id))?.messageCount).toBe(4);
  });

  it('names a session from at most 100 characters of the first user message', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.appendMessage(s.id, { sender: 'user', content: '€'.repeat(300) });
    expect((await store.findSession(s.id))?.name).toBe('€'.repeat(100));
  });

  it('refuses unknown sessions, oversized content and bad fields; nothing is written', async () => {
    const store = await kit.make({ maxContentBytes: 1000 });
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    expect((await rejection(store.appendMessage(uniqueId('nope'), { sender: 'user', content: 'x' }))).code).toBe('NOT_FOUND');
    expect((await rejection(store.appendMessage('not an id!', { sender: 'user', content: 'x' }))).code).toBe('NOT_FOUND');
    expect((await rejection(store.appendMessage(s.id, { sender: 'user', content: 'x'.repeat(1001) }))).code).toBe('TOO_LARGE');
    // 334 three-byte characters are 1002 bytes although only 334 UTF-16 units.
    expect((await rejection(store.appendMessage(s.id, { sender: 'user', content: '€'.repeat(334) }))).code).toBe('TOO_LARGE');
    const bad = [
      { sender: 'robot', content: 'x' },
      { sender: 'user', content: 42 },
      { sender: 'user', content: 'x', inputTokens: -1 },
      { sender: 'user', content: 'x', outputTokens: 1.5 },
      { sender: 'user', content: 'x', metadata: { k: 1 } },
      { sender: 'user', content: 'x', createdAt: new Date('nope') },
    ];
    for (const message of bad) {
      expect((await rejection(store.appendMessage(s.id, message as never))).code).toBe('INVALID_MESSAGE');
    }
    const ok = await store.appendMessage(s.id, { sender: 'user', content: 'x'.repeat(1000) });
    expect(ok.seq).toBe(1);
    expect((await store.getSession(s.id))?.messages).toHaveLength(1);
    expect((await rejection(store.setModel(uniqueId('nope'), 'm'))).code).toBe('NOT_FOUND');
    expect((await rejection(store.markAdminAssisted(uniqueId('nope')))).code).toBe('NOT_FOUND');
  });

  it('refuses NUL and repairs lone surrogates without failing the other appends of a batch', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const results = await Promise.allSettled([
      store.appendMessage(s.id, { sender: 'user', content: 'before' }),
      store.appendMessage(s.id, { sender: 'user', content: 'nul \u0000 here' }),
      store.appendMessage(s.id, { sender: 'user', content: 'x', metadata: { k: '\u0000' } }),
      store.appendMessage(s.id, { sender: 'ai', content: 'lone \uD800 surrogate', metadata: { k: '\uDC00' } }),
      store.appendMessage(s.id, { sender: 'ai', content: 'after' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as ChatboxError).code).toBe('INVALID_MESSAGE');
    const full = await store.getSession(s.id);
    expect(full?.messages.map((m) => m.content)).toEqual(['before', 'lone \uFFFD surrogate', 'after']);
    expect(full?.messages[1]?.metadata).toEqual({ k: '\uFFFD' });
    expect((results[3] as PromiseFulfilledResult<{ content: string }>).value.content).toBe('lone \uFFFD surrogate');
  });

  it('ends a session once; ending again changes nothing; unknown ids give undefined', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const first = await store.endSessionOutcome(s.id, 'idle');
    expect(first?.changed).toBe(true);
    expect(first?.record).toMatchObject({ isActive: false, endReason: 'idle' });
    expect(first?.record.endedAt).toBeInstanceOf(Date);
    expect(store.openSessionCount()).toBe(0);
    const again = await store.endSession(s.id, 'user');
    expect(again).toMatchObject({ isActive: false, endReason: 'idle' });
    expect((await store.endSessionOutcome(s.id, 'admin'))?.changed).toBe(false);
    expect(store.openSessionCount()).toBe(0);
    expect(await store.endSession(uniqueId('nope'), 'user')).toBeUndefined();
    expect((await rejection(store.endSession(s.id, 'bored' as never))).code).toBe('INVALID_MESSAGE');
  });

  it('resumes an ended session with its messages, under this instance', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.appendMessage(s.id, { sender: 'user', content: 'hello' });
    await store.endSession(s.id, 'shutdown');
    expect(store.openSessionCount()).toBe(0);
    const resumed = await store.resumeSession(s.id);
    expect(resumed).toMatchObject({ id: s.id, isActive: true, endedAt: null, endReason: null, messageCount: 1 });
    expect(store.openSessionCount()).toBe(1);
    // Resuming an open session of ours changes nothing.
    await store.resumeSession(s.id);
    expect(store.openSessionCount()).toBe(1);
    const next = await store.appendMessage(s.id, { sender: 'ai', content: 'welcome back' });
    expect(next.seq).toBe(2);
    expect(await store.resumeSession(uniqueId('nope'))).toBeUndefined();
  });

  it('sets the model and the admin-assisted flag', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm1' });
    await store.setModel(s.id, 'm2');
    await store.markAdminAssisted(s.id);
    expect(await store.findSession(s.id)).toMatchObject({ modelId: 'm2', adminAssisted: true });
  });

  it("lists a user's sessions newest first, and only theirs", async () => {
    const store = await kit.make({ now: steppingClock() });
    const user = uniqueId('u');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store.createSession({ userId: user, modelId: 'm' })).id);
    await store.createSession({ userId: uniqueId('other'), modelId: 'm' });
    const listed = await store.listUserSessions(user);
    expect(listed.map((s) => s.id)).toEqual([...ids].reverse());
    expect((await store.listUserSessions(user, 2)).map((s) => s.id)).toEqual([ids[4], ids[3]]);
    expect((await rejection(store.listUserSessions(user, 0))).code).toBe('INVALID_MESSAGE');
  });

  it('filters and paginates the admin listing with an opaque cursor', async () => {
    const clock = steppingClock(Date.parse('2032-06-01T00:00:00Z'));
    const store = await kit.make({ now: clock });
    const user = uniqueId('u');
    const made: SessionRecord[] = [];
    for (let i = 0; i < 7; i++) made.push(await store.createSession({ userId: user, modelId: 'm' }));
    await store.endSession(made[1]!.id, 'user');
    await store.endSession(made[4]!.id, 'idle');
    await store.markAdminAssisted(made[2]!.id);
    await store.markAdminAssisted(made[4]!.id);
    const newestFirst = [...made].reverse().map((s) => s.id);

    const walked: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await store.listSessions({ userId: user, limit: 3, ...(cursor === undefined ? {} : { cursor }) });
      walked.push(...result.sessions.map((s) => s.id));
      if (result.nextCursor === null) break;
      expect(result.sessions).toHaveLength(3);
      cursor = result.nextCursor;
    }
    expect(walked).toEqual(newestFirst);

    const ids = async (filter: Parameters<typeof store.listSessions>[0]) =>
      (await store.listSessions({ userId: user, ...filter })).sessions.map((s) => s.id);
    expect(await ids({ active: false })).toEqual([made[4]!.id, made[1]!.id]);
    expect(await ids({ active: true })).toHaveLength(5);
    expect(await ids({ adminAssisted: true })).toEqual([made[4]!.id, made[2]!.id]);
    expect(await ids({ active: true, adminAssisted: true })).toEqual([made[2]!.id]);
    expect(await ids({ from: made[2]!.startedAt, to: made[5]!.startedAt })).toEqual([made[4]!.id, made[3]!.id, made[2]!.id]);
    expect(await ids({ userId: uniqueId('nobody') })).toEqual([]);
    const exact = await store.listSessions({ userId: user, limit: 7 });
    expect(exact.nextCursor).toBeNull();
  });

  it('refuses malformed cursors, empty time ranges and bad limits', async () => {
    const store = await kit.make();
    const t = new Date('2030-01-01T00:00:00Z');
    for (const filter of [
      { cursor: 'not base64!' },
      { cursor: Buffer.from('{"s":"yesterday","i":"x"}').toString('base64url') },
      { cursor: Buffer.from('[1,2]').toString('base64url') },
      { cursor: 'e30' },
      { from: t, to: t },
      { from: new Date(t.getTime() + 1), to: t },
      { from: new Date('garbage') },
      { limit: 0 },
      { limit: 101 },
      { limit: 2.5 },
    ]) {
      expect((await rejection(store.listSessions(filter))).code).toBe('INVALID_MESSAGE');
    }
  });

  it('lists a user whose id holds a lone surrogate by the id as stored (U+FFFD), like every other lookup', async () => {
    const store = await kit.make();
    const user = `${uniqueId('u')}\ud800`;
    const created = await store.createSession({ userId: user, modelId: 'm' });
    expect(created.userId).toBe(user.replace('\ud800', '\ufffd'));
    expect((await store.listUserSessions(user)).map((s) => s.id)).toEqual([created.id]);
    expect((await store.listSessions({ userId: user })).sessions.map((s) => s.id)).toEqual([created.id]);
  });

  it('endAllOpen ends every open session of this instance', async () => {
    const store = await kit.make({ now: steppingClock() });
    const user = uniqueId('u');
    const a = await store.createSession({ userId: user, modelId: 'm' });
    await store.createSession({ userId: user, modelId: 'm' });
    await store.endSession(a.id, 'user');
    expect(await store.endAllOpen('shutdown')).toBe(1);
    expect(store.openSessionCount()).toBe(0);
    const listed = await store.listUserSessions(user);
    expect(listed.map((s) => [s.isActive, s.endReason])).toEqual([
      [false, 'shutdown'],
      [false, 'user'],
    ]);
    expect(await store.endAllOpen('shutdown')).toBe(0);
  });

  it('keeps per-session order when many sessions append at once', async () => {
    const store = await kit.make();
    const sessions = await Promise.all(
      Array.from({ length: 40 }, () => store.createSession({ userId: uniqueId('u'), modelId: 'm' })),
    );
    const perSession = 25;
    // Interleaved, none awaited: every session's appends race every other session's.
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < perSession; i++) {
      for (const s of sessions) pending.push(store.appendMessage(s.id, { sender: i % 2 === 0 ? 'user' : 'ai', content: `${s.id}:${i}` }));
    }
    // And some that await each append, the way a conversation does.
    const conversations = sessions.slice(0, 10).map(async (s) => {
      const extra = await store.createSession({ userId: s.userId, modelId: 'm' });
      for (let i = 0; i < 10; i++) await store.appendMessage(extra.id, { sender: 'user', content: String(i) });
      return extra.id;
    });
    await Promise.all(pending);
    for (const s of sessions) {
      const full = await store.getSession(s.id);
      expect(full?.messages.map((m) => m.content)).toEqual(Array.from({ length: perSession }, (_, i) => `${s.id}:${i}`));
      expect(full?.messages.map((m) => m.seq)).toEqual(Array.from({ length: perSession }, (_, i) => i + 1));
    }
    for (const id of await Promise.all(conversations)) {
      expect((await store.getSession(id))?.messages.map((m) => m.content)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    }
  });

  it('close() writes every append already accepted, then refuses new calls', async () => {
    const store = await kit.make();
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const pending = Array.from({ length: 30 }, (_, i) => store.appendMessage(s.id, { sender: 'user', content: String(i) }));
    await store.close();
    const records = await Promise.all(pending);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect((await rejection(store.appendMessage(s.id, { sender: 'user', content: 'late' }))).code).toBe('INTERNAL');
    if (kit.sql) {
      const reader = await kit.make();
      expect((await reader.getSession(s.id))?.messages).toHaveLength(30);
    }
  });

  // Only a SQL store can be shared by two instances.
  if (kit.sql) it('counts only its own open sessions when instances share the database', async () => {
    const a = await kit.make();
    const b = await kit.make();
    const user = uniqueId('u');
    const s = await a.createSession({ userId: user, modelId: 'm' });
    await b.createSession({ userId: user, modelId: 'm' });
    expect([a.openSessionCount(), b.openSessionCount()]).toEqual([1, 1]);
    // b ends a's session (e.g. over REST on another replica): a's count is a's business.
    expect((await b.endSessionOutcome(s.id, 'user'))?.changed).toBe(true);
    expect(b.openSessionCount()).toBe(1);
    // b resumes it: from now on b owns it.
    await b.resumeSession(s.id);
    expect(b.openSessionCount()).toBe(2);
    expect(await a.endAllOpen('shutdown')).toBe(0);
    expect(await b.endAllOpen('shutdown')).toBe(2);
  });
});
