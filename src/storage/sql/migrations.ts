// The one schema, as ordered, versioned migrations. Applied at init inside a transaction each,
// recorded in schema_migrations; re-running is a no-op. Never edit a shipped migration: add one.
import type { Query, SqlDriver } from './driver.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions and messages',
    statements: [
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
  },
];

async function applyAll(query: Query, migrations: readonly Migration[]): Promise<number[]> {
  await query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const done = new Set((await query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    await query('BEGIN');
    try {
      for (const statement of m.statements) await query(statement);
      await query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      await query('COMMIT');
    } catch (error) {
      await query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    applied.push(m.version);
  }
  return applied;
}

/** Applies the migrations not yet recorded; returns the versions applied now. */
export function migrate(driver: SqlDriver, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return driver.exclusive((query) => applyAll(query, migrations));
}
