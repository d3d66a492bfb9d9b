// The session store interface the chat server writes through. Implementations: memory (tests,
// benchmarks), SQLite (embedded default, persisted under DATA_DIR), PostgreSQL (DATABASE_URL).
import type { SessionEndReason } from '../events/catalog.js';

export type Sender = 'user' | 'ai' | 'admin' | 'system';

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  /** Taken from the first user message; null until there is one. */
  readonly name: string | null;
  readonly modelId: string;
  readonly isActive: boolean;
  readonly startedAt: Date;
  readonly endedAt: Date | null;
  readonly endReason: SessionEndReason | null;
  /** An admin took this session over at least once. */
  readonly adminAssisted: boolean;
  readonly messageCount: number;
  /** Time of the newest message (the latest createdAt appended); startedAt when none. */
  readonly lastActivity: Date;
  /** Sum of input + output tokens over its messages. */
  readonly tokens: number;
  /** The admin assisting now, else null. */
  readonly adminName: string | null;
  /** A help_request was made for it (cleared by nothing). */
  readonly helpRequested: boolean;
}

export interface MessageInput {
  readonly sender: Sender;
  readonly content: string;
  readonly createdAt?: Date;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  /** AI/admin reply: milliseconds from the user message to its first chunk. */
  readonly responseMs?: number;
}

export interface MessageRecord {
  readonly sessionId: string;
  /** Position in the session, from 1, in append order. */
  readonly seq: number;
  readonly sender: Sender;
  readonly content: string;
  readonly createdAt: Date;
  readonly metadata: Readonly<Record<string, string>>;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly responseMs: number | null;
}

export interface SessionWithMessages extends SessionRecord {
  readonly messages: readonly MessageRecord[];
}

export interface AdminSessionFilter {
  readonly active?: boolean;
  readonly userId?: string;
  readonly adminAssisted?: boolean;
  /** started_at >= from */
  readonly from?: Date;
  /** started_at < to */
  readonly to?: Date;
  /** Opaque cursor from a previous page. */
  readonly cursor?: string;
  /** 1..100, default 50. */
  readonly limit?: number;
  /** Default started_at; ties are broken by id in the same direction. */
  readonly sort?: SessionSort;
  /** Default desc. */
  readonly order?: 'asc' | 'desc';
}

export const SESSION_SORTS = ['started_at', 'last_activity', 'message_count', 'tokens', 'user_id'] as const;
export type SessionSort = (typeof SESSION_SORTS)[number];

export interface SessionStats {
  /** Sessions started in [from, to). */
  readonly sessions: number;
  /** Of those, still open. */
  readonly activeSessions: number;
  /** Of those, taken over by an admin at least once. */
  readonly adminAssisted: number;
  /** Messages created in [from, to). */
  readonly messages: number;
  /** Input + output tokens of those messages. */
  readonly tokens: number;
  /** Over the messages in range that carry responseMs; null when none do. */
  readonly avgResponseSeconds: number | null;
  readonly maxResponseSeconds: number | null;
}

export interface SessionPage {
  readonly sessions: readonly SessionRecord[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export interface SessionStore {
  /** Applies migrations and recovers this instance's sessions left open by a crash. */
  init(): Promise<void>;
  /** Creates an open session owned by this process. `id` may be client-chosen (a UUID). */
  createSession(input: { readonly id?: string; readonly userId: string; readonly modelId: string }): Promise<SessionRecord>;
  /** Reopens an ended session of the same user, or returns the open one (owned by this process from then on). */
  resumeSession(id: string): Promise<SessionRecord | undefined>;
  appendMessage(sessionId: string, message: MessageInput): Promise<MessageRecord>;
  /** Ends an open session; undefined when it does not exist, the ended record when it already had ended. */
  endSession(id: string, reason: SessionEndReason): Promise<SessionRecord | undefined>;
  setModel(id: string, modelId: string): Promise<void>;
  markAdminAssisted(id: string): Promise<void>;
  getSession(id: string): Promise<SessionWithMessages | undefined>;
  /** Without messages. */
  findSession(id: string): Promise<SessionRecord | undefined>;
  /** The user's sessions, newest first. */
  listUserSessions(userId: string, limit?: number): Promise<readonly SessionRecord[]>;
  listSessions(filter: AdminSessionFilter): Promise<SessionPage>;
  /** Open sessions owned by this process, kept in memory so a scrape can read it synchronously. */
  openSessionCount(): number;
  /** Ends every open session of this process with `reason` (graceful shutdown). */
  endAllOpen(reason: SessionEndReason): Promise<number>;
  /** Takeover sets the admin's name (and adminAssisted); handback sets null. */
  setAdmin(id: string, adminName: string | null): Promise<void>;
  markHelpRequested(id: string): Promise<void>;
  /** A read-only share token for the session (random, >= 128 bits, base64url); the same token on repeat until revoked. */
  shareSession(id: string): Promise<string>;
  /** true when a token was revoked. */
  revokeShare(id: string): Promise<boolean>;
  findShared(token: string): Promise<SessionWithMessages | undefined>;
  stats(range: { readonly from: Date; readonly to: Date }): Promise<SessionStats>;
  /** Scale-down: hands every open session this process owns to `toInstance`; returns how many moved. */
  transferOpenSessions(toInstance: string): Promise<number>;
  /** A dead replica: takes over every open session `fromInstance` owns; atomic, so two adopters racing move each session once; returns how many. */
  adoptOpenSessions(fromInstance: string): Promise<number>;
  /** Re-reads this process's open-session count from the database (another replica handed it sessions); returns it. */
  refreshOpenCount(): Promise<number>;
  /** Flushes pending writes and releases connections. */
  close(): Promise<void>;
}
