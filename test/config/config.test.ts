import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const dirs: string[] = [];
const dataDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'chatbox-config-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('has working defaults for a newcomer', () => {
    const c = loadConfig({ DATA_DIR: dataDir() });
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      prefix: '/chatbox',
      transport: 'uws',
      maxMessageBytes: 65536,
      rateLimitPerMinute: 100,
      sessionIdleTimeoutSeconds: 1800,
      store: 'sqlite',
      generatedSecret: true,
      production: false,
    });
    expect(c.jwtSecret.length).toBeGreaterThanOrEqual(32);
  });

  it('keeps the development secret under DATA_DIR, so tokens minted elsewhere verify', () => {
    const dir = dataDir();
    const a = loadConfig({ DATA_DIR: dir });
    const b = loadConfig({ DATA_DIR: dir });
    expect(a.jwtSecret).toBe(b.jwtSecret);
    expect(readFileSync(join(dir, '.dev-jwt-secret'), 'utf8').trim()).toBe(a.jwtSecret);
  });

  it('refuses to start in production without a secret, or with a short one', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir() })).toThrowError(/JWT_SECRET is required/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrowError(/too short: 5 bytes/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'Zq3v9LkP0wX2mB7nR4tY8uE1sD6fG5hJ' }).generatedSecret).toBe(false);
  });

  it('names every bad variable in one message, with a code', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', TRANSPORT: 'carrier-pigeon', RATE_LIMIT_PER_MINUTE: '0', PATH_PREFIX: 'chat/' });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'CHATBOX_ERR_CONFIG' });
    const message = (error as Error).message;
    for (const name of ['PORT', 'TRANSPORT', 'RATE_LIMIT_PER_MINUTE', 'PATH_PREFIX']) expect(message).toContain(name);
  });

  it('picks PostgreSQL when DATABASE_URL is set and treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://x@127.0.0.1/db', JWT_SECRET: 'x'.repeat(40) }).store).toBe('postgres');
    expect(loadConfig({ DATABASE_URL: '', JWT_SECRET: 'x'.repeat(40), PORT: '' }).store).toBe('sqlite');
    expect(() => loadConfig({ STORE: 'postgres', JWT_SECRET: 'x'.repeat(40) })).toThrowError(/needs DATABASE_URL/);
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, https://b.example,', JWT_SECRET: 'x'.repeat(40) }).corsOrigins).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
  });

  it('takes EVENT_LOOP_LAG_RESOLUTION_MS from 1 to 1000 ms, 10 by default', () => {
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(40) }).eventLoopLagResolutionMs).toBe(10);
    expect(loadConfig({ EVENT_LOOP_LAG_RESOLUTION_MS: '100', JWT_SECRET: 'x'.repeat(40) }).eventLoopLagResolutionMs).toBe(100);
    for (const bad of ['0', '1001', '2.5', 'fast']) {
      expect(() => loadConfig({ EVENT_LOOP_LAG_RESOLUTION_MS: bad, JWT_SECRET: 'x'.repeat(40) })).toThrowError(/EVENT_LOOP_LAG_RESOLUTION_MS/);
    }
  });

  it('takes STORE=sqlite|postgres|memory, and says PGlite is gone', () => {
    for (const store of ['sqlite', 'memory'] as const) expect(loadConfig({ STORE: store, JWT_SECRET: 'x'.repeat(40) }).store).toBe(store);
    expect(() => loadConfig({ STORE: 'pglite', JWT_SECRET: 'x'.repeat(40) })).toThrowError(/STORE: must be sqlite, postgres or memory \(PGlite was replaced by SQLite\)/);
  });

  it('refuses ENCRYPTION_KEY set but empty instead of running unencrypted', () => {
    for (const key of ['', '   ']) {
      expect(() => loadConfig({ ENCRYPTION_KEY: key, JWT_SECRET: 'x'.repeat(40) })).toThrowError(
        expect.objectContaining({ code: 'CHATBOX_ERR_CONFIG', message: expect.stringMatching(/ENCRYPTION_KEY: is set but empty/) }),
      );
    }
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(40) }).encryptionKey).toBeUndefined();
  });
});
