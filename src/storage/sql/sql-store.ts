// The SessionStore over SQL, shared by PGlite and PostgreSQL: only the driver differs.
//
// Appends are group-committed: every append made in one event-loop turn (and while the previous
// batch is in flight) goes out as one statement that bumps each session's message_count and
// inserts all rows, with seq = previous count + position. One batch is in flight at a time and
// rows keep call order within it, so per-session order holds however many sessions append at
// once; the row lock taken by the UPDATE keeps seq unique even across processes. A caller's
// promise resolves only after that statement committed (durable in the store).
import { randomUUID } from 'node:crypto';
import type { SessionEndReason } from '../../events/catalog.js';
import { ChatboxError, isChatboxError } from '../../errors.js';
import { createCipher, missingKey, type Cipher } from '../cipher.js';
import type { EndOutcome, OutcomeStore, StoreOptions } from '../options.js';
import type { MessageRecord, SessionPage, SessionRecord, SessionWithMessages, Sender } from '../types.js';
import {
  DEFAULT_MAX_CONTENT_BYTES,
  checkFilter,
  checkMessage,
  checkModelId,
  checkReason,
  checkSessionId,
  checkUserId,
  checkUserListLimit,
  encodeCursor,
  isSessionId,
  nameFrom,
  notFound,
  type CheckedMessage,
} from '../validate.js';
import { sqlState, type Row, type SqlDriver } from './driver.js';
import { migrate } from './migrations.js';

export interface SqlStoreOptions extends StoreOptions {
  /** Group concurrent appends into one statement (default true); false writes each on its own. */
  readonly batching?: boolean;
  /** Most rows per append statement (default 500). */
  readonly maxBatchRows?: number;
}

/** A SQL store also reports how many open sessions of this instance it ended at init. */
export interface SqlSessionStore extends OutcomeStore {
  readonly driver: SqlDriver;
  recoveredAtInit(): number;
}

const SESSION_COLUMNS =
  'id, user_id, name, name_enc, model_id, is_active, started_at, ended_at, end_reason, admin_assisted, message_count';

interface SessionRow extends Row {
  id: string;
  user_id: string;
  name: string | null;
  name_enc: boolean;
  model_id: string;
  is_active: boolean;
  started_at: Date;
  ended_at: Date | null;
  end_reason: SessionEndReason | null;
  admin_assisted: boolean;
  message_count: number;
}

interface MessageRow extends Row {
  seq: number;
  sender: Sender;
  content: string;
  content_enc: boolean;
  created_at: Date;
  metadata: Record<string, string> | null;
  input_tokens: number;
  output_tokens: number;
}

interface PendingAppend {
  readonly sessionId: string;
  readonly message: CheckedMessage;
  /** Content as stored (sealed when encrypting). */
  readonly stored: string;
  resolve(record: MessageRecord): void;
  reject(error: unknown): void;
}

// Rows travel as one JSON document per side (sessions, messages): one JSON.stringify on our
// side instead of the driver escaping nine parameter arrays element by element.
const APPEND_SQL = `
WITH c AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS c(id text, n int, name text, name_enc boolean)
), bumped AS (
  UPDATE sessions AS s
  SET message_count = s.message_count + c.n,
      name = COALESCE(s.name, c.name),
      name_enc = CASE WHEN s.name IS NULL THEN c.name_enc ELSE s.name_enc END
  FROM c
  WHERE s.id = c.id
  RETURNING s.id, s.message_count - c.n AS base
)
INSERT INTO messages (session_id, seq, sender, content, content_enc, created_at, metadata, input_tokens, output_tokens)
SELECT v.session_id, bumped.base + v.k, v.sender, v.content, v.content_enc, v.created_at, COALESCE(v.metadata, '{}'::jsonb),
       v.input_tokens, v.output_tokens
FROM jsonb_to_recordset($2::jsonb) AS v(session_id text, k int, sender text, content text, content_enc boolean,
       created_at timestamptz, metadata jsonb, input_tokens int, output_tokens int)
JOIN bumped ON bumped.id = v.session_id
RETURNING session_id, seq`;

const RESOLVE_CHUNK = 64;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Driver failures become retryable INTERNAL errors; our own errors pass through unchanged. */
function storageError(error: unknown): ChatboxError {
  if (isChatboxError(error)) return error;
  const state = sqlState(error);
  const what = state === '57014' ? 'a storage statement timed out' : 'the session store failed';
  return new ChatboxError('INTERNAL', `${what}: ${(error as Error)?.message ?? String(error)}`, true, { cause: error });
}

