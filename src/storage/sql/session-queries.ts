// The sessions-table statements the SQL store composes or runs in more than one place: reads
// with their messages, one-row updates, and the open sessions an instance owns. Apart so that
// sql-store.ts reads as the contract (checks, the open count, lifecycle) over them.
import { sql, type Kysely, type Updateable } from 'kysely';
import type { SessionEndReason } from '../../events/catalog.js';
import type { SessionRecord, SessionWithMessages } from '../types.js';
import { isSessionId, notFound } from '../validate.js';
import type { Database, SessionsTable } from './schema.js';
import { MESSAGE_COLUMNS, SESSION_COLUMNS, type RowReader } from './rows.js';

export const selectSessions = (db: Kysely<Database>) => db.selectFrom('sessions').select(SESSION_COLUMNS);

export async function selectSession(db: Kysely<Database>, read: RowReader, id: string): Promise<SessionRecord | undefined> {
  if (!isSessionId(id)) return undefined;
  const row = await selectSessions(db).where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : read.session(row);
}

export async function withMessages(
  db: Kysely<Database>,
  read: RowReader,
  session: SessionRecord | undefined,
): Promise<SessionWithMessages | undefined> {
  if (session === undefined) return undefined;
  const rows = await db.selectFrom('messages').select(MESSAGE_COLUMNS).where('session_id', '=', session.id).orderBy('seq').execute();
  const messages = rows.map((r) => read.message(session.id, r));
  return { ...session, messageCount: Math.max(session.messageCount, messages.length), messages };
}

/** One-row update of a session that must exist. */
export async function updateSession(db: Kysely<Database>, id: string, set: Updateable<SessionsTable>): Promise<void> {
  if (!isSessionId(id)) throw notFound();
  const row = await db.updateTable('sessions').set(set).where('id', '=', id).returning('id').executeTakeFirst();
  if (row === undefined) throw notFound();
}

/** Open sessions of `from` become `to`'s; returns how many moved. */
export async function moveOpen(db: Kysely<Database>, from: string, to: string): Promise<number> {
  const rows = await db
    .updateTable('sessions')
    .set({ owner_instance: to })
    .where('is_active', '=', true)
    .where('owner_instance', '=', from)
    .returning('id')
    .execute();
  return rows.length;
}

export async function countOpen(db: Kysely<Database>, owner: string): Promise<number> {
  const row = await db
    .selectFrom('sessions')
    .select(sql<number | string>`count(*)`.as('n'))
    .where('is_active', '=', true)
    .where('owner_instance', '=', owner)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Ends every open session of `owner` at `at`; returns how many ended. */
export async function endOpen(db: Kysely<Database>, owner: string, reason: SessionEndReason, at: Date): Promise<number> {
  const rows = await db
    .updateTable('sessions')
    .set({ is_active: false, ended_at: at, end_reason: reason, admin_name: null })
    .where('is_active', '=', true)
    .where('owner_instance', '=', owner)
    .returning('id')
    .execute();
  return rows.length;
}
