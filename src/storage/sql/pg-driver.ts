// PostgreSQL through a `pg` Pool, with a statement timeout so a stuck query fails instead of
// holding a connection forever.
import pg from 'pg';
import { ChatboxError } from '../../errors.js';
import type { Query, Row, SqlDriver } from './driver.js';

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

  const query: Query = async <R extends Row>(text: string, params?: readonly unknown[]) =>
    (await pool.query(text, params === undefined ? undefined : [...params])).rows as R[];

  return {
    kind: 'postgres',
    query,
    async exclusive(fn) {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
        try {
          if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
          return await fn(async <R extends Row>(text: string, params?: readonly unknown[]) =>
            (await client.query(text, params === undefined ? undefined : [...params])).rows as R[],
          );
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
        }
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
