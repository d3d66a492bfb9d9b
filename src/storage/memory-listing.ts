// The memory store's listings over its rows: the admin page (filters, five sorts, keyset cursor)
// and a user's sessions. The reference sql/listing.ts is checked against, apart as memory-stats.ts is.
import type { SessionPage, SessionRecord } from './types.js';
import { cursorAfter, listingOrder, newerFirst, type CheckedFilter } from './validate.js';

type Rows = Iterable<{ readonly session: SessionRecord }>;

/** Up to `n` of `userId`'s sessions, newest first, as copies. */
export function memoryUserSessions(rows: Rows, userId: string, n: number): SessionRecord[] {
  return [...rows]
    .filter((r) => r.session.userId === userId)
    .map((r) => ({ ...r.session }))
    .sort(newerFirst)
    .slice(0, n);
}

export function memoryListing(rows: Rows, f: CheckedFilter): SessionPage {
  const compare = listingOrder(f.sort, f.order);
  const matching = [...rows]
    .map((r) => r.session)
    .filter(
      (s) =>
        (f.active === undefined || s.isActive === f.active) &&
        (f.userId === undefined || s.userId === f.userId) &&
        (f.adminAssisted === undefined || s.adminAssisted === f.adminAssisted) &&
        (f.from === undefined || s.startedAt.getTime() >= f.from.getTime()) &&
        (f.to === undefined || s.startedAt.getTime() < f.to.getTime()) &&
        (f.after === undefined || compare(f.after, s) < 0),
    )
    .sort(compare);
  const page = matching.slice(0, f.limit).map((s) => ({ ...s }));
  const last = page[page.length - 1];
  return { sessions: page, nextCursor: matching.length > f.limit && last !== undefined ? cursorAfter(last, f) : null };
}
