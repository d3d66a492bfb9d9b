// The development JWT secret: generated once and kept under DATA_DIR, so that `npm run token`
// mints tokens the running dev server accepts, and tokens survive a restart. Private whatever
// the umask: the directory 0700 when created here, the file 0600.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writePrivateFile } from '../storage/data-dir.js';

export function devSecret(dataDir: string): string {
  const file = join(dataDir, '.dev-jwt-secret');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) {
      // A file written by an older version may be world-readable.
      chmodSync(file, 0o600);
      return existing;
    }
  } catch {
    // not there yet
  }
  const secret = randomBytes(48).toString('base64url');
  ensurePrivateDir(dataDir);
  writePrivateFile(file, `${secret}\n`);
  return secret;
}