export function createSqlStore(driver: SqlDriver, options: SqlStoreOptions): SqlSessionStore {
  const me = options.instanceId;
  const now = options.now ?? (() => new Date());
  const maxContentBytes = options.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const cipher: Cipher | undefined = options.encryptionKey === undefined ? undefined : createCipher(options.encryptionKey);
  const batching = options.batching ?? true;
  const maxBatchRows = options.maxBatchRows ?? 500;
  const q = driver.query;

  let open = 0;
  let recovered = 0;
  let initialised: Promise<void> | undefined;
  let closing = false;
  let closed: Promise<void> | undefined;
  const outstanding = new Set<Promise<unknown>>();

  const seal = (plain: string, sessionId: string): string => (cipher === undefined ? plain : cipher.seal(plain, sessionId));
  function unseal(value: string, encrypted: boolean, sessionId: string): string {
    if (!encrypted) return value;
    if (cipher === undefined) throw missingKey();
    return cipher.open(value, sessionId);
  }

  const toSession = (r: SessionRow): SessionRecord => ({
    id: r.id,
    userId: r.user_id,
    name: r.name === null ? null : unseal(r.name, r.name_enc, r.id),
    modelId: r.model_id,
    isActive: r.is_active,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    endReason: r.end_reason,
    adminAssisted: r.admin_assisted,
    messageCount: r.message_count,
  });

  const toMessage = (sessionId: string, r: MessageRow): MessageRecord => ({
    sessionId,
    seq: r.seq,
    sender: r.sender,
    content: unseal(r.content, r.content_enc, sessionId),
    createdAt: r.created_at,
    metadata: r.metadata ?? {},
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
  });

  /** Every public call: refuse after close, and turn driver errors into ChatboxErrors. */
  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    if (closing) throw new ChatboxError('INTERNAL', 'session store is closed', true);
    try {
      return await fn();
    } catch (error) {
      throw storageError(error);
    }
  }

  // ---- appends -------------------------------------------------------------------------------

  /** Writes one batch; settles every entry, never throws. */
  async function writeBatch(batch: readonly PendingAppend[]): Promise<void> {
    const groups = new Map<string, PendingAppend[]>();
    for (const p of batch) {
      const g = groups.get(p.sessionId);
      if (g === undefined) groups.set(p.sessionId, [p]);
      else g.push(p);
    }
    const sessions: { id: string; n: number; name: string | null; name_enc: boolean }[] = [];
    const messages: Record<string, unknown>[] = [];
    const encrypted = cipher !== undefined;
    for (const [id, g] of groups) {
      const firstUser = g.find((p) => p.message.sender === 'user');
      sessions.push({
        id,
        n: g.length,
        name: firstUser === undefined ? null : seal(nameFrom(firstUser.message.content), id),
        name_enc: firstUser !== undefined && encrypted,
      });
      let k = 0;
      for (const p of g) {
        const m = p.message;
        messages.push({
          session_id: id,
          k: ++k,
          sender: m.sender,
          content: p.stored,
          content_enc: encrypted,
          created_at: m.createdAt,
          metadata: m.metadata,
          input_tokens: m.inputTokens,
          output_tokens: m.outputTokens,
        });
      }
    }
    let rows: { session_id: string; seq: number }[];
    try {
      rows = await q<{ session_id: string; seq: number }>(APPEND_SQL, [JSON.stringify(sessions), JSON.stringify(messages)]);
    } catch (error) {
      const failure = storageError(error);
      for (const p of batch) p.reject(failure);
      return;
    }
    const seqs = new Map<string, number[]>();
    for (const r of rows) {
      const list = seqs.get(r.session_id);
      if (list === undefined) seqs.set(r.session_id, [r.seq]);
      else list.push(r.seq);
    }
    let settled = 0;
    for (const [id, g] of groups) {
      const list = seqs.get(id);
      if (list !== undefined) list.sort((a, b) => a - b);
      for (let k = 0; k < g.length; k++) {
        const p = g[k] as PendingAppend;
        if (list === undefined) p.reject(notFound());
        else p.resolve({ sessionId: id, seq: list[k] as number, ...p.message });
        // Each resolution runs its caller's continuation (often the next append) in the same
        // microtask flush; yielding every so often keeps a big batch from holding the loop.
        if (++settled % RESOLVE_CHUNK === 0) await yieldToLoop();
      }
    }
  }

  const queue: PendingAppend[] = [];
  let scheduled = false;
  let running = false;
  function kick(): void {
    if (scheduled || running) return;
    scheduled = true;
    // setImmediate, not a microtask: appends made by every callback of this turn join the batch.
    setImmediate(drain);
  }
  async function drain(): Promise<void> {
    scheduled = false;
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatchRows);
        // writeBatch settles its entries itself; this only guards against a bug leaving them hanging.
        await writeBatch(batch).catch((error: unknown) => {
          for (const p of batch) p.reject(storageError(error));
        });
      }
    } finally {
      running = false;
      if (queue.length > 0) kick();
    }
  }

  // Unbatched: one statement per append, serialised per session so seq follows call order.
  const chains = new Map<string, Promise<void>>();
  function writeAlone(p: PendingAppend): void {
    const previous = chains.get(p.sessionId) ?? Promise.resolve();
    const next = previous.then(() => writeBatch([p]));
    chains.set(p.sessionId, next);
    void next.then(() => {
      if (chains.get(p.sessionId) === next) chains.delete(p.sessionId);
    });
  }

  function appendMessage(sessionId: string, input: Parameters<OutcomeStore['appendMessage']>[1]): Promise<MessageRecord> {
    if (closing) return Promise.reject(new ChatboxError('INTERNAL', 'session store is closed', true));
    let pending: Promise<MessageRecord>;
    try {
      const message = checkMessage(input, maxContentBytes, now);
      // A malformed id cannot name a stored session: it is unknown, like any other unknown id.
      if (!isSessionId(sessionId)) return Promise.reject(notFound());
      const stored = seal(message.content, sessionId);
      pending = new Promise<MessageRecord>((resolve, reject) => {
        const entry: PendingAppend = { sessionId, message, stored, resolve, reject };
        if (batching) {
          queue.push(entry);
          kick();
        } else writeAlone(entry);
      });
    } catch (error) {
      return Promise.reject(error);
    }
    outstanding.add(pending);
    const forget = (): void => {
      outstanding.delete(pending);
    };
    pending.then(forget, forget);
    return pending;
  }


  // ---- sessions ------------------------------------------------------------------------------

  async function selectSession(id: string): Promise<SessionRecord | undefined> {
    if (!isSessionId(id)) return undefined;
    const rows = await q<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`, [id]);
    const row = rows[0];
    return row === undefined ? undefined : toSession(row);
  }

  function endSessionOutcome(id: string, reason: SessionEndReason): Promise<EndOutcome | undefined> {
    return guarded(async () => {
      checkReason(reason);
      if (!isSessionId(id)) return undefined;
      const rows = await q<SessionRow & { owner_instance: string }>(
        `UPDATE sessions SET is_active = false, ended_at = $2, end_reason = $3
         WHERE id = $1 AND is_active RETURNING ${SESSION_COLUMNS}, owner_instance`,
        [id, now(), reason],
      );
      const row = rows[0];
      if (row !== undefined) {
        if (row.owner_instance === me) open = Math.max(0, open - 1);
        return { record: toSession(row), changed: true };
      }
      const record = await selectSession(id);
      return record === undefined ? undefined : { record, changed: false };
    });
  }

  async function updateFlag(id: string, sql: string, params: readonly unknown[]): Promise<void> {
    if (!isSessionId(id)) throw notFound();
    const rows = await q(sql, [id, ...params]);
    if (rows.length === 0) throw notFound();
  }

  const store: SqlSessionStore = {
    driver,
    recoveredAtInit: () => recovered,
    init() {
      initialised ??= guarded(async () => {
        await migrate(driver);
        // Sessions this instance had open when its previous process died (crash, kill -9) end
        // now with reason `shutdown`; a returning user resumes them with resumeSession.
        const ended = await q(
          `UPDATE sessions SET is_active = false, ended_at = $2, end_reason = 'shutdown'
           WHERE is_active AND owner_instance = $1 RETURNING id`,
          [me, now()],
        );
        recovered = ended.length;
        const counted = await q<{ n: number }>(
          'SELECT count(*)::int AS n FROM sessions WHERE is_active AND owner_instance = $1',
          [me],
        );
        open = counted[0]?.n ?? 0;
      });
      return initialised;
    },
    createSession(input) {
      return guarded(async () => {
        const id = input.id === undefined ? randomUUID() : checkSessionId(input.id);
        const userId = checkUserId(input.userId);
        const modelId = checkModelId(input.modelId);
        const rows = await q<SessionRow>(
          `INSERT INTO sessions (id, user_id, model_id, started_at, owner_instance) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO NOTHING RETURNING ${SESSION_COLUMNS}`,
          [id, userId, modelId, now(), me],
        );
        const row = rows[0];
        if (row === undefined) throw new ChatboxError('CONFLICT', 'a session with this id already exists');
        open++;
        return toSession(row);
      });
    },
    resumeSession(id) {
      return guarded(async () => {
        if (!isSessionId(id)) return undefined;
        const rows = await q<SessionRow & { was_active: boolean; was_owner: string }>(
          `UPDATE sessions AS s SET is_active = true, ended_at = NULL, end_reason = NULL, owner_instance = $2
           FROM (SELECT id, is_active, owner_instance FROM sessions WHERE id = $1 FOR UPDATE) AS prev
           WHERE s.id = prev.id
           RETURNING ${SESSION_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')},
                     prev.is_active AS was_active, prev.owner_instance AS was_owner`,
          [id, me],
        );
        const row = rows[0];
        if (row === undefined) return undefined;
        if (!(row.was_active && row.was_owner === me)) open++;
        return toSession(row);
      });
    },
    appendMessage,
    async endSession(id, reason) {
      return (await endSessionOutcome(id, reason))?.record;
    },
    endSessionOutcome,
    setModel(id, modelId) {
      return guarded(async () => {
        checkModelId(modelId);
        await updateFlag(id, 'UPDATE sessions SET model_id = $2 WHERE id = $1 RETURNING id', [modelId]);
      });
    },
    markAdminAssisted(id) {
      return guarded(() => updateFlag(id, 'UPDATE sessions SET admin_assisted = true WHERE id = $1 RETURNING id', []));
    },
    getSession(id) {
      return guarded(async (): Promise<SessionWithMessages | undefined> => {
        const session = await selectSession(id);
        if (session === undefined) return undefined;
        const rows = await q<MessageRow>(
          `SELECT seq, sender, content, content_enc, created_at, metadata, input_tokens, output_tokens
           FROM messages WHERE session_id = $1 ORDER BY seq`,
          [id],
        );
        const messages = rows.map((r) => toMessage(id, r));
        return { ...session, messageCount: Math.max(session.messageCount, messages.length), messages };
      });
    },
    findSession(id) {
      return guarded(() => selectSession(id));
    },
    listUserSessions(userId, limit) {
      return guarded(async () => {
        checkUserId(userId);
        const n = checkUserListLimit(limit);
        const rows = await q<SessionRow>(
          `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2`,
          [userId, n],
        );
        return rows.map(toSession);
      });
    },
    listSessions(filter) {
      return guarded(async (): Promise<SessionPage> => {
        const f = checkFilter(filter);
        const where: string[] = [];
        const params: unknown[] = [];
        const add = (sql: (n: number) => string, ...values: unknown[]): void => {
          const first = params.length + 1;
          params.push(...values);
          where.push(sql(first));
        };
        if (f.active !== undefined) add((n) => `is_active = $${n}`, f.active);
        if (f.userId !== undefined) add((n) => `user_id = $${n}`, f.userId);
        if (f.adminAssisted !== undefined) add((n) => `admin_assisted = $${n}`, f.adminAssisted);
        if (f.from !== undefined) add((n) => `started_at >= $${n}`, f.from);
        if (f.to !== undefined) add((n) => `started_at < $${n}`, f.to);
        if (f.after !== undefined) add((n) => `(started_at, id) < ($${n}, $${n + 1})`, f.after.startedAt, f.after.id);
        params.push(f.limit + 1);
        const rows = await q<SessionRow>(
          `SELECT ${SESSION_COLUMNS} FROM sessions ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
           ORDER BY started_at DESC, id DESC LIMIT $${params.length}`,
          params,
        );
        const sessions = rows.slice(0, f.limit).map(toSession);
        const last = sessions[sessions.length - 1];
        return { sessions, nextCursor: rows.length > f.limit && last !== undefined ? encodeCursor(last) : null };
      });
    },
    openSessionCount: () => open,
    endAllOpen(reason) {
      return guarded(async () => {
        checkReason(reason);
        const rows = await q(
          `UPDATE sessions SET is_active = false, ended_at = $2, end_reason = $3
           WHERE is_active AND owner_instance = $1 RETURNING id`,
          [me, now(), reason],
        );
        open = Math.max(0, open - rows.length);
        return rows.length;
      });
    },
    transferOpenSessions(toInstance) {
      return guarded(async () => {
        if (toInstance === me) return 0;
        const rows = await q('UPDATE sessions SET owner_instance = $2 WHERE is_active AND owner_instance = $1 RETURNING id', [me, toInstance]);
        open = Math.max(0, open - rows.length);
        return rows.length;
      });
    },
    adoptOpenSessions(fromInstance) {
      return guarded(async () => {
        if (fromInstance === me) return 0;
        // One UPDATE: racing adopters each move only the rows still owned by the dead replica.
        const rows = await q('UPDATE sessions SET owner_instance = $2 WHERE is_active AND owner_instance = $1 RETURNING id', [fromInstance, me]);
        open += rows.length;
        return rows.length;
      });
    },
    refreshOpenCount() {
      return guarded(async () => {
        const counted = await q<{ n: number }>('SELECT count(*)::int AS n FROM sessions WHERE is_active AND owner_instance = $1', [me]);
        open = counted[0]?.n ?? 0;
        return open;
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        // Everything already accepted is written before the connections go.
        while (outstanding.size > 0) await Promise.allSettled([...outstanding]);
        await driver.close();
      })();
      return closed;
    },
  };
  return store;
}
