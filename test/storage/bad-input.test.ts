// Properties over random input: whatever a caller passes as a filter, a cursor or a message,
// the store either answers or throws a ChatboxError, and a refused call writes nothing.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ChatboxError } from '../../src/errors.js';
import { encodeCursor } from '../../src/storage/validate.js';
import type { OutcomeStore } from '../../src/storage/options.js';
import { contractKits, uniqueId, type StoreKit } from './support.js';

const kits: StoreKit[] = contractKits();

const anyValue = fc.oneof(
  fc.string(),
  // Any UTF-16 units, lone surrogates and NUL included.
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  fc.constantFrom('nul\u0000inside', 'lone \uD800 surrogate', '\uDC00'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  // The far ends of Date's range: PostgreSQL cannot hold them.
  fc.constantFrom(new Date(-8.64e15), new Date(8.64e15), new Date(Date.UTC(-5000, 0, 1))),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const cursorArb = fc.oneof(
  fc.string(),
  fc.base64String(),
  fc.json().map((j) => Buffer.from(j).toString('base64url')),
  fc.record({ s: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), i: fc.string() }).map((o) =>
    Buffer.from(JSON.stringify(o)).toString('base64url'),
  ),
  fc.date({ noInvalidDate: true, min: new Date('1970-01-01'), max: new Date('2100-01-01') }).map((d) => encodeCursor({ sort: 'started_at', order: 'desc', value: d.getTime(), id: 'abc' })),
);

const filterArb = fc.record(
  {
    active: fc.oneof(fc.boolean(), anyValue),
    userId: fc.oneof(fc.string(), anyValue),
    adminAssisted: fc.oneof(fc.boolean(), anyValue),
    from: fc.oneof(fc.date({ noInvalidDate: false }), anyValue),
    to: fc.oneof(fc.date({ noInvalidDate: false }), anyValue),
    cursor: fc.oneof(cursorArb, anyValue),
    limit: fc.oneof(fc.integer({ min: -5, max: 120 }), anyValue),
    sort: fc.oneof(fc.constantFrom('started_at', 'last_activity', 'message_count', 'tokens', 'user_id'), anyValue),
    order: fc.oneof(fc.constantFrom('asc', 'desc'), anyValue),
  },
  { requiredKeys: [] },
);

const messageArb = fc.record(
  {
    sender: fc.oneof(fc.constantFrom('user', 'ai', 'admin', 'system'), anyValue),
    content: fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 50 }), fc.string({ minLength: 1000, maxLength: 1100 }), anyValue),
    createdAt: fc.oneof(fc.date({ noInvalidDate: false, min: new Date('1970-01-01'), max: new Date('2100-01-01') }), anyValue),
    metadata: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), anyValue),
    inputTokens: fc.oneof(fc.nat(), fc.integer({ min: -10, max: 10 }), anyValue),
    outputTokens: fc.oneof(fc.nat(), anyValue),
    responseMs: fc.oneof(fc.double(), fc.nat(), anyValue),
  },
  { requiredKeys: [] },
);

async function footprint(kit: StoreKit, store: OutcomeStore, sessionId: string): Promise<string> {
  const driver = kit.driver();
  if (driver === undefined) return JSON.stringify(await store.getSession(sessionId));
  const rows = await driver.query('SELECT CAST((SELECT count(*) FROM sessions) AS integer) AS s, CAST((SELECT count(*) FROM messages) AS integer) AS m');
  return JSON.stringify([rows, await store.getSession(sessionId)]);
}

const onlyChatboxErrors = (error: unknown): void => {
  expect(error).toBeInstanceOf(ChatboxError);
  expect(['INVALID_MESSAGE', 'TOO_LARGE', 'NOT_FOUND']).toContain((error as ChatboxError).code);
};

describe.each(kits)('bad input never escapes as anything but a ChatboxError: $name', (kit) => {
  afterAll(() => kit.teardown());

  it('listSessions over random filters and cursors', async () => {
    const store = await kit.make({ maxContentBytes: 1024 });
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await fc.assert(
      fc.asyncProperty(filterArb, async (filter) => {
        const before = await footprint(kit, store, s.id);
        try {
          const page = await store.listSessions(filter as never);
          expect(Array.isArray(page.sessions)).toBe(true);
        } catch (error) {
          onlyChatboxErrors(error);
        }
        expect(await footprint(kit, store, s.id)).toBe(before);
      }),
      { numRuns: kit.sql ? 150 : 300 },
    );
  });

  it('appendMessage over random messages: refused ones write nothing, accepted ones write one row', async () => {
    const store = await kit.make({ maxContentBytes: 1024 });
    const s = await store.createSession({ userId: uniqueId('u'), modelId: 'm' });
    await fc.assert(
      fc.asyncProperty(messageArb, fc.boolean(), async (message, known) => {
        const target = known ? s.id : uniqueId('ghost');
        const before = (await store.findSession(s.id))!.messageCount;
        const snapshot = await footprint(kit, store, s.id);
        let accepted = false;
        try {
          await store.appendMessage(target, message as never);
          accepted = true;
        } catch (error) {
          onlyChatboxErrors(error);
        }
        if (accepted) expect((await store.findSession(s.id))!.messageCount).toBe(before + 1);
        else expect(await footprint(kit, store, s.id)).toBe(snapshot);
      }),
      { numRuns: kit.sql ? 150 : 300 },
    );
  });
});
