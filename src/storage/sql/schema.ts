// The tables as Kysely sees them. SQLite has no boolean or timestamp type: there booleans are
// 0/1 and times are epoch milliseconds (the SQLite driver's plugin converts what we bind), so a
// column read back is either form and the store reads it through `bool()` / `date()`.
import type { ColumnType } from 'kysely';

type Bool = ColumnType<boolean | number, boolean | undefined, boolean>;
type Time = ColumnType<Date | number | string, Date, Date>;
type NullableTime = ColumnType<Date | number | string | null, Date | null | undefined, Date | null>;
/** PostgreSQL returns bigint and numeric sums as strings. */
type Count = ColumnType<number | string, number | undefined, number>;

export interface SessionsTable {
  id: string;
  user_id: string;
  name: string | null;
  name_enc: Bool;
  model_id: string;
  is_active: Bool;
  started_at: Time;
  ended_at: NullableTime;
  end_reason: string | null;
  admin_assisted: Bool;
  owner_instance: string;
  message_count: Count;
  last_activity: Time;
  tokens: Count;
  admin_name: string | null;
  help_requested: Bool;
  share_token: string | null;
}

export interface MessagesTable {
  session_id: string;
  seq: number;
  sender: string;
  content: string;
  content_enc: Bool;
  created_at: Time;
  metadata: ColumnType<Record<string, string> | string, string, string>;
  input_tokens: number;
  output_tokens: number;
  response_ms: number | null;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: ColumnType<Date | number | string, Date, never>;
}

export interface StoreMetaTable {
  key: string;
  value: string;
}

export interface Database {
  sessions: SessionsTable;
  messages: MessagesTable;
  schema_migrations: SchemaMigrationsTable;
  store_meta: StoreMetaTable;
}

export const bool = (v: unknown): boolean => v === true || v === 1 || v === 1n;
export const date = (v: unknown): Date => (v instanceof Date ? v : new Date(typeof v === 'string' && !/^\d+$/.test(v) ? v : Number(v)));
export const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
export const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
