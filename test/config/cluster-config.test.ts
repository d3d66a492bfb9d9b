// Several replicas' settings: one process unless REDIS_URL is set; bad values stop the start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'chatbox-config-cluster-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cluster configuration', () => {
  it('defaults: no Redis (one process), prefix chatbox:, 10 sockets per user', () => {
    expect(loadConfig({ DATA_DIR: dir })).toMatchObject({ redisUrl: undefined, redisKeyPrefix: 'chatbox:', maxSocketsPerUser: 10 });
    expect(loadConfig({ DATA_DIR: dir, REDIS_URL: '' }).redisUrl).toBeUndefined();
  });

  it('takes redis:// and rediss:// URLs, a key prefix and a socket cap', () => {
    expect(loadConfig({ DATA_DIR: dir, REDIS_URL: 'rediss://:pw@redis:6380/1', REDIS_KEY_PREFIX: 'x:', MAX_SOCKETS_PER_USER: '3' })).toMatchObject({
      redisUrl: 'rediss://:pw@redis:6380/1',
      redisKeyPrefix: 'x:',
      maxSocketsPerUser: 3,
    });
  });

  it('refuses a URL that is not Redis and a cap below 1, naming the variable', () => {
    expect(() => loadConfig({ DATA_DIR: dir, REDIS_URL: 'http://redis:6379' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ DATA_DIR: dir, MAX_SOCKETS_PER_USER: '0' })).toThrow(/MAX_SOCKETS_PER_USER/);
  });
});
