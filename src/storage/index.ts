// The storage component's entry point: pick the store from configuration, instrument it.
//
//   STORE=sqlite (default without DATABASE_URL) -> SQLite in DATA_DIR (default ./data), one process
//   STORE=postgres (default with DATABASE_URL)  -> PostgreSQL (pg Pool), shared by every replica
//   STORE=memory                                -> in memory (tests, benchmarks)
//
// The store is returned un-initialised: the app calls init() (migrations, key check, crash recovery).
import { resolve } from 'node:path';
import type { Bus } from '../events/bus.js';
import { ChatboxError } from '../errors.js';
import { createCipher } from './cipher.js';
import { instrumentStore } from './instrument.js';
import { createMemoryStore } from './memory-store.js';
import { createPgDriver } from './sql/pg-driver.js';
import { createSqliteDriver } from './sql/sqlite-driver.js';
import { createSqlStore, type SqlStoreOptions } from './sql/sql-store.js';
import type { SessionStore } from './types.js';

export type { SessionStore } from './types.js';
export { instrumentStore } from './instrument.js';
export { createMemoryDatabase, createMemoryStore, type MemoryDatabase } from './memory-store.js';
export { createSqlStore, type SqlSessionStore, type SqlStoreOptions } from './sql/sql-store.js';
export { createPgDriver, type PgDriverOptions } from './sql/pg-driver.js';
export { createSqliteDriver, type SqliteDriverOptions } from './sql/sqlite-driver.js';
export { MIGRATIONS, migrate } from './sql/migrations.js';
export { DECRYPT_ERROR } from './cipher.js';
export { DEFAULT_MAX_CONTENT_BYTES } from './validate.js';

export const STORE_KINDS = ['sqlite', 'postgres', 'memory'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface CreateSessionStoreOptions {
  readonly databaseUrl?: string;
  /** SQLite's database lives in `${dataDir}/chatbox.db` (default ./data). */
  readonly dataDir?: string;
  /** Explicit choice; default postgres when databaseUrl is set, else sqlite. */
  readonly kind?: StoreKind;
  readonly instanceId: string;
  readonly encryptionKey?: string;
  readonly maxContentBytes?: number;
  readonly bus: Bus;
  /** Told about every read that could not be decrypted (the app logs it with its code). */
  readonly onDecryptError?: (error: ChatboxError) => void;
}

export async function createSessionStore(options: CreateSessionStoreOptions): Promise<SessionStore> {
  const kind: StoreKind = options.kind ?? (options.databaseUrl !== undefined ? 'postgres' : 'sqlite');
  // Refuse a bad key before opening (and locking) anything.
  if (options.encryptionKey !== undefined) createCipher(options.encryptionKey);
  const storeOptions: SqlStoreOptions = {
    instanceId: options.instanceId,
    ...(options.encryptionKey === undefined ? {} : { encryptionKey: options.encryptionKey }),
    ...(options.maxContentBytes === undefined ? {} : { maxContentBytes: options.maxContentBytes }),
    ...(options.onDecryptError === undefined ? {} : { onDecryptError: options.onDecryptError }),
  };
  let store: SessionStore;
  switch (kind) {
    case 'memory':
      store = createMemoryStore(storeOptions);
      break;
    case 'postgres': {
      if (options.databaseUrl === undefined) throw new ChatboxError('CHATBOX_ERR_CONFIG', 'the postgres store needs DATABASE_URL');
      const driver = createPgDriver({ connectionString: options.databaseUrl });
      store = createSqlStore(driver, { ...storeOptions, where: 'the PostgreSQL database (DATABASE_URL)' });
      break;
    }
    case 'sqlite': {
      const dataDir = options.dataDir ?? './data';
      const driver = await createSqliteDriver({ dataDir });
      store = createSqlStore(driver, { ...storeOptions, where: `DATA_DIR ${resolve(dataDir)}` });
      break;
    }
  }
  return instrumentStore(store, options.bus);
}
