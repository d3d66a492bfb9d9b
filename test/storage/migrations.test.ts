// Migrations: applied once, recorded in schema_migrations, a no-op when run again, rolled back
// whole when one fails, safe when two processes start against the same PostgreSQL database at
// once, and an existing PostgreSQL database at version 1 (the schema shipped before SQLite)
// moves on to the latest version with its rows intact.
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../../src/storage/sql/migrations.js';
import { createPgDriver } from '../../src/storage/sql/pg-driver.js';
import { createSqlStore } from '../../src/storage/sql/sql-store.js';
import { DATABASE_URL, SQL_KINDS, driverForRun, pgDriverForRun } from './support.js';

const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
const versionsOf = async (driver: { query: (t: string) => Promise<Record<string, unknown>[]> }) =>
  (await driver.query('SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r['version']));

describe.each(SQL_KINDS)('migrations on %s', (kind) => {
  it('applies every migration once and records it; a second run applies nothing', async () => {
    const { driver, cleanup } = await driverForRun(kind);
    try {
      expect(await migrate(driver)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(driver)).toEqual([]);
      const versions = await versionsOf(driver);
      expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
      expect(versions.at(-1)).toBe(latest);
    } finally {
      await cleanup();
    }
  });

  it('rolls a failing migration back entirely and records nothing for it', async () => {
    const { driver, cleanup } = await driverForRun(kind);
    try {
      const statements = ['CREATE TABLE half_done (x int)', 'SELECT no_such_column'];
      const broken = [...MIGRATIONS, { version: 999, name: 'broken', statements: { sqlite: statements, postgres: statements } }];
      await expect(migrate(driver, broken)).rejects.toThrow();
      expect(await versionsOf(driver)).not.toContain(999);
      const table =
        kind === 'sqlite'
          ? "SELECT 1 FROM sqlite_master WHERE name = 'half_done'"
          : "SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done' AND table_schema = current_schema()";
      expect(await driver.query(table)).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('moves a version-1 database with rows to the latest version, backfilling activity and tokens', async () => {
    const { driver, cleanup } = await driverForRun(kind);
    try {
      expect(await migrate(driver, MIGRATIONS.slice(0, 1))).toEqual([1]);
      const t0 = new Date('2029-05-01T10:00:00Z');
      const t1 = new Date('2029-05-01T10:05:00Z');
      await driver.query(
        'INSERT INTO sessions (id, user_id, model_id, started_at, owner_instance, message_count) VALUES ($1, $2, $3, $4, $5, $6)',
        ['old-session', 'old-user', 'm', t0, 'old-node', 2],
      );
      for (const [seq, at, input, output] of [
        [1, t0, 0, 0],
        [2, t1, 7, 11],
      ] as const) {
        await driver.query(
          'INSERT INTO messages (session_id, seq, sender, content, created_at, input_tokens, output_tokens) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          ['old-session', seq, seq === 1 ? 'user' : 'ai', `m${seq}`, at, input, output],
        );
      }
      expect(await migrate(driver)).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
      const store = createSqlStore({ ...driver, close: async () => undefined }, { instanceId: 'new-node' });
      await store.init();
      const s = await store.getSession('old-session');
      expect(s).toMatchObject({ tokens: 18, messageCount: 2, adminName: null, helpRequested: false, isActive: true });
      expect(s?.lastActivity.toISOString()).toBe(t1.toISOString());
      expect(s?.messages.map((m) => m.responseMs)).toEqual([null, null]);
    } finally {
      await cleanup();
    }
  });
});

if (DATABASE_URL === undefined) process.stderr.write('migrations: PostgreSQL concurrency test skipped (DATABASE_URL unset)\n');

describe.runIf(Boolean(DATABASE_URL))('migrations on PostgreSQL, concurrently', () => {
  it('two processes migrating the same fresh schema at once both succeed, each migration applied once', async () => {
    const first = pgDriverForRun();
    const second = createPgDriver({ connectionString: DATABASE_URL as string, schema: first.schema });
    try {
      const [a, b] = await Promise.all([migrate(first.driver), migrate(second)]);
      expect([...a, ...b].sort()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await versionsOf(first.driver)).toHaveLength(MIGRATIONS.length);
    } finally {
      await second.close();
      await first.cleanup();
    }
  });
});
