// The console's session filters and sort, as the admin listing's query, and the same test
// applied to rows pushed live.
import type { SessionJson } from '../lib/wire.js';

export interface Filters {
  active: '' | 'true' | 'false';
  user: string;
  from: string;
  to: string;
  assisted: '' | 'true' | 'false';
  sort: 'started_at' | 'last_activity' | 'message_count' | 'tokens' | 'user_id';
  order: 'asc' | 'desc';
}

export const NO_FILTERS: Filters = { active: '', user: '', from: '', to: '', assisted: '', sort: 'started_at', order: 'desc' };

const iso = (local: string): string | undefined => (local === '' ? undefined : new Date(local).toISOString());

export function query(f: Filters): string {
  const q = new URLSearchParams({ limit: '100', sort: f.sort, order: f.order });
  if (f.active !== '') q.set('active', f.active);
  if (f.assisted !== '') q.set('admin_assisted', f.assisted);
  if (f.user.trim() !== '') q.set('user_id', f.user.trim());
  const from = iso(f.from);
  const to = iso(f.to);
  if (from !== undefined) q.set('from', from);
  if (to !== undefined) q.set('to', to);
  return q.toString();
}

export function matches(f: Filters, s: SessionJson): boolean {
  if (f.active !== '' && String(s.is_active) !== f.active) return false;
  if (f.assisted !== '' && String(s.admin_assisted) !== f.assisted) return false;
  if (f.user.trim() !== '' && s.user_id !== f.user.trim()) return false;
  const started = Date.parse(s.started_at);
  const from = iso(f.from);
  const to = iso(f.to);
  if (from !== undefined && started < Date.parse(from)) return false;
  if (to !== undefined && started >= Date.parse(to)) return false;
  return true;
}

function key(s: SessionJson, sort: Filters['sort']): number | string {
  switch (sort) {
    case 'started_at':
      return Date.parse(s.started_at);
    case 'last_activity':
      return Date.parse(s.last_activity);
    case 'message_count':
      return s.message_count;
    case 'tokens':
      return s.tokens;
    case 'user_id':
      return s.user_id;
  }
}

export function sorted(rows: readonly SessionJson[], f: Filters): SessionJson[] {
  const dir = f.order === 'asc' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = key(a, f.sort);
    const y = key(b, f.sort);
    if (x < y) return -dir;
    if (x > y) return dir;
    return a.id < b.id ? -dir : a.id > b.id ? dir : 0;
  });
}
