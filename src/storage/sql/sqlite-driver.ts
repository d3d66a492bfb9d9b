// SQLite through better-sqlite3 in DATA_DIR, WAL mode, on the main thread (bench/README.md has
// the event-loop figures behind that choice: a group-committed batch is two statements).
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
import { Kysely, SqliteDialect, type Kysely as KyselyType } from 'kysely';
import { join } from 'node:path';
import { ChatboxError } from '../../errors.js';
import { DB_FILE, ensurePrivateDir, ensurePrivateFile, lockedError, refusePglite, tightenFiles, writeHolder } from '../data-dir.js';
import type { Row, SqlDriver } from './driver.js';
import type { Database as Schema } from './schema.js';
import { SqliteValuesPlugin, toSqliteValue } from './sqlite-values.js';

export interface SqliteDriverOptions {
  /** DATA_DIR: the database is `${dataDir}/chatbox.db`. */
  readonly dataDir: string;
  /** FULL (default): commits survive power loss; NORMAL: they survive a process crash only. */
  readonly synchronous?: 'FULL' | 'NORMAL';
}

export function createSqliteDriver(options: SqliteDriverOptions): SqlDriver {
  const { dataDir } = options;
  refusePglite(dataDir);
  ensurePrivateDir(dataDir);
  const file = join(dataDir, DB_FILE);
  ensurePrivateFile(file);
  // timeout 0: a held lock is refused at once rather than waited for.
  const sqlite = new Database(file, { timeout: 0 });
  try {
    sqlite.pragma('locking_mode = EXCLUSIVE');
    sqlite.pragma('journal_mode = WAL');
    sqlite.exec('CREATE TABLE IF NOT EXISTS store_holder (id integer PRIMARY KEY, pid integer NOT NULL, started_at integer NOT NULL)');
    // The write that takes the exclusive lock, held from here on.
    sqlite.prepare('INSERT OR REPLACE INTO store_holder (id, pid, started_at) VALUES (1, ?, ?)').run(process.pid, Date.now());
  } catch (error) {
    sqlite.close();
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') throw lockedError(dataDir);
    throw new ChatboxError('INTERNAL', `cannot open the SQLite store ${file}: ${(error as Error).message}`, false, { cause: error });
  }
  sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  writeHolder(dataDir);
  tightenFiles([file, `${file}-wal`, `${file}-shm`, `${file}-journal`]);

  const db: KyselyType<Schema> = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: sqlite }),
    plugins: [new SqliteValuesPlugin()],
  });
  let closed: Promise<void> | undefined;
  return {
    kind: 'sqlite',
    db,
    // The DATA_DIR lock already makes this the only process on the database.
    exclusive: (fn) => fn(db),
    async query<R extends Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
      // $n becomes one anonymous ? per use, bound in order of appearance.
      const values: unknown[] = [];
      const statement = sqlite.prepare(
        text.replace(/\$(\d+)/g, (_, n: string) => {
          values.push(toSqliteValue(params[Number(n) - 1]));
          return '?';
        }),
      );
      if (statement.reader) return statement.all(...values) as R[];
      statement.run(...values);
      return [];
    },
    close() {
      // Kysely closes the better-sqlite3 handle: a last checkpoint, then the lock goes.
      closed ??= db.destroy();
      return closed;
    },
  };
}
