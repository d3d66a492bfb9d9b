// Encryption at rest: content and the name taken from it are stored AES-256-GCM sealed, each
// value with its own nonce; a wrong or missing key fails loudly instead of returning garbage:
// at start (init) with CHATBOX_ERR_DECRYPT saying which, and on any read that meets a value it
// cannot open, reported to the onDecryptError hook the app logs through.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { ChatboxError } from '../../src/errors.js';
import { createSessionStore } from '../../src/storage/index.js';
import { createMemoryStore } from '../../src/storage/memory-store.js';
import type { SqlDriver } from '../../src/storage/sql/driver.js';
import { createSqlStore, type SqlStoreOptions } from '../../src/storage/sql/sql-store.js';
import { KEY_A, KEY_B, SQL_KINDS, driverForRun, shared, uniqueId } from './support.js';

const SECRET = 'my card number is 4111 1111 1111 1111';

async function failure(promise: Promise<unknown>): Promise<ChatboxError> {
  const error = await promise.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatboxError);
  return error as ChatboxError;
}

describe('ENCRYPTION_KEY validation', () => {
  it.each([
    ['too short', Buffer.alloc(16).toString('base64')],
    ['too long', Buffer.alloc(33).toString('base64')],
    ['not base64', 'this is not a key at all, not even close!!'],
    ['empty', ''],
  ])('refuses a key that is %s at construction, before opening anything', async (_what, key) => {
    expect(() => createMemoryStore({ instanceId: 'i', encryptionKey: key })).toThrow(
      expect.objectContaining({ code: 'CHATBOX_ERR_CONFIG', message: expect.stringContaining('32 bytes') }),
    );
    expect((await failure(createSessionStore({ kind: 'memory', instanceId: 'i', encryptionKey: key, bus: createBus() }))).code).toBe('CHATBOX_ERR_CONFIG');
    const dataDir = `/tmp/chatbox-never-created-${uniqueId('d')}`;
    expect((await failure(createSessionStore({ kind: 'sqlite', dataDir, instanceId: 'i', encryptionKey: key, bus: createBus() }))).code).toBe('CHATBOX_ERR_CONFIG');
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe.each(SQL_KINDS)('encryption at rest: %s', (kind) => {
  let cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups) await c();
    cleanups = [];
  });
  /** A fresh database, and a maker of initialised stores over it. */
  async function database(): Promise<{ driver: SqlDriver; make: (extra?: Partial<SqlStoreOptions>) => Promise<ReturnType<typeof createSqlStore>> }> {
    const run = await driverForRun(kind);
    cleanups.push(run.cleanup);
    return {
      driver: run.driver,
      async make(extra = {}) {
        const store = createSqlStore(shared(run.driver), { instanceId: uniqueId('i'), ...extra });
        await store.init();
        return store;
      },
    };
  }
  const truthy = (v: unknown): boolean => v === true || v === 1;

  it('stores content and name sealed, reads them back in clear', async () => {
    const { driver, make } = await database();
    const store = await make({ encryptionKey: KEY_A });
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.appendMessage(s.id, { sender: 'user', content: SECRET });
    await store.appendMessage(s.id, { sender: 'ai', content: SECRET });
    const rows = await driver.query<{ content: string; content_enc: unknown }>('SELECT content, content_enc FROM messages WHERE session_id = $1 ORDER BY seq', [s.id]);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(truthy(row.content_enc)).toBe(true);
      expect(row.content).not.toContain('4111');
      expect(row.content).not.toContain('card');
    }
    // Same plaintext, different nonces: the stored values differ.
    expect(rows[0]!.content).not.toBe(rows[1]!.content);
    const [session] = await driver.query<{ name: string }>('SELECT name FROM sessions WHERE id = $1', [s.id]);
    expect(session!.name).not.toContain('card');
    const read = await store.getSession(s.id);
    expect(read?.name).toBe(SECRET);
    expect(read?.messages.map((m) => m.content)).toEqual([SECRET, SECRET]);
  });

  it('refuses to start with a wrong or a missing key, saying which', async () => {
    const { make } = await database();
    const writer = await make({ encryptionKey: KEY_A });
    const s = await writer.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await writer.appendMessage(s.id, { sender: 'user', content: SECRET });
    const wrong = await failure(make({ encryptionKey: KEY_B }));
    expect(wrong.code).toBe('CHATBOX_ERR_DECRYPT');
    expect(wrong.message).toMatch(/ENCRYPTION_KEY is wrong/);
    const missing = await failure(make());
    expect(missing.code).toBe('CHATBOX_ERR_DECRYPT');
    expect(missing.message).toMatch(/ENCRYPTION_KEY is missing/);
    // The right key still starts.
    expect((await (await make({ encryptionKey: KEY_A })).getSession(s.id))?.messages[0]?.content).toBe(SECRET);
  });

  it('checks the key of a database encrypted before the key check existed, and remembers it', async () => {
    const { driver, make } = await database();
    const writer = await make({ encryptionKey: KEY_A });
    const s = await writer.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await writer.appendMessage(s.id, { sender: 'user', content: SECRET });
    await driver.query('DELETE FROM store_meta');
    expect((await failure(make({ encryptionKey: KEY_B }))).message).toMatch(/wrong/);
    expect((await failure(make())).message).toMatch(/missing/);
    await make({ encryptionKey: KEY_A });
    expect(await driver.query('SELECT key FROM store_meta')).toEqual([{ key: 'key_check' }]);
  });

  it('answers a read it cannot decrypt with CHATBOX_ERR_DECRYPT and reports it', async () => {
    const { driver, make } = await database();
    const writer = await make({ encryptionKey: KEY_A });
    const user = uniqueId('u');
    const s = await writer.createSession({ userId: user, modelId: 'm' });
    await writer.appendMessage(s.id, { sender: 'user', content: SECRET });
    // Not initialised (so the start check does not stop it): every read meets sealed values.
    for (const encryptionKey of [KEY_B, undefined]) {
      const seen: string[] = [];
      const reader = createSqlStore(shared(driver), {
        instanceId: uniqueId('i'),
        ...(encryptionKey === undefined ? {} : { encryptionKey }),
        onDecryptError: (e) => seen.push(e.code),
      });
      expect((await failure(reader.getSession(s.id))).code).toBe('CHATBOX_ERR_DECRYPT');
      expect((await failure(reader.listUserSessions(user))).code).toBe('CHATBOX_ERR_DECRYPT');
      expect(seen).toEqual(['CHATBOX_ERR_DECRYPT', 'CHATBOX_ERR_DECRYPT']);
    }
  });

  it('detects a sealed value moved into another session', async () => {
    const { driver, make } = await database();
    const store = await make({ encryptionKey: KEY_A });
    const a = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const b = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.appendMessage(a.id, { sender: 'ai', content: SECRET });
    await store.appendMessage(b.id, { sender: 'ai', content: 'harmless' });
    await driver.query('UPDATE messages SET content = (SELECT content FROM messages WHERE session_id = $1 AND seq = 1) WHERE session_id = $2 AND seq = 1', [a.id, b.id]);
    expect((await failure(store.getSession(b.id))).code).toBe('CHATBOX_ERR_DECRYPT');
  });

  it('reads rows written before encryption was turned on', async () => {
    const { make } = await database();
    const plain = await make();
    const s = await plain.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await plain.appendMessage(s.id, { sender: 'user', content: 'old message' });
    const sealed = await make({ encryptionKey: KEY_A });
    expect((await sealed.getSession(s.id))?.messages.map((m) => m.content)).toEqual(['old message']);
  });
});
