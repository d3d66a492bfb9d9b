// DATA_DIR: what lives there, created private whatever the umask, and what is refused.
//
//   DATA_DIR/                0700 when we create it
//     chatbox.db             the SQLite database, 0600 (its -wal file takes the same mode)
//     chatbox.holder.json    who holds the database now: pid, host, start time (0600)
//     .dev-jwt-secret        the development JWT secret (src/config/dev-secret.ts), 0600
//
// The lock itself is SQLite's (locking_mode=EXCLUSIVE on the WAL database, see sqlite-driver.ts):
// an fcntl lock the OS drops when the holder dies, so kill -9 never leaves a stale lock. The
// holder file is only the name the refusal gives; a stale one is overwritten by the next holder.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ChatboxError } from '../errors.js';

export const DB_FILE = 'chatbox.db';
export const HOLDER_FILE = 'chatbox.holder.json';
export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/** A directory created 0700 (mkdir applies the umask, so the mode is set again explicitly). */
export function ensurePrivateDir(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  chmodSync(dir, PRIVATE_DIR);
}

/** Creates `file` empty and 0600 when missing; an existing file is left as it is. */
export function ensurePrivateFile(file: string): void {
  if (existsSync(file)) return;
  closeSync(openSync(file, 'a', PRIVATE_FILE));
  chmodSync(file, PRIVATE_FILE);
}

/** Writes `file` whole and private: a temporary file, 0600, renamed over it. */
export function writePrivateFile(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: PRIVATE_FILE });
  chmodSync(temporary, PRIVATE_FILE);
  renameSync(temporary, file);
}

/** Sets 0600 on those of `files` that exist (files SQLite made, e.g. -wal). */
export function tightenFiles(files: readonly string[]): void {
  for (const file of files) if (existsSync(file)) chmodSync(file, PRIVATE_FILE);
}

/**
 * A DATA_DIR still holding the PGlite database of chatbox before 0.2 is refused: this version
 * cannot read it, and starting an empty SQLite store beside it would look like lost sessions.
 */
export function refusePglite(dataDir: string): void {
  for (const candidate of [join(dataDir, 'pglite'), dataDir]) {
    if (!existsSync(join(candidate, 'PG_VERSION'))) continue;
    throw new ChatboxError(
      'CHATBOX_ERR_PGLITE_DATA',
      `${resolve(candidate)} holds a PGlite (embedded PostgreSQL) database written by an earlier chatbox, ` +
        'which stored sessions in PGlite; this version stores them in SQLite and cannot read it. ' +
        'To keep those sessions, start the earlier version with STORE=pglite once more and copy them out ' +
        '(GET /chatbox/admin/sessions and /chatbox/sessions/:id), or move the directory aside ' +
        `(e.g. mv ${candidate} ${candidate}.old) to start with an empty SQLite store in ${resolve(dataDir)}.`,
    );
  }
}

export interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

export function writeHolder(dataDir: string): Holder {
  const holder: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  writePrivateFile(join(dataDir, HOLDER_FILE), `${JSON.stringify(holder)}\n`);
  return holder;
}

export function readHolder(dataDir: string): Holder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, HOLDER_FILE), 'utf8')) as Partial<Holder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.startedAt === 'string') {
      return { pid: parsed.pid, host: parsed.host, startedAt: parsed.startedAt };
    }
  } catch {
    // missing or unreadable: the refusal says so
  }
  return undefined;
}

export function lockedError(dataDir: string): ChatboxError {
  const holder = readHolder(dataDir);
  const who =
    holder === undefined
      ? 'another process (its holder file is missing)'
      : `process ${holder.pid} on ${holder.host}, running since ${holder.startedAt}`;
  return new ChatboxError(
    'CHATBOX_ERR_LOCKED',
    `DATA_DIR ${resolve(dataDir)} is in use by ${who}: one data directory serves one process. ` +
      'Stop that process, or give this one another DATA_DIR (or DATABASE_URL to share PostgreSQL between processes).',
  );
}
