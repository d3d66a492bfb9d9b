// The storage component's entry point: pick the store from configuration, instrument it.
//
//   DATABASE_URL set      -> PostgreSQL (pg Pool), shared by every replica
//   otherwise             -> PGlite persisted under DATA_DIR (default ./data), one process
//   kind: 'memory'        -> in memory (tests, benchmarks)
//
// The store is returned un-initialised: the app calls init() (migrations, crash recovery).
import { join } from 'node:path';
import type { Bus } from '../events/bus.js';
import { ChatboxError } from '../errors.js';
import { createCipher } from './cipher.js';
import { instrumentStore } from './instrument.js';
import { createMemoryStore } from './memory-store.js';
import type { StoreOptions } from './options.js';
import { createPgDriver } from './sql/pg-driver.js';
import { createPgliteDriver } from './sql/pglite-driver.js';
import { createSqlStore } from './sql/sql-store.js';
import type { SessionStore } from './types.js';

export type { SessionStore } from './types.js';
export { instrumentStore } from './instrument.js';
export { createMemoryStore } from './memory-store.js';
export { createSqlStore, type SqlSessionStore, type SqlStoreOptions } from './sql/sql-store.js';
export { createPgDriver, type PgDriverOptions } from './sql/pg-driver.js';
export { createPgliteDriver } from './sql/pglite-driver.js';
export { MIGRATIONS, migrate } from './sql/migrations.js';
export { DECRYPT_ERROR } from './cipher.js';
export { DEFAULT_MAX_CONTENT_BYTES } from './validate.js';

export type StoreKind = 'memory' | 'pglite' | 'postgres';

export interface CreateSessionStoreOptions {
  readonly databaseUrl?: string;
  /** PGlite's data lives in `${dataDir}/pglite` (default ./data). */
  readonly dataDir?: string;
  /** Explicit choice; default postgres when databaseUrl is set, else pglite. */
  readonly kind?: StoreKind;
  readonly instanceId: string;
  readonly encryptionKey?: string;
  readonly maxContentBytes?: number;
  readonly bus: Bus;
}

export async function createSessionStore(options: CreateSessionStoreOptions): Promise<SessionStore> {
  const kind: StoreKind = options.kind ?? (options.databaseUrl !== undefined ? 'postgres' : 'pglite');
  const storeOptions: StoreOptions = {
    instanceId: options.instanceId,
    ...(options.encryptionKey === undefined ? {} : { encryptionKey: options.encryptionKey }),
    ...(options.maxContentBytes === undefined ? {} : { maxContentBytes: options.maxContentBytes }),
  };
  let store: SessionStore;
  switch (kind) {
    case 'memory':
      store = createMemoryStore(storeOptions);
      break;
    case 'postgres': {
      if (options.databaseUrl === undefined) throw new ChatboxError('CHATBOX_ERR_CONFIG', 'the postgres store needs DATABASE_URL');
      const driver = createPgDriver({ connectionString: options.databaseUrl });
      try {
        store = createSqlStore(driver, storeOptions);
      } catch (error) {
        await driver.close();
        throw error;
      }
      break;
    }
    case 'pglite': {
      // Refuse a bad key before paying for PGlite's start.
      if (options.encryptionKey !== undefined) createCipher(options.encryptionKey);
      const driver = await createPgliteDriver({ dataDir: join(options.dataDir ?? './data', 'pglite') });
      store = createSqlStore(driver, storeOptions);
      break;
    }
  }
  return instrumentStore(store, options.bus);
}
