// Migrations: applied once, recorded in schema_migrations, a no-op when run again, and safe when
// two processes start against the same PostgreSQL database at the same moment.
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../../src/storage/sql/migrations.js';
import { createPgliteDriver } from '../../src/storage/sql/pglite-driver.js';
import { createPgDriver } from '../../src/storage/sql/pg-driver.js';
import { DATABASE_URL, freshPgliteDir, pgDriverForRun } from './support.js';

const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;

describe('migrations on PGlite', () => {
  it('applies every migration once and records it; a second run applies nothing', async () => {
    const dir = await freshPgliteDir();
    const driver = await createPgliteDriver({ dataDir: dir });
    try {
      expect(await migrate(driver)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(driver)).toEqual([]);
      const rows = await driver.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(rows.at(-1)?.version).toBe(latest);
    } finally {
      await driver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rolls a failing migration back entirely and records nothing for it', async () => {
    const dir = await freshPgliteDir();
    const driver = await createPgliteDriver({ dataDir: dir });
    try {
      const broken = [...MIGRATIONS, { version: 999, name: 'broken', statements: ['CREATE TABLE half_done (x int)', 'SELECT no_such_column'] }];
      await expect(migrate(driver, broken)).rejects.toThrow();
      const versions = (await driver.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version);
      expect(versions).not.toContain(999);
      expect(await driver.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'")).toEqual([]);
    } finally {
      await driver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

if (DATABASE_URL === undefined) process.stderr.write('migrations: PostgreSQL concurrency test skipped (DATABASE_URL unset)\n');

describe.runIf(Boolean(DATABASE_URL))('migrations on PostgreSQL', () => {
  it('two processes migrating the same fresh schema at once both succeed, each migration applied once', async () => {
    const first = pgDriverForRun();
    const second = createPgDriver({ connectionString: DATABASE_URL as string, schema: first.schema });
    try {
      const [a, b] = await Promise.all([migrate(first.driver), migrate(second)]);
      expect([...a, ...b].sort()).toEqual(MIGRATIONS.map((m) => m.version));
      const rows = await first.driver.query<{ version: number }>('SELECT version FROM schema_migrations');
      expect(rows).toHaveLength(MIGRATIONS.length);
    } finally {
      await second.close();
      await first.cleanup();
    }
  });
});
