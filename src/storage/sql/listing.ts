// The admin listing (filters, five sorts, keyset paging) and the stats over a time range, in
// Kysely for both dialects. Paging is keyset, never OFFSET: the cursor names the last row's
// (sort value, id) and the next page starts strictly after it in the same order.
import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { SessionSort, SessionStats } from '../types.js';
import type { CheckedFilter } from '../validate.js';
import type { SqlKind } from './driver.js';
import type { Database } from './schema.js';
import { num, numOrNull } from './schema.js';
import { SESSION_COLUMNS } from './rows.js';

const COLUMN: Readonly<Record<SessionSort, string>> = {
  started_at: 'started_at',
  last_activity: 'last_activity',
  message_count: 'message_count',
  tokens: 'tokens',
  user_id: 'user_id',
};

/** Text compares byte-wise in both dialects (PostgreSQL's default collation may not). */
const key = (kind: SqlKind, column: string): Expression<unknown> =>
  kind === 'postgres' && (column === 'id' || column === 'user_id') ? sql`${sql.ref(column)} COLLATE "C"` : sql.ref(column);

export function listSessionRows(db: Kysely<Database>, kind: SqlKind, f: CheckedFilter) {
  const column = COLUMN[f.sort];
  const direction = f.order === 'asc' ? sql`ASC` : sql`DESC`;
  const after = f.after;
  return db
    .selectFrom('sessions')
    .select(SESSION_COLUMNS)
    .$if(f.active !== undefined, (q) => q.where('is_active', '=', f.active as boolean))
    .$if(f.userId !== undefined, (q) => q.where('user_id', '=', f.userId as string))
    .$if(f.adminAssisted !== undefined, (q) => q.where('admin_assisted', '=', f.adminAssisted as boolean))
    .$if(f.from !== undefined, (q) => q.where('started_at', '>=', f.from as Date))
    .$if(f.to !== undefined, (q) => q.where('started_at', '<', f.to as Date))
    .$if(after !== undefined, (q) => {
      const p = after as NonNullable<typeof after>;
      const value = f.sort === 'started_at' || f.sort === 'last_activity' ? new Date(p.value as number) : p.value;
      const op = f.order === 'asc' ? sql`>` : sql`<`;
      return q.where(sql<SqlBool>`(${key(kind, column)}, ${key(kind, 'id')}) ${op} (${value}, ${p.id})`);
    })
    .orderBy(sql`${key(kind, column)} ${direction}`)
    .orderBy(sql`${key(kind, 'id')} ${direction}`)
    .limit(f.limit + 1)
    .execute();
}

export async function sessionStats(db: Kysely<Database>, range: { from: Date; to: Date }): Promise<SessionStats> {
  const sessions = await db
    .selectFrom('sessions')
    .select([
      sql<number | string>`count(*)`.as('sessions'),
      sql<number | string | null>`sum(CASE WHEN is_active THEN 1 ELSE 0 END)`.as('active'),
      sql<number | string | null>`sum(CASE WHEN admin_assisted THEN 1 ELSE 0 END)`.as('assisted'),
    ])
    .where('started_at', '>=', range.from)
    .where('started_at', '<', range.to)
    .executeTakeFirstOrThrow();
  const messages = await db
    .selectFrom('messages')
    .select([
      sql<number | string>`count(*)`.as('messages'),
      sql<number | string | null>`sum(input_tokens + output_tokens)`.as('tokens'),
      sql<number | string | null>`avg(response_ms)`.as('avg_ms'),
      sql<number | string | null>`max(response_ms)`.as('max_ms'),
    ])
    .where('created_at', '>=', range.from)
    .where('created_at', '<', range.to)
    .executeTakeFirstOrThrow();
  const avg = numOrNull(messages.avg_ms);
  const max = numOrNull(messages.max_ms);
  return {
    sessions: num(sessions.sessions),
    activeSessions: num(sessions.active),
    adminAssisted: num(sessions.assisted),
    messages: num(messages.messages),
    tokens: num(messages.tokens),
    avgResponseSeconds: avg === null ? null : avg / 1000,
    maxResponseSeconds: max === null ? null : max / 1000,
  };
}
