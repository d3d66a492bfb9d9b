// Opaque cursors for the admin listing's keyset paging, for every sort and order: base64url of
// {k: sort, o: order, v: the last row's sort value, i: its id}. A cursor from another sort or
// order is refused; the pre-sort form {s: started_at, i: id} still reads as started_at desc.
import { Buffer } from 'node:buffer';
import { ChatboxError } from '../errors.js';
import type { SessionRecord, SessionSort } from './types.js';
import { isSessionId, isStorableDate } from './validate.js';

const invalid = (message: string): never => {
  throw new ChatboxError('INVALID_MESSAGE', message);
};

/** The value a session sorts by: dates as epoch milliseconds. */
export type SortValue = number | string;

export function sortValue(s: SessionRecord, sort: SessionSort): SortValue {
  switch (sort) {
    case 'started_at':
      return s.startedAt.getTime();
    case 'last_activity':
      return s.lastActivity.getTime();
    case 'message_count':
      return s.messageCount;
    case 'tokens':
      return s.tokens;
    case 'user_id':
      return s.userId;
  }
}

/** Where the next page starts in the listing order (sort, order), after the row (value, id). */
export interface PagePosition {
  readonly sort: SessionSort;
  readonly order: 'asc' | 'desc';
  readonly value: SortValue;
  readonly id: string;
}

const isDateSort = (sort: SessionSort): boolean => sort === 'started_at' || sort === 'last_activity';

export function encodeCursor(position: PagePosition): string {
  const v = isDateSort(position.sort) ? new Date(position.value as number).toISOString() : position.value;
  return Buffer.from(JSON.stringify({ k: position.sort, o: position.order, v, i: position.id }), 'utf8').toString('base64url');
}

/** The cursor after `s` in the listing order of `f`. */
export const cursorAfter = (s: SessionRecord, f: { readonly sort: SessionSort; readonly order: 'asc' | 'desc' }): string =>
  encodeCursor({ sort: f.sort, order: f.order, value: sortValue(s, f.sort), id: s.id });

export function decodeCursor(cursor: unknown, sort: SessionSort = 'started_at', order: 'asc' | 'desc' = 'desc'): PagePosition {
  const bad = (): never => invalid('malformed cursor: pass back next_cursor exactly as it was returned');
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor as string, 'base64url').toString('utf8'));
  } catch {
    bad();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) bad();
  const p = parsed as { s?: unknown; k?: unknown; o?: unknown; v?: unknown; i?: unknown };
  // Cursors written before sorts existed: {s: started_at, i: id}, started_at desc.
  const k = p.k ?? (p.s === undefined ? undefined : 'started_at');
  const o = p.o ?? (p.s === undefined ? undefined : 'desc');
  const v = p.v ?? p.s;
  if (!isSessionId(p.i) || k === undefined || o === undefined) bad();
  if (k !== sort || o !== order) invalid('cursor belongs to another sort or order: pass the same sort and order as for the first page');
  let value: SortValue;
  if (isDateSort(sort)) {
    if (typeof v !== 'string') bad();
    const at = new Date(v as string);
    if (!isStorableDate(at) || at.toISOString() !== v) bad();
    value = at.getTime();
  } else if (sort === 'user_id') {
    if (typeof v !== 'string' || v === '' || v.length > 256) bad();
    value = v as string;
  } else {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad();
    value = v as number;
  }
  return { sort, order, value, id: p.i as string };
}

/** Compares two sessions in the listing order (sort, order), ties by id in the same direction. */
export function listingOrder(sort: SessionSort, order: 'asc' | 'desc'): (a: PagePosition | SessionRecord, b: PagePosition | SessionRecord) => number {
  const sign = order === 'asc' ? 1 : -1;
  const valueOf = (x: PagePosition | SessionRecord): SortValue => ('sort' in x ? x.value : sortValue(x, sort));
  return (a, b) => {
    const va = valueOf(a);
    const vb = valueOf(b);
    if (va !== vb) return (va < vb ? -1 : 1) * sign;
    return a.id === b.id ? 0 : (a.id < b.id ? -1 : 1) * sign;
  };
}
