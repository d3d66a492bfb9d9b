// The admin listing of every SQL store against the memory store as the model: random sessions
// (ties in counts and tokens on purpose), random filters, sorts and page sizes; walking the pages
// with the cursors gives the same ids in the same order. Each run lives in a time window of its
// own (the `from`/`to` filter), so runs sharing one database never see each other.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/storage/memory-store.js';
import type { OutcomeStore } from '../../src/storage/options.js';
import { SESSION_SORTS, type AdminSessionFilter } from '../../src/storage/types.js';
import { DATABASE_URL, postgresKit, sqliteKit, uniqueId, type StoreKit } from './support.js';

const kits: StoreKit[] = [sqliteKit(), ...(DATABASE_URL === undefined ? [] : [postgresKit()])];
const DAY = 86_400_000;

const sessionArb = fc.record({
  user: fc.constantFrom('ann', 'bob', 'Cy', 'dee', 'émile'),
  messages: fc.array(fc.record({ tokens: fc.constantFrom(0, 1, 5), atSeconds: fc.integer({ min: 0, max: 50 }) }), { maxLength: 3 }),
  end: fc.boolean(),
  assisted: fc.boolean(),
});

type SessionPlan = typeof sessionArb extends fc.Arbitrary<infer T> ? T : never;

const filterArb = fc.record({
  sort: fc.constantFrom(...SESSION_SORTS),
  order: fc.constantFrom('asc' as const, 'desc' as const),
  limit: fc.integer({ min: 1, max: 4 }),
  active: fc.option(fc.boolean(), { nil: undefined }),
  adminAssisted: fc.option(fc.boolean(), { nil: undefined }),
});

async function fill(store: OutcomeStore, sessions: SessionPlan[], prefix: string, day: number): Promise<void> {
  for (const [i, s] of sessions.entries()) {
    const created = await store.createSession({ id: `${prefix}-${i}`, userId: `${s.user}-${prefix}`, modelId: 'm' });
    for (const m of s.messages) {
      await store.appendMessage(created.id, { sender: 'user', content: 'x', inputTokens: m.tokens, createdAt: new Date(day + 3_600_000 + m.atSeconds * 1000) });
    }
    if (s.assisted) await store.markAdminAssisted(created.id);
    if (s.end) await store.endSession(created.id, 'user');
  }
}

async function walk(store: OutcomeStore, filter: AdminSessionFilter): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const result = await store.listSessions({ ...filter, ...(cursor === undefined ? {} : { cursor }) });
    ids.push(...result.sessions.map((s) => s.id));
    if (result.nextCursor === null) return ids;
    cursor = result.nextCursor;
  }
  throw new Error('paging did not end');
}

describe.each(kits)('admin listing against the memory model: $name', (kit) => {
  afterAll(() => kit.teardown());

  it('pages through the same sessions in the same order for every filter and sort', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(sessionArb, { minLength: 1, maxLength: 8 }), fc.array(filterArb, { minLength: 1, maxLength: 4 }), async (sessions, filters) => {
        const day = Date.parse('2041-01-01T00:00:00Z') + run++ * DAY;
        let tick = day;
        // The same clock sequence for both stores: started_at, ended_at and recovery readings.
        const clock = () => () => new Date((tick += 1000));
        const prefix = uniqueId('p');
        tick = day;
        const model = createMemoryStore({ instanceId: 'model', now: clock() });
        await fill(model, sessions, prefix, day);
        tick = day;
        const real = await kit.make({ now: clock() });
        await fill(real, sessions, prefix, day);
        const window = { from: new Date(day), to: new Date(day + DAY) };
        for (const f of filters) {
          const filter: AdminSessionFilter = { ...window, ...f };
          expect({ filter: f, ids: await walk(real, filter) }).toEqual({ filter: f, ids: await walk(model, filter) });
        }
      }),
      { numRuns: 25 },
    );
  });
});
