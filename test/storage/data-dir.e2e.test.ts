// DATA_DIR as a deployment meets it, with the real server (src/main.ts) as child processes:
// one directory serves one process (a second is refused, naming the directory and the holder,
// and touches nothing; after kill -9 of the holder a new start succeeds), a PGlite directory
// from an earlier version is refused with what to do, every file is private under umask 000,
// and a wrong, missing or empty ENCRYPTION_KEY stops the start with a message saying which.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../bench/load/server-process.js';
import { KEY_A, KEY_B } from './support.js';

const SECRET = 'data-dir-secret-data-dir-secret-0123456789abcdef';
// ENCRYPTION_KEY is left out unless a test gives it (empty would be refused as a config error).
const { ENCRYPTION_KEY: _inherited, ...parentEnv } = process.env;
const base = { JWT_SECRET: SECRET, STORE: 'sqlite', INSTANCE_ID: 'dir-test', LOG_LEVEL: 'info', DATABASE_URL: '' };
const running: ServerProcess[] = [];
const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-datadir-'));
  dirs.push(dir);
  return dir;
};

afterAll(async () => {
  for (const s of running) await s.stop(2000);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServerProcess({ ...base, ...env });
  running.push(server);
  // Ready (and its signal handlers installed) once it answers.
  expect((await fetch(`${server.url}/chatbox/readyz`)).status).toBe(200);
  return server;
}

/** Starts the server expecting it to refuse; resolves with everything it wrote. */
async function refused(env: Record<string, string>, umask?: string): Promise<{ code: number | null; output: string }> {
  const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
  const command = `${umask === undefined ? '' : `umask ${umask}; `}exec "${process.execPath}" --import tsx "${main}"`;
  const child = spawn('sh', ['-c', command], { env: { ...parentEnv, PORT: '0', HOST: '127.0.0.1', ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += String(d)));
  child.stderr.on('data', (d: Buffer) => (output += String(d)));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  return { code, output };
}

/** Every file under `dir` with its mode and content hash. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    const st = statSync(file);
    out[name] = `${(st.mode & 0o777).toString(8)} ${st.isFile() ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'dir'}`;
  }
  return out;
}

describe('one DATA_DIR, one process', () => {
  it('refuses a second process with the directory and the holder named, touching nothing; kill -9 leaves no stale lock', async () => {
    const dir = freshDir();
    const first = await start({ DATA_DIR: dir });
    const holder = JSON.parse(readFileSync(join(dir, 'chatbox.holder.json'), 'utf8')) as { pid: number; host: string };
    expect(holder.pid).toBe(first.child.pid);
    const before = snapshot(dir);

    const second = await refused({ DATA_DIR: dir });
    expect(second.code).toBe(1);
    expect(second.output).toContain('CHATBOX_ERR_LOCKED');
    expect(second.output).toContain(resolve(dir));
    expect(second.output).toContain(`process ${holder.pid} on ${holder.host}`);
    expect(snapshot(dir)).toEqual(before);
    // The first one still serves.
    expect((await fetch(`${first.url}/chatbox/readyz`)).status).toBe(200);

    first.child.kill('SIGKILL');
    await first.exited;
    const third = await start({ DATA_DIR: dir });
    expect((await fetch(`${third.url}/chatbox/readyz`)).status).toBe(200);
    expect(JSON.parse(readFileSync(join(dir, 'chatbox.holder.json'), 'utf8')).pid).toBe(third.child.pid);
    expect(await third.stop()).toBe(0);
  }, 90_000);
});

describe('a DATA_DIR from the PGlite days', () => {
  it('is refused with what it is and what to do, and left as it was', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'pglite'));
    writeFileSync(join(dir, 'pglite', 'PG_VERSION'), '17\n');
    const result = await refused({ DATA_DIR: dir });
    expect(result.code).toBe(1);
    expect(result.output).toContain('CHATBOX_ERR_PGLITE_DATA');
    expect(result.output).toContain(join(resolve(dir), 'pglite'));
    expect(result.output).toMatch(/PGlite .* cannot read it/);
    expect(result.output).toMatch(/move the directory aside/);
    expect(existsSync(join(dir, 'chatbox.db'))).toBe(false);
  }, 60_000);
});

describe('private files', () => {
  it('creates DATA_DIR 0700 and every file in it 0600 under umask 000, the dev JWT secret included', async () => {
    const parent = freshDir();
    const dir = join(parent, 'data');
    // No JWT_SECRET: the development secret is generated into DATA_DIR.
    const child = spawn('sh', ['-c', `umask 000; exec "${process.execPath}" --import tsx "${fileURLToPath(new URL('../../src/main.ts', import.meta.url))}"`], {
      env: { ...parentEnv, PORT: '0', HOST: '127.0.0.1', ...base, JWT_SECRET: '', DATA_DIR: dir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((done) => child.once('exit', done));
    await new Promise<void>((ready, fail) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += String(d);
        if (out.includes('chatbox listening')) ready();
      });
      void exited.then((code) => fail(new Error(`exited ${code}: ${out}`)));
    });
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const names = readdirSync(dir).sort();
      expect(names).toEqual(expect.arrayContaining(['.dev-jwt-secret', 'chatbox.db', 'chatbox.db-wal', 'chatbox.holder.json']));
      for (const name of names) expect({ name, mode: (statSync(join(dir, name)).mode & 0o777).toString(8) }).toEqual({ name, mode: '600' });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});

describe('ENCRYPTION_KEY at start', () => {
  it('stops with CHATBOX_ERR_DECRYPT saying wrong or missing over encrypted data, and refuses an empty key', async () => {
    const dir = freshDir();
    const first = await start({ DATA_DIR: dir, ENCRYPTION_KEY: KEY_A });
    expect(await first.stop()).toBe(0);
    const wrong = await refused({ DATA_DIR: dir, ENCRYPTION_KEY: KEY_B });
    expect(wrong.code).toBe(1);
    expect(wrong.output).toMatch(/CHATBOX_ERR_DECRYPT: ENCRYPTION_KEY is wrong/);
    const missing = await refused({ DATA_DIR: dir });
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/CHATBOX_ERR_DECRYPT: ENCRYPTION_KEY is missing/);
    const empty = await refused({ DATA_DIR: dir, ENCRYPTION_KEY: '' });
    expect(empty.code).toBe(1);
    expect(empty.output).toMatch(/ENCRYPTION_KEY: is set but empty/);
    const again = await start({ DATA_DIR: dir, ENCRYPTION_KEY: KEY_A });
    expect(await again.stop()).toBe(0);
  }, 90_000);
});
