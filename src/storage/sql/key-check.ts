// A start over encrypted data with a missing or wrong ENCRYPTION_KEY stops at init with
// CHATBOX_ERR_DECRYPT and says which, instead of answering every read with an error later.
// The first encrypted start seals a known value under the key into store_meta; later starts
// open it. A database written encrypted before this check existed is probed with one message.
import type { Kysely } from 'kysely';
import { ChatboxError } from '../../errors.js';
import { DECRYPT_ERROR, type Cipher } from '../cipher.js';
import type { Database } from './schema.js';

const KEY = 'key_check';
const PLAIN = 'chatbox key check v1';
const AAD = 'store_meta:key_check';

export async function checkKey(db: Kysely<Database>, cipher: Cipher | undefined, where: string): Promise<void> {
  const row = await db.selectFrom('store_meta').select('value').where('key', '=', KEY).executeTakeFirst();
  const probe =
    row === undefined
      ? await db.selectFrom('messages').select(['session_id', 'content']).where('content_enc', '=', true).limit(1).executeTakeFirst()
      : undefined;
  const encrypted = row !== undefined || probe !== undefined;
  if (cipher === undefined) {
    if (!encrypted) return;
    throw new ChatboxError(
      DECRYPT_ERROR,
      `ENCRYPTION_KEY is missing: ${where} holds messages encrypted at rest. Start with the ENCRYPTION_KEY they were written with.`,
    );
  }
  try {
    if (row !== undefined) {
      if (cipher.open(row.value, AAD) === PLAIN) return;
    } else if (probe !== undefined) {
      cipher.open(probe.content, probe.session_id);
    }
  } catch {
    throw new ChatboxError(
      DECRYPT_ERROR,
      `ENCRYPTION_KEY is wrong: it is not the key the messages in ${where} were encrypted with. Start with the original key.`,
    );
  }
  // First encrypted start (or the first since this check exists): remember the key. Two replicas
  // doing this at once write equivalent values; the first one stays.
  await db
    .insertInto('store_meta')
    .values({ key: KEY, value: cipher.seal(PLAIN, AAD) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const kept = await db.selectFrom('store_meta').select('value').where('key', '=', KEY).executeTakeFirstOrThrow();
  try {
    cipher.open(kept.value, AAD);
  } catch {
    throw new ChatboxError(DECRYPT_ERROR, `ENCRYPTION_KEY is wrong: another process started ${where} with a different key at the same moment.`);
  }
}
