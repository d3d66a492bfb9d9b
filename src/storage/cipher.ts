// Encryption at rest for message content (and the session name taken from it): AES-256-GCM with
// a fresh random 96-bit nonce per value, the session id as associated data so a sealed value
// cannot be moved into another session unnoticed. Wrong key or tampering fails loudly.
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ChatboxError } from '../errors.js';

export const DECRYPT_ERROR = 'CHATBOX_ERR_DECRYPT';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export interface Cipher {
  /** base64(nonce | tag | ciphertext) */
  seal(plain: string, aad: string): string;
  open(sealed: string, aad: string): string;
}

/** Validates ENCRYPTION_KEY (base64 of exactly 32 bytes) at construction, so a bad key fails at start. */
export function createCipher(keyBase64: string): Cipher {
  const key = Buffer.from(keyBase64, 'base64');
  // Buffer.from ignores junk silently; a round trip proves the text really was base64.
  const canonical = key.toString('base64');
  const given = keyBase64.trim().replace(/=+$/, '');
  if (key.length !== 32 || canonical.replace(/=+$/, '') !== given) {
    throw new ChatboxError(
      'CHATBOX_ERR_CONFIG',
      `ENCRYPTION_KEY must be 32 bytes encoded as base64 (got ${key.length} bytes); create one with \`openssl rand -base64 32\``,
    );
  }
  return {
    seal(plain, aad) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64');
    },
    open(sealed, aad) {
      const raw = Buffer.from(sealed, 'base64');
      if (raw.length < NONCE_BYTES + TAG_BYTES) throw new ChatboxError(DECRYPT_ERROR, 'stored content is not a sealed value');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES));
        decipher.setAAD(Buffer.from(aad, 'utf8'));
        decipher.setAuthTag(raw.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new ChatboxError(
          DECRYPT_ERROR,
          'stored content could not be decrypted: ENCRYPTION_KEY differs from the key it was written with, or the data was altered',
          false,
          { cause: error },
        );
      }
    },
  };
}

/** Content written encrypted but read by a store without a key. */
export const missingKey = (): ChatboxError =>
  new ChatboxError(DECRYPT_ERROR, 'stored content is encrypted but no ENCRYPTION_KEY is configured');
