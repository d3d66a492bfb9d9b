// Store factories for the storage tests: memory, PGlite (a copy of a template data directory, so
// a fresh database costs a file copy instead of PGlite's ~7 s initdb) and PostgreSQL (a schema
// per test run, dropped afterwards). SQL stores in one suite share a driver; each test uses its
// own instance and user ids so tests never see each other's sessions.
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createMemoryDatabase, createMemoryStore } from '../../src/storage/memory-store.js';
import type { OutcomeStore, StoreOptions } from '../../src/storage/options.js';
import type { SqlDriver } from '../../src/storage/sql/driver.js';
import { createPgDriver } from '../../src/storage/sql/pg-driver.js';
import { createPgliteDriver } from '../../src/storage/sql/pglite-driver.js';
import { createSqlStore, type SqlStoreOptions } from '../../src/storage/sql/sql-store.js';

export const DATABASE_URL = process.env['DATABASE_URL'];
if (DATABASE_URL === undefined) {
  process.stderr.write('storage tests: DATABASE_URL is unset, so the PostgreSQL variants are skipped\n');
}

// The template is only valid for the PGlite build that made it.
const pgliteEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
const pgliteVersion = (JSON.parse(readFileSync(join(dirname(pgliteEntry), '..', 'package.json'), 'utf8')) as { version: string }).version;

/** A fresh, empty PGlite data directory (initialised once per machine and PGlite version). */
export async function freshPgliteDir(): Promise<string> {
  const template = join(tmpdir(), `chatbox-pglite-template-${pgliteVersion}`);
  if (!existsSync(join(template, 'PG_VERSION'))) {
    const building = mkdtempSync(join(tmpdir(), 'chatbox-pglite-build-'));
    const driver = await createPgliteDriver({ dataDir: building });
    await driver.close();
    try {
      renameSync(building, template);
    } catch {
      // another test file won the race; its template is as good as ours
      rmSync(building, { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-pglite-'));
  cpSync(template, dir, { recursive: true });
  return dir;
}

export interface StoreKit {
  readonly name: 'memory' | 'pglite' | 'postgres';
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
const shared = (driver: SqlDriver): SqlDriver => ({ ...driver, close: async () => undefined });

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

function sqlKit(name: 'pglite' | 'postgres', open: () => Promise<{ driver: SqlDriver; cleanup: () => Promise<void> }>): StoreKit {
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

export function pgliteKit(): StoreKit {
  return sqlKit('pglite', async () => {
    const dir = await freshPgliteDir();
    const driver = await createPgliteDriver({ dataDir: dir });
    return {
      driver,
      cleanup: async () => {
        await driver.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
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

export const KEY_A = Buffer.alloc(32, 7).toString('base64');
export const KEY_B = Buffer.alloc(32, 9).toString('base64');

/** A clock that moves one second per reading, so started_at values are distinct and ordered. */
export function steppingClock(start = Date.parse('2030-01-01T00:00:00Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

/** The kits the contract suites run over. */
export const contractKits = (): StoreKit[] => [memoryKit()];
