// The tiny query interface the SQL store is written against: PGlite and PostgreSQL differ only
// in the driver behind it.
export type Row = Record<string, unknown>;

/** Runs one statement (positional $n parameters) and returns its rows. */
export type Query = <R extends Row = Row>(text: string, params?: readonly unknown[]) => Promise<R[]>;

export interface SqlDriver {
  readonly kind: 'pglite' | 'postgres';
  readonly query: Query;
  /**
   * Runs `fn` on one connection that no other process migrates at the same time (PostgreSQL: a
   * session advisory lock on a dedicated client). Used for migrations at init.
   */
  exclusive<T>(fn: (query: Query) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A driver error carries PostgreSQL's SQLSTATE when there is one. */
export const sqlState = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};
