// Store factories for the storage tests: memory, SQLite (a fresh DATA_DIR per suite) and
// PostgreSQL (a schema per test run, dropped afterwards). SQL stores in one suite share a
// driver; each test uses its own instance and user ids so tests never see each other's sessions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { ChatboxError } from '../../src/errors.js';
import { createMemoryDatabase, createMemoryStore } from '../../src/storage/memory-store.js';
import type { OutcomeStore, StoreOptions } from '../../src/storage/options.js';
import type { SqlDriver } from '../../src/storage/sql/driver.js';
import { createPgDriver } from '../../src/storage/sql/pg-driver.js';
import { createSqliteDriver } from '../../src/storage/sql/sqlite-driver.js';
import { createSqlStore, type SqlStoreOptions } from '../../src/storage/sql/sql-store.js';

export const DATABASE_URL = process.env['DATABASE_URL'];
if (DATABASE_URL === undefined) {
  process.stderr.write('storage tests: DATABASE_URL is unset, so the PostgreSQL variants are skipped\n');
}

/** A fresh, empty DATA_DIR under the system temporary directory. */
export const freshDataDir = (): string => mkdtempSync(join(tmpdir(), 'chatbox-sqlite-'));

export interface StoreKit {
  readonly name: 'memory' | 'sqlite' | 'postgres';
  readonly sql: boolean;
  /** Stores made by this kit share one database (as replicas do). */
  readonly shared: boolean;
  /** A new store (already initialised) with a unique instance id unless one is given. */
  make(options?: Partial<SqlStoreOptions>): Promise<OutcomeStore>;
  /** The shared driver (SQL kits only), for raw checks. */
  driver(): SqlDriver | undefined;
  teardown(): Promise<void>;
}

/** A driver whose close() leaves the shared connection open (the kit closes it at teardown). */
export const shared = (driver: SqlDriver): SqlDriver => ({ ...driver, close: async () => undefined });

export const uniqueId = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

function options(extra: Partial<SqlStoreOptions>): SqlStoreOptions {
  return { instanceId: uniqueId('inst'), ...extra } as SqlStoreOptions;
}

export function memoryKit(): StoreKit {
  const database = createMemoryDatabase();
  return {
    name: 'memory',
    sql: false,
    shared: true,
    async make(extra = {}) {
      const store = createMemoryStore({ ...(options(extra) as StoreOptions), database });
      await store.init();
      return store;
    },
    driver: () => undefined,
    teardown: async () => undefined,
  };
}

function sqlKit(name: 'sqlite' | 'postgres', open: () => Promise<{ driver: SqlDriver; cleanup: () => Promise<void> }>): StoreKit {
  let opened: Promise<{ driver: SqlDriver; cleanup: () => Promise<void> }> | undefined;
  const get = () => (opened ??= open());
  let driver: SqlDriver | undefined;
  return {
    name,
    sql: true,
    shared: true,
    async make(extra = {}) {
      driver = (await get()).driver;
      const store = createSqlStore(shared(driver), options(extra));
      await store.init();
      return store;
    },
    driver: () => driver,
    async teardown() {
      if (opened !== undefined) await (await opened).cleanup();
    },
  };
}

/** A SQLite driver on a DATA_DIR of its own; cleanup closes it and removes the directory. */
export async function sqliteDriverForRun(): Promise<{ driver: SqlDriver; dataDir: string; cleanup: () => Promise<void> }> {
  const dataDir = freshDataDir();
  const driver = await createSqliteDriver({ dataDir });
  return {
    driver,
    dataDir,
    cleanup: async () => {
      await driver.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function sqliteKit(): StoreKit {
  return sqlKit('sqlite', async () => sqliteDriverForRun());
}

/** A PostgreSQL driver on a schema of its own; cleanup drops the schema. */
export function pgDriverForRun(): { driver: SqlDriver; schema: string; cleanup: () => Promise<void> } {
  const schema = `chatbox_test_${process.pid}_${randomUUID().slice(0, 8).replace(/-/g, '')}`;
  const driver = createPgDriver({ connectionString: DATABASE_URL as string, schema, maxConnections: 8 });
  return {
    driver,
    schema,
    cleanup: async () => {
      await driver.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await driver.close();
    },
  };
}

export function postgresKit(): StoreKit {
  return sqlKit('postgres', async () => pgDriverForRun());
}

/** A fresh database of `kind` per call (tests that need an empty one, e.g. the key check). */
export async function driverForRun(kind: 'sqlite' | 'postgres'): Promise<{ driver: SqlDriver; cleanup: () => Promise<void> }> {
  return kind === 'sqlite' ? sqliteDriverForRun() : pgDriverForRun();
}

export const SQL_KINDS: readonly ('sqlite' | 'postgres')[] = ['sqlite', ...(DATABASE_URL === undefined ? [] : (['postgres'] as const))];

/** The kits the contract suites run over: memory, SQLite, and PostgreSQL when DATABASE_URL is set. */
export const contractKits = (): StoreKit[] => [memoryKit(), sqliteKit(), ...(DATABASE_URL === undefined ? [] : [postgresKit()])];

export const KEY_A = Buffer.alloc(32, 7).toString('base64');
export const KEY_B = Buffer.alloc(32, 9).toString('base64');

/** A clock that moves one second per reading, so started_at values are distinct and ordered. */
export function steppingClock(start = Date.parse('2030-01-01T00:00:00Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

/** The ChatboxError a call rejects with (the test fails if it resolves or rejects otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<ChatboxError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChatboxError);
  return error as ChatboxError;
}
