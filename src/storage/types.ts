// The session store interface the chat server writes through. Implementations: memory (tests,
// benchmarks), PGlite (embedded default, persisted under DATA_DIR), PostgreSQL (DATABASE_URL).
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
}

export interface MessageInput {
  readonly sender: Sender;
  readonly content: string;
  readonly createdAt?: Date;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly inputTokens?: number;
  readonly outputTokens?: number;
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
  // For several replicas (../prompts/store-api.md; the storage helper owns the full versions):
  /** Scale-down: hands every open session this process owns to `toInstance`; returns how many moved. */
  transferOpenSessions(toInstance: string): Promise<number>;
  /** A dead replica: takes over every open session `fromInstance` owns; atomic, so two adopters racing move each session once; returns how many. */
  adoptOpenSessions(fromInstance: string): Promise<number>;
  /** Re-reads this process's open-session count from the database (another replica handed it sessions); returns it. */
  refreshOpenCount(): Promise<number>;
  /** Flushes pending writes and releases connections. */
  close(): Promise<void>;
}
