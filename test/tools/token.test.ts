// `npm run token`: a usage line for --help and for bad arguments (never a TypeError), and the
// tokens it prints carry exp and verify against the server's secret.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth/jwt.js';
import { TEST_SECRET } from '../support/server.js';

const root = resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'chatbox-token-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/tools/token.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, JWT_SECRET: TEST_SECRET, DATA_DIR: dataDir, NODE_ENV: 'development', JWT_MAX_TTL_S: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm run token', () => {
  it('--help prints the usage line', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run token -- --user <id>/);
  });

  it.each([
    [['--expires', 'banana', '--user', 'x'], /--expires "banana" is not a lifetime/],
    [['--user', 'x', '--bogus'], /Unknown option '--bogus'/],
    [[], /--user is required/],
    [['--user'], /argument missing/],
  ])('answers %j with a usage line and exit 2', (args, why) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stderr).toMatch(/usage: npm run token/);
    expect(r.stderr).not.toMatch(/TypeError/);
  });

  it('prints a token with exp that the server accepts', async () => {
    const r = run('--user', 'alice', '--admin', '--expires', '30m');
    expect(r.status).toBe(0);
    const token = r.stdout.trim();
    const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).toBe(1800);
    await expect(createAuthenticator(TEST_SECRET).verify(token)).resolves.toMatchObject({ userId: 'alice', isAdmin: true });
  });
});
