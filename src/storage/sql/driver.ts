// What the one SQL store is written against: a Kysely instance over SQLite or PostgreSQL, plus
// the few things the dialects do differently (how a migration is kept to one process, and raw
// statements for tests and tools).
import type { Kysely } from 'kysely';
import { ChatboxError, isChatboxError } from '../../errors.js';
import type { Database } from './schema.js';

export type Row = Record<string, unknown>;
export type SqlKind = 'sqlite' | 'postgres';

export interface SqlDriver {
  readonly kind: SqlKind;
  readonly db: Kysely<Database>;
  /**
   * Runs `fn` where no other process migrates at the same time (PostgreSQL: a session advisory
   * lock on one connection; SQLite: the DATA_DIR lock already makes this process the only one).
   */
  exclusive<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /** One raw statement with positional $n parameters (tests, tools); returns its rows. */
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/** A driver error carries PostgreSQL's SQLSTATE or SQLite's result code when there is one. */
export const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** Driver failures become retryable INTERNAL errors; our own errors pass through unchanged. */
export function storageError(error: unknown): ChatboxError {
  if (isChatboxError(error)) return error;
  const what = sqlState(error) === '57014' ? 'a storage statement timed out' : 'the session store failed';
  return new ChatboxError('INTERNAL', `${what}: ${(error as Error)?.message ?? String(error)}`, true, { cause: error });
}
