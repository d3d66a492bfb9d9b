// Group commit: every append made in one event-loop turn (and while the previous batch is in
// flight) is written by one transaction. Per session the batch bumps message_count, tokens and
// last_activity once and inserts its rows with seq = previous count + position. One batch is in
// flight at a time and rows keep call order within it, so per-session order holds however many
// sessions append at once; the session row's write lock keeps seq unique even across processes.
// A caller's promise resolves only after the transaction committed (durable in the store).
//
// The two dialects differ only in how the rows travel: PostgreSQL takes the whole batch as one
// statement over two JSON documents (jsonb_to_recordset); SQLite takes two statements in one
// transaction over json_each (its UPDATE ... RETURNING cannot see the FROM side, so the seq
// base is computed here from the new count).
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { SqlKind } from './driver.js';
import type { Database } from './schema.js';
import { num } from './schema.js';

export interface SessionBump {
  readonly id: string;
  /** Rows appended to this session in the batch. */
  readonly n: number;
  readonly tokens: number;
  /** Epoch milliseconds of the newest createdAt in the batch. */
  readonly last: number;
  /** The (sealed) name from the batch's first user message, if any. */
  readonly name: string | null;
  readonly nameEnc: boolean;
}

export interface MessageRow {
  readonly session_id: string;
  /** Position of the row within its session's part of the batch, from 1. */
  readonly k: number;
  readonly sender: string;
  readonly content: string;
  readonly content_enc: boolean;
  /** Epoch milliseconds. */
  readonly created_at: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly response_ms: number | null;
}

/** Writes one batch; resolves with the first seq given to each session that exists. */
export type BatchWriter = (sessions: readonly SessionBump[], messages: readonly MessageRow[]) => Promise<Map<string, number>>;

export function createBatchWriter(db: Kysely<Database>, kind: SqlKind): BatchWriter {
  return kind === 'postgres' ? postgresWriter(db) : sqliteWriter(db);
}

function postgresWriter(db: Kysely<Database>): BatchWriter {
  // Compiled once: the statement never changes, only its two JSON parameters do (kysely would
  // otherwise build and freeze its operation tree again for every batch).
  const text = sql`
      WITH c AS (
        SELECT * FROM jsonb_to_recordset(${''}::jsonb) AS c(id text, n int, t bigint, l timestamptz, name text, name_enc boolean)
      ), bumped AS (
        UPDATE sessions AS s
        SET message_count = s.message_count + c.n,
            tokens = s.tokens + c.t,
            last_activity = GREATEST(s.last_activity, c.l),
            name = COALESCE(s.name, c.name),
            name_enc = CASE WHEN s.name IS NULL THEN c.name_enc ELSE s.name_enc END
        FROM c
        WHERE s.id = c.id
        RETURNING s.id, s.message_count - c.n AS base
      ), inserted AS (
        INSERT INTO messages (session_id, seq, sender, content, content_enc, created_at, metadata, input_tokens, output_tokens, response_ms)
        SELECT v.session_id, bumped.base + v.k, v.sender, v.content, v.content_enc, v.created_at, COALESCE(v.metadata, '{}'::jsonb),
               v.input_tokens, v.output_tokens, v.response_ms
        FROM jsonb_to_recordset(${''}::jsonb) AS v(session_id text, k int, sender text, content text, content_enc boolean,
               created_at timestamptz, metadata jsonb, input_tokens int, output_tokens int, response_ms double precision)
        JOIN bumped ON bumped.id = v.session_id
        RETURNING 1
      )
      SELECT id, base FROM bumped`.compile(db).sql;
  return async (sessions, messages) => {
    const s = JSON.stringify(sessions.map((b) => ({ id: b.id, n: b.n, t: b.tokens, l: new Date(b.last).toISOString(), name: b.name, name_enc: b.nameEnc })));
    const m = JSON.stringify(messages.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() })));
    const result = await db.executeQuery<{ id: string; base: number }>(CompiledQuery.raw(text, [s, m]));
    return new Map(result.rows.map((r) => [r.id, num(r.base) + 1]));
  };
}

function sqliteWriter(db: Kysely<Database>): BatchWriter {
  return (sessions, messages) =>
    db.transaction().execute(async (trx) => {
      const s = JSON.stringify(sessions.map((b) => ({ id: b.id, n: b.n, t: b.tokens, l: b.last, name: b.name, name_enc: b.nameEnc ? 1 : 0 })));
      const bumped = await sql<{ id: string; message_count: number }>`
        UPDATE sessions
        SET message_count = sessions.message_count + c.n,
            tokens = sessions.tokens + c.t,
            last_activity = max(sessions.last_activity, c.l),
            name = COALESCE(sessions.name, c.name),
            name_enc = CASE WHEN sessions.name IS NULL THEN c.name_enc ELSE sessions.name_enc END
        FROM (SELECT value ->> 'id' AS id, value ->> 'n' AS n, value ->> 't' AS t, value ->> 'l' AS l,
                     value ->> 'name' AS name, value ->> 'name_enc' AS name_enc FROM json_each(${s})) AS c
        WHERE sessions.id = c.id
        RETURNING sessions.id AS id, sessions.message_count AS message_count`.execute(trx);
      const first = new Map<string, number>();
      const counts = new Map(sessions.map((b) => [b.id, b.n]));
      for (const r of bumped.rows) first.set(r.id, num(r.message_count) - (counts.get(r.id) ?? 0) + 1);
      const rows = messages
        .filter((r) => first.has(r.session_id))
        .map((r) => ({ ...r, seq: (first.get(r.session_id) as number) + r.k - 1, content_enc: r.content_enc ? 1 : 0, metadata: JSON.stringify(r.metadata) }));
      if (rows.length > 0) {
        await sql`
          INSERT INTO messages (session_id, seq, sender, content, content_enc, created_at, metadata, input_tokens, output_tokens, response_ms)
          SELECT value ->> 'session_id', value ->> 'seq', value ->> 'sender', value ->> 'content', value ->> 'content_enc',
                 value ->> 'created_at', value ->> 'metadata', value ->> 'input_tokens', value ->> 'output_tokens', value ->> 'response_ms'
          FROM json_each(${JSON.stringify(rows)})`.execute(trx);
      }
      return first;
    });
}
