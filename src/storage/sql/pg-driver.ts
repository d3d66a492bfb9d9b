// PostgreSQL through a `pg` Pool under Kysely, with a statement timeout so a stuck query fails
// instead of holding a connection forever.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { ChatboxError } from '../../errors.js';
import type { Row, SqlDriver } from './driver.js';
import type { Database } from './schema.js';

export interface PgDriverOptions {
  readonly connectionString: string;
  /** Schema to create and use (search_path), e.g. one per test run; default: the server's. */
  readonly schema?: string;
  readonly maxConnections?: number;
  readonly statementTimeoutMs?: number;
  readonly connectionTimeoutMs?: number;
}

// Any fixed number works; both processes racing to migrate must use the same one.
const MIGRATION_LOCK = 0x63686174; // 'chat'
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function createPgDriver(options: PgDriverOptions): SqlDriver {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new ChatboxError('CHATBOX_ERR_CONFIG', `schema name ${JSON.stringify(schema)} must be lower-case letters, digits and _`);
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener that
  // would crash the process. The next query reports the problem instead.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed: Promise<void> | undefined;

  return {
    kind: 'postgres',
    db,
    exclusive(fn) {
      return db.connection().execute(async (conn) => {
        await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`.execute(conn);
        try {
          if (schema !== undefined) await sql.raw(`CREATE SCHEMA IF NOT EXISTS ${schema}`).execute(conn);
          return await fn(conn);
        } finally {
          await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`.execute(conn);
        }
      });
    },
    async query<R extends Row>(text: string, params?: readonly unknown[]): Promise<R[]> {
      return (await pool.query(text, params === undefined ? undefined : [...params])).rows as R[];
    },
    close() {
      // Kysely ends the pool.
      closed ??= db.destroy();
      return closed;
    },
  };
}
