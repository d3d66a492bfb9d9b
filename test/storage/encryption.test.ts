// Encryption at rest: content and the name taken from it are stored AES-256-GCM sealed, each
// value with its own nonce; a wrong or missing key fails loudly instead of returning garbage.
import { afterAll, describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { ChatboxError } from '../../src/errors.js';
import { createSessionStore } from '../../src/storage/index.js';
import { createMemoryStore } from '../../src/storage/memory-store.js';
import { createSqlStore } from '../../src/storage/sql/sql-store.js';
import { DATABASE_URL, KEY_A, KEY_B, pgliteKit, postgresKit, uniqueId, type StoreKit } from './support.js';

const SECRET = 'my card number is 4111 1111 1111 1111';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatboxError);
  return (error as ChatboxError).code;
}

describe('ENCRYPTION_KEY validation', () => {
  it.each([
    ['too short', Buffer.alloc(16).toString('base64')],
    ['too long', Buffer.alloc(33).toString('base64')],
    ['not base64', 'this is not a key at all, not even close!!'],
    ['empty', ''],
  ])('refuses a key that is %s at construction', async (_what, key) => {
    expect(() => createMemoryStore({ instanceId: 'i', encryptionKey: key })).toThrow(
      expect.objectContaining({ code: 'CHATBOX_ERR_CONFIG', message: expect.stringContaining('32 bytes') }),
    );
    expect(await codeOf(createSessionStore({ kind: 'memory', instanceId: 'i', encryptionKey: key, bus: createBus() }))).toBe(
      'CHATBOX_ERR_CONFIG',
    );
    expect(await codeOf(createSessionStore({ kind: 'pglite', dataDir: '/nonexistent/never-created', instanceId: 'i', encryptionKey: key, bus: createBus() }))).toBe(
      'CHATBOX_ERR_CONFIG',
    );
  });
});

const kits: StoreKit[] = [pgliteKit(), ...(DATABASE_URL === undefined ? [] : [postgresKit()])];

describe.each(kits)('encryption at rest: $name', (kit) => {
  afterAll(() => kit.teardown());

  it('stores content and name sealed, reads them back in clear', async () => {
    const store = await kit.make({ encryptionKey: KEY_A });
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.appendMessage(s.id, { sender: 'user', content: SECRET });
    await store.appendMessage(s.id, { sender: 'ai', content: SECRET });
    const raw = kit.driver()!;
    const rows = await raw.query<{ content: string; content_enc: boolean }>(
      'SELECT content, content_enc FROM messages WHERE session_id = $1 ORDER BY seq',
      [s.id],
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.content_enc).toBe(true);
      expect(row.content).not.toContain('4111');
      expect(row.content).not.toContain('card');
    }
    // Same plaintext, different nonces: the stored values differ.
    expect(rows[0]!.content).not.toBe(rows[1]!.content);
    const [session] = await raw.query<{ name: string }>('SELECT name FROM sessions WHERE id = $1', [s.id]);
    expect(session!.name).not.toContain('card');
    const read = await store.getSession(s.id);
    expect(read?.name).toBe(SECRET);
    expect(read?.messages.map((m) => m.content)).toEqual([SECRET, SECRET]);
  });

  it('fails with CHATBOX_ERR_DECRYPT under a wrong key or without a key', async () => {
    const writer = await kit.make({ encryptionKey: KEY_A });
    const user = uniqueId('u');
    const s = await writer.createSession({ userId: user, modelId: 'm' });
    await writer.appendMessage(s.id, { sender: 'user', content: SECRET });
    const wrong = await kit.make({ encryptionKey: KEY_B });
    expect(await codeOf(wrong.getSession(s.id))).toBe('CHATBOX_ERR_DECRYPT');
    expect(await codeOf(wrong.listUserSessions(user))).toBe('CHATBOX_ERR_DECRYPT');
    const none = await kit.make();
    expect(await codeOf(none.getSession(s.id))).toBe('CHATBOX_ERR_DECRYPT');
  });

  it('detects a sealed value moved into another session', async () => {
    const store = await kit.make({ encryptionKey: KEY_A });
    const a = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    const b = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await store.appendMessage(a.id, { sender: 'ai', content: SECRET });
    await store.appendMessage(b.id, { sender: 'ai', content: 'harmless' });
    const raw = kit.driver()!;
    await raw.query(
      'UPDATE messages SET content = (SELECT content FROM messages WHERE session_id = $1 AND seq = 1) WHERE session_id = $2 AND seq = 1',
      [a.id, b.id],
    );
    expect(await codeOf(store.getSession(b.id))).toBe('CHATBOX_ERR_DECRYPT');
  });

  it('reads rows written before encryption was turned on', async () => {
    const plain = await kit.make();
    const s = await plain.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await plain.appendMessage(s.id, { sender: 'user', content: 'old message' });
    const sealed = createSqlStore(kit.driver()!, { instanceId: uniqueId('i'), encryptionKey: KEY_A });
    expect((await sealed.getSession(s.id))?.messages.map((m) => m.content)).toEqual(['old message']);
  });
});
