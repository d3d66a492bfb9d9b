// The SessionStore over SQL, one implementation for SQLite and PostgreSQL on Kysely: only the
// driver (and the batch writer's statement, see append.ts) differs.
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { SessionEndReason } from '../../events/catalog.js';
import { ChatboxError } from '../../errors.js';
import { createCipher, DECRYPT_ERROR, type Cipher } from '../cipher.js';
import type { EndOutcome, OutcomeStore, StoreOptions } from '../options.js';
import type { SessionPage } from '../types.js';
import {
  DEFAULT_MAX_CONTENT_BYTES,
  SHARE_TOKEN_BYTES,
  checkAdminName,
  checkFilter,
  checkInstanceId,
  checkModelId,
  checkRange,
  checkReason,
  checkSessionId,
  checkUserId,
  checkUserListLimit,
  cursorAfter,
  isSessionId,
  isShareToken,
  notFound,
} from '../validate.js';
import { createAppendQueue } from './append-queue.js';
import { storageError, type SqlDriver } from './driver.js';
import { checkKey } from './key-check.js';
import { listSessionRows, sessionStats } from './listing.js';
import { migrate } from './migrations.js';
import { createRowReader, SESSION_COLUMNS } from './rows.js';
import { countOpen, endOpen, moveOpen, selectSession, selectSessions, updateSession, withMessages } from './session-queries.js';

export interface SqlStoreOptions extends StoreOptions {
  /** Group concurrent appends into one transaction (default true); false writes each on its own. */
  readonly batching?: boolean;
  /** Most rows per append transaction (default 500). */
  readonly maxBatchRows?: number;
  /** Called with every CHATBOX_ERR_DECRYPT a read meets (the app logs it). */
  readonly onDecryptError?: (error: ChatboxError) => void;
  /** Names the database in start-up errors (a path or the PostgreSQL database). */
  readonly where?: string;
}

/** A SQL store also reports how many open sessions of this instance it ended at init. */
export interface SqlSessionStore extends OutcomeStore {
  readonly driver: SqlDriver;
  recoveredAtInit(): number;
}

