// The one schema, as ordered, versioned migrations, each written for both dialects (SQLite has
// no boolean or timestamptz: 0/1 integers and epoch milliseconds). Applied at init inside a
// transaction each, recorded in schema_migrations; re-running is a no-op. Never edit a shipped
// migration: add one. Version 1 is the PostgreSQL schema shipped before SQLite, unchanged, so
// existing PostgreSQL databases go on from where they are.
import { sql, type Kysely } from 'kysely';
import type { SqlDriver, SqlKind } from './driver.js';
import type { Database } from './schema.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: Readonly<Record<SqlKind, readonly string[]>>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions and messages',
    statements: {
      postgres: [
        `CREATE TABLE sessions (
          id text PRIMARY KEY,
          user_id text NOT NULL,
          name text,
          name_enc boolean NOT NULL DEFAULT false,
          model_id text NOT NULL,
          is_active boolean NOT NULL DEFAULT true,
          started_at timestamptz NOT NULL,
          ended_at timestamptz,
          end_reason text CHECK (end_reason IN ('user', 'admin', 'idle', 'shutdown')),
          admin_assisted boolean NOT NULL DEFAULT false,
          owner_instance text NOT NULL,
          message_count integer NOT NULL DEFAULT 0
        )`,
        `CREATE INDEX sessions_started_idx ON sessions (started_at DESC, id DESC)`,
        `CREATE INDEX sessions_user_started_idx ON sessions (user_id, started_at DESC, id DESC)`,
        `CREATE INDEX sessions_open_owner_idx ON sessions (owner_instance) WHERE is_active`,
        `CREATE TABLE messages (
          session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
          seq integer NOT NULL,
          sender text NOT NULL CHECK (sender IN ('user', 'ai', 'admin', 'system')),
          content text NOT NULL,
          content_enc boolean NOT NULL DEFAULT false,
          created_at timestamptz NOT NULL,
          metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
          input_tokens integer NOT NULL DEFAULT 0,
          output_tokens integer NOT NULL DEFAULT 0,
          PRIMARY KEY (session_id, seq)
        )`,
      ],
      sqlite: [
        `CREATE TABLE sessions (
          id text PRIMARY KEY,
          user_id text NOT NULL,
          name text,
          name_enc integer NOT NULL DEFAULT 0,
          model_id text NOT NULL,
          is_active integer NOT NULL DEFAULT 1,
          started_at integer NOT NULL,
          ended_at integer,
          end_reason text CHECK (end_reason IN ('user', 'admin', 'idle', 'shutdown')),
          admin_assisted integer NOT NULL DEFAULT 0,
          owner_instance text NOT NULL,
          message_count integer NOT NULL DEFAULT 0
        )`,
        `CREATE INDEX sessions_started_idx ON sessions (started_at DESC, id DESC)`,
        `CREATE INDEX sessions_user_started_idx ON sessions (user_id, started_at DESC, id DESC)`,
        `CREATE INDEX sessions_open_owner_idx ON sessions (owner_instance) WHERE is_active`,
        `CREATE TABLE messages (
          session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
          seq integer NOT NULL,
          sender text NOT NULL CHECK (sender IN ('user', 'ai', 'admin', 'system')),
          content text NOT NULL,
          content_enc integer NOT NULL DEFAULT 0,
          created_at integer NOT NULL,
          metadata text NOT NULL DEFAULT '{}',
          input_tokens integer NOT NULL DEFAULT 0,
          output_tokens integer NOT NULL DEFAULT 0,
          PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID`,
      ],
    },
  },
  {
    version: 2,
    name: 'activity, tokens, admin name, help flag, share tokens, response times, store meta',
    statements: {
      postgres: [
        `ALTER TABLE sessions ADD COLUMN last_activity timestamptz`,
        `UPDATE sessions AS s SET last_activity = GREATEST(s.started_at, (SELECT max(m.created_at) FROM messages AS m WHERE m.session_id = s.id))`,
        `ALTER TABLE sessions ALTER COLUMN last_activity SET NOT NULL`,
        `ALTER TABLE sessions ADD COLUMN tokens bigint NOT NULL DEFAULT 0`,
        `UPDATE sessions AS s SET tokens = COALESCE((SELECT sum(m.input_tokens + m.output_tokens) FROM messages AS m WHERE m.session_id = s.id), 0)`,
        `ALTER TABLE sessions ADD COLUMN admin_name text`,
        `ALTER TABLE sessions ADD COLUMN help_requested boolean NOT NULL DEFAULT false`,
        `ALTER TABLE sessions ADD COLUMN share_token text`,
        `CREATE UNIQUE INDEX sessions_share_idx ON sessions (share_token) WHERE share_token IS NOT NULL`,
        `CREATE INDEX sessions_activity_idx ON sessions (last_activity, id)`,
        `ALTER TABLE messages ADD COLUMN response_ms double precision`,
        `CREATE INDEX messages_created_idx ON messages (created_at)`,
        `CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL)`,
      ],
      sqlite: [
        `ALTER TABLE sessions ADD COLUMN last_activity integer NOT NULL DEFAULT 0`,
        `UPDATE sessions SET last_activity = max(started_at, COALESCE((SELECT max(m.created_at) FROM messages AS m WHERE m.session_id = sessions.id), 0))`,
        `ALTER TABLE sessions ADD COLUMN tokens integer NOT NULL DEFAULT 0`,
        `UPDATE sessions SET tokens = COALESCE((SELECT sum(m.input_tokens + m.output_tokens) FROM messages AS m WHERE m.session_id = sessions.id), 0)`,
        `ALTER TABLE sessions ADD COLUMN admin_name text`,
        `ALTER TABLE sessions ADD COLUMN help_requested integer NOT NULL DEFAULT 0`,
        `ALTER TABLE sessions ADD COLUMN share_token text`,
        `CREATE UNIQUE INDEX sessions_share_idx ON sessions (share_token) WHERE share_token IS NOT NULL`,
        `CREATE INDEX sessions_activity_idx ON sessions (last_activity, id)`,
        `ALTER TABLE messages ADD COLUMN response_ms real`,
        `CREATE INDEX messages_created_idx ON messages (created_at)`,
        `CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL)`,
      ],
    },
  },
];

async function applyAll(db: Kysely<Database>, kind: SqlKind, migrations: readonly Migration[]): Promise<number[]> {
  const timestamp = kind === 'postgres' ? 'timestamptz NOT NULL DEFAULT now()' : 'integer NOT NULL';
  await sql.raw(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at ${timestamp}
  )`).execute(db);
  const done = new Set((await db.selectFrom('schema_migrations').select('version').execute()).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await db.transaction().execute(async (trx) => {
      for (const statement of m.statements[kind]) await sql.raw(statement).execute(trx);
      await trx.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: new Date() }).execute();
    });
    applied.push(m.version);
  }
  return applied;
}

/** Applies the migrations not yet recorded; returns the versions applied now. */
export function migrate(driver: SqlDriver, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return driver.exclusive((db) => applyAll(db, driver.kind, migrations));
}
