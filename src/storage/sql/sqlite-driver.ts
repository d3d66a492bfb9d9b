// SQLite through better-sqlite3 in DATA_DIR, WAL mode, in a worker thread by default (the
// event-loop figures behind that choice are in bench/README.md; `thread: 'main'` is kept for
// the bench that compares the two).
//
// One directory, one process: the connection runs in locking_mode=EXCLUSIVE and writes once at
// open, so it holds SQLite's exclusive lock on the database file for the life of the process.
// That is an fcntl lock: the OS drops it when the holder dies (kill -9 included), so there is no
// stale lock to clean up, and a second process fails its first statement with SQLITE_BUSY
// before it has touched anything.
//
// synchronous=FULL: every commit (one per group-committed batch) is fsynced before the
// appends resolve, so an acknowledged message survives power loss too, not just a crash.
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, type Dialect } from 'kysely';
import { join } from 'node:path';
import { ChatboxError } from '../../errors.js';
import { DB_FILE, ensurePrivateDir, ensurePrivateFile, lockedError, refusePglite, tightenFiles, writeHolder } from '../data-dir.js';
import type { Row, SqlDriver } from './driver.js';
import type { Database as Schema } from './schema.js';
import { openSqliteThread } from './sqlite-thread.js';
import { SqliteThreadDialect } from './sqlite-thread-dialect.js';
import { SqliteValuesPlugin, toSqliteValue } from './sqlite-values.js';

export interface SqliteDriverOptions {
  /** DATA_DIR: the database is `${dataDir}/chatbox.db`. */
  readonly dataDir: string;
  /** FULL (default): commits survive power loss; NORMAL: they survive a process crash only. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Where SQLite runs: a worker thread (default) or the main thread (benchmarks). */
  readonly thread?: 'worker' | 'main';
}

/** What runs at open, in order: the last statement is the write that takes the lock. */
function openStatements(synchronous: 'FULL' | 'NORMAL'): string[] {
  return [
    'PRAGMA locking_mode = EXCLUSIVE',
    'PRAGMA journal_mode = WAL',
    `PRAGMA synchronous = ${synchronous}`,
    'CREATE TABLE IF NOT EXISTS store_holder (id integer PRIMARY KEY, pid integer NOT NULL, started_at integer NOT NULL)',
    `INSERT OR REPLACE INTO store_holder (id, pid, started_at) VALUES (1, ${process.pid}, ${Date.now()})`,
  ];
}

function openFailure(error: unknown, dataDir: string, file: string): ChatboxError {
  if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return lockedError(dataDir);
  return new ChatboxError('INTERNAL', `cannot open the SQLite store ${file}: ${(error as Error).message}`, false, { cause: error });
}

async function openDialect(file: string, dataDir: string, options: SqliteDriverOptions): Promise<Dialect> {
  const statements = openStatements(options.synchronous ?? 'FULL');
  if (options.thread === 'main') {
    // timeout 0: a held lock is refused at once rather than waited for.
    const sqlite = new Database(file, { timeout: 0 });
    try {
      for (const statement of statements) sqlite.exec(statement);
    } catch (error) {
      sqlite.close();
      throw openFailure(error, dataDir, file);
    }
    return new SqliteDialect({ database: sqlite });
  }
  try {
    return new SqliteThreadDialect(await openSqliteThread(file, statements));
  } catch (error) {
    throw openFailure(error, dataDir, file);
  }
}

export async function createSqliteDriver(options: SqliteDriverOptions): Promise<SqlDriver> {
  const { dataDir } = options;
  refusePglite(dataDir);
  ensurePrivateDir(dataDir);
  const file = join(dataDir, DB_FILE);
  ensurePrivateFile(file);
  const dialect = await openDialect(file, dataDir, options);
  writeHolder(dataDir);
  tightenFiles([file, `${file}-wal`, `${file}-shm`, `${file}-journal`]);

  const db = new Kysely<Schema>({ dialect, plugins: [new SqliteValuesPlugin()] });
  let closed: Promise<void> | undefined;
  return {
    kind: 'sqlite',
    db,
    // The DATA_DIR lock already makes this the only process on the database.
    exclusive: (fn) => fn(db),
    async query<R extends Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
      // $n becomes one anonymous ? per use, bound in order of appearance.
      const values: unknown[] = [];
      const sql = text.replace(/\$(\d+)/g, (_, n: string) => {
        values.push(toSqliteValue(params[Number(n) - 1]));
        return '?';
      });
      return (await db.executeQuery<R>(CompiledQuery.raw(sql, values))).rows as R[];
    },
    close() {
      // Kysely closes the connection: a last checkpoint, then the lock goes.
      closed ??= db.destroy();
      return closed;
    },
  };
}