export function createSqlStore(driver: SqlDriver, options: SqlStoreOptions): SqlSessionStore {
  const me = options.instanceId;
  const now = options.now ?? (() => new Date());
  const cipher: Cipher | undefined = options.encryptionKey === undefined ? undefined : createCipher(options.encryptionKey);
  const { db, kind } = driver;
  const read = createRowReader(cipher);

  let open = 0;
  let recovered = 0;
  let initialised: Promise<void> | undefined;
  let closing = false;
  let closed: Promise<void> | undefined;

  /** Every public call: refuse after close, and turn driver errors into ChatboxErrors. */
  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    if (closing) throw new ChatboxError('INTERNAL', 'session store is closed', true);
    try {
      return await fn();
    } catch (error) {
      const failure = storageError(error);
      if (failure.code === DECRYPT_ERROR) options.onDecryptError?.(failure);
      throw failure;
    }
  }

  const appends = createAppendQueue({
    db,
    kind,
    cipher,
    now,
    maxContentBytes: options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES,
    batching: options.batching ?? true,
    maxBatchRows: options.maxBatchRows ?? 500,
    isClosing: () => closing,
  });

  function endSessionOutcome(id: string, reason: SessionEndReason): Promise<EndOutcome | undefined> {
    return guarded(async () => {
      checkReason(reason);
      if (!isSessionId(id)) return undefined;
      const row = await db
        .updateTable('sessions')
        .set({ is_active: false, ended_at: now(), end_reason: reason, admin_name: null })
        .where('id', '=', id)
        .where('is_active', '=', true)
        .returning([...SESSION_COLUMNS, 'owner_instance'])
        .executeTakeFirst();
      if (row !== undefined) {
        if (row.owner_instance === me) open = Math.max(0, open - 1);
        return { record: read.session(row), changed: true };
      }
      const record = await selectSession(db, read, id);
      return record === undefined ? undefined : { record, changed: false };
    });
  }

  const store: SqlSessionStore = {
    driver,
    recoveredAtInit: () => recovered,
    init() {
      initialised ??= guarded(async () => {
        await migrate(driver);
        await checkKey(db, cipher, options.where ?? `the ${kind} store`);
        // Sessions this instance had open when its previous process died (crash, kill -9) end
        // now with reason `shutdown`; a returning user resumes them with resumeSession.
        recovered = await endOpen(db, me, 'shutdown', now());
        open = await countOpen(db, me);
      });
      return initialised;
    },
    createSession(input) {
      return guarded(async () => {
        const id = input.id === undefined ? randomUUID() : checkSessionId(input.id);
        const userId = checkUserId(input.userId);
        const modelId = checkModelId(input.modelId);
        const startedAt = now();
        const row = await db
          .insertInto('sessions')
          .values({ id, user_id: userId, model_id: modelId, started_at: startedAt, last_activity: startedAt, owner_instance: me })
          .onConflict((oc) => oc.column('id').doNothing())
          .returning(SESSION_COLUMNS)
          .executeTakeFirst();
        if (row === undefined) throw new ChatboxError('CONFLICT', 'a session with this id already exists');
        open++;
        return read.session(row);
      });
    },
    resumeSession(id) {
      return guarded(async () => {
        if (!isSessionId(id)) return undefined;
        // Reopens unless it is already open and ours; one statement, so the count moves once.
        const row = await db
          .updateTable('sessions')
          .set({ is_active: true, ended_at: null, end_reason: null, owner_instance: me })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('is_active', '=', false), eb('owner_instance', '<>', me)]))
          .returning(SESSION_COLUMNS)
          .executeTakeFirst();
        if (row !== undefined) {
          open++;
          return read.session(row);
        }
        return selectSession(db, read, id);
      });
    },
    appendMessage: (sessionId, input) => appends.append(sessionId, input),
    async endSession(id, reason) {
      return (await endSessionOutcome(id, reason))?.record;
    },
    endSessionOutcome,
    setModel(id, modelId) {
      return guarded(async () => updateSession(db, id, { model_id: checkModelId(modelId) }));
    },
    markAdminAssisted(id) {
      return guarded(() => updateSession(db, id, { admin_assisted: true }));
    },
    setAdmin(id, adminName) {
      return guarded(async () => {
        const name = checkAdminName(adminName);
        await updateSession(db, id, name === null ? { admin_name: null } : { admin_name: name, admin_assisted: true });
      });
    },
    markHelpRequested(id) {
      return guarded(() => updateSession(db, id, { help_requested: true }));
    },
    shareSession(id) {
      return guarded(async () => {
        if (!isSessionId(id)) throw notFound();
        // COALESCE keeps the token a concurrent call may have set: the same token on repeat.
        const fresh = randomBytes(SHARE_TOKEN_BYTES).toString('base64url');
        const row = await db
          .updateTable('sessions')
          .set({ share_token: sql`COALESCE(share_token, ${fresh})` })
          .where('id', '=', id)
          .returning('share_token')
          .executeTakeFirst();
        if (row === undefined || row.share_token === null) throw notFound();
        return row.share_token;
      });
    },
    revokeShare(id) {
      return guarded(async () => {
        if (!isSessionId(id)) return false;
        const row = await db
          .updateTable('sessions')
          .set({ share_token: null })
          .where('id', '=', id)
          .where('share_token', 'is not', null)
          .returning('id')
          .executeTakeFirst();
        return row !== undefined;
      });
    },
    findShared(token) {
      return guarded(async () => {
        if (!isShareToken(token)) return undefined;
        const row = await selectSessions(db).where('share_token', '=', token).executeTakeFirst();
        return withMessages(db, read, row === undefined ? undefined : read.session(row));
      });
    },
    stats(range) {
      return guarded(() => sessionStats(db, checkRange(range)));
    },
    transferOpenSessions(toInstance) {
      return guarded(async () => {
        const to = checkInstanceId(toInstance);
        if (to === me) return 0;
        const n = await moveOpen(db, me, to);
        open = Math.max(0, open - n);
        return n;
      });
    },
    adoptOpenSessions(fromInstance) {
      return guarded(async () => {
        const from = checkInstanceId(fromInstance);
        if (from === me) return 0;
        // One UPDATE: a racing adopter's statement re-checks the owner and finds it moved.
        const n = await moveOpen(db, from, me);
        open += n;
        return n;
      });
    },
    refreshOpenCount() {
      return guarded(async () => {
        open = await countOpen(db, me);
        return open;
      });
    },
    getSession(id) {
      return guarded(async () => withMessages(db, read, await selectSession(db, read, id)));
    },
    findSession(id) {
      return guarded(() => selectSession(db, read, id));
    },
    listUserSessions(userId, limit) {
      return guarded(async () => {
        const user = checkUserId(userId);
        const n = checkUserListLimit(limit);
        const rows = await selectSessions(db).where('user_id', '=', user).orderBy('started_at', 'desc').orderBy('id', 'desc').limit(n).execute();
        return rows.map(read.session);
      });
    },
    listSessions(filter) {
      return guarded(async (): Promise<SessionPage> => {
        const f = checkFilter(filter);
        const rows = await listSessionRows(db, kind, f);
        const page = rows.slice(0, f.limit).map(read.session);
        const last = page[page.length - 1];
        return { sessions: page, nextCursor: rows.length > f.limit && last !== undefined ? cursorAfter(last, f) : null };
      });
    },
    openSessionCount: () => open,
    endAllOpen(reason) {
      return guarded(async () => {
        checkReason(reason);
        const n = await endOpen(db, me, reason, now());
        open = Math.max(0, open - n);
        return n;
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        // Everything already accepted is written before the connections go.
        await appends.drained();
        await driver.close();
      })();
      return closed;
    },
  };
  return store;
}

