// Input checks shared by every store, run before anything is written: a bad call is refused with
// a ChatboxError (INVALID_MESSAGE / TOO_LARGE) and leaves the store untouched.
import { Buffer } from 'node:buffer';
import { SESSION_END_REASONS, type SessionEndReason } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import { decodeCursor, type PagePosition } from './cursor.js';
import { SESSION_SORTS, type AdminSessionFilter, type MessageInput, type MessageRecord, type Sender, type SessionSort } from './types.js';

/** Largest message content accepted by default (UTF-8 bytes), the protocol's frame limit. */
export const DEFAULT_MAX_CONTENT_BYTES = 64 * 1024;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_USER_LIST = 100;
export const MAX_USER_LIST = 1000;
/** A session's name is the start of its first user message. */
export const NAME_CHARS = 100;

const SENDERS: ReadonlySet<string> = new Set<Sender>(['user', 'ai', 'admin', 'system']);
const REASONS: ReadonlySet<string> = new Set(SESSION_END_REASONS);
/** Same shape as the socket's session_id (existing clients make up UUIDs). */
/** The one rule for session ids (client-chosen UUIDs included), shared by frames, REST and stores. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_METADATA_ENTRIES = 32;
const MAX_METADATA_CHARS = 1024;
const MAX_TOKENS = 2_147_483_647;

const invalid = (message: string): never => {
  throw new ChatboxError('INVALID_MESSAGE', message);
};

export const isSessionId = (id: unknown): id is string => typeof id === 'string' && SESSION_ID_PATTERN.test(id);

export function checkSessionId(id: unknown): string {
  if (!isSessionId(id)) invalid('session id must be 1-128 letters, digits, - or _');
  return id as string;
}

// PostgreSQL text cannot hold NUL, and its JSON parser refuses unpaired surrogates: either would
// fail a whole batch of appends, so NUL is refused up front and lone surrogates become U+FFFD
// (what UTF-8 encoding would have made of them anyway).
const NUL = '\u0000';
// With the u flag, \p{Cs} matches only surrogates that are not part of a pair.
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;
function text(value: string, field: string): string {
  if (value.includes(NUL)) invalid(`${field} must not contain NUL characters`);
  return LONE_SURROGATE.test(value) ? value.replace(LONE_SURROGATES, '\uFFFD') : value;
}

export function checkUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId === '' || userId.length > 256) invalid('user id must be 1-256 characters');
  return text(userId as string, 'user id');
}

export function checkModelId(modelId: unknown): string {
  if (typeof modelId !== 'string' || modelId === '' || modelId.length > 128) invalid('model id must be 1-128 characters');
  return text(modelId as string, 'model id');
}

export function checkReason(reason: unknown): SessionEndReason {
  if (typeof reason !== 'string' || !REASONS.has(reason)) invalid(`end reason must be one of ${SESSION_END_REASONS.join(', ')}`);
  return reason as SessionEndReason;
}

function checkTokens(value: unknown, field: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TOKENS) {
    invalid(`${field} must be a non-negative integer`);
  }
  return value as number;
}

// Years 1-9999: what RFC 3339 can write and every store can hold (PostgreSQL refuses far dates,
// which would otherwise fail a whole batch of other sessions' appends).
const EARLIEST = -62135596800000; // 0001-01-01T00:00:00Z
const LATEST = 253402300799999; // 9999-12-31T23:59:59.999Z

export const isStorableDate = (value: unknown): value is Date =>
  value instanceof Date && !Number.isNaN(value.getTime()) && value.getTime() >= EARLIEST && value.getTime() <= LATEST;

function checkDate(value: unknown, field: string): Date {
  if (!isStorableDate(value)) invalid(`${field} must be a valid date between years 1 and 9999`);
  return value as Date;
}

function checkResponseMs(value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TOKENS) {
    invalid('responseMs must be a non-negative number of milliseconds');
  }
  return value as number;
}

/** A message as every store writes it: validated, defaults filled in. */
export type CheckedMessage = Omit<MessageRecord, 'sessionId' | 'seq'>;

export function checkMessage(message: MessageInput, maxContentBytes: number, now: () => Date): CheckedMessage {
  if (typeof message !== 'object' || message === null) invalid('message must be an object');
  if (typeof message.sender !== 'string' || !SENDERS.has(message.sender)) invalid('sender must be user, ai, admin or system');
  if (typeof message.content !== 'string') invalid('content must be a string');
  // Cheap bound first: a string's UTF-8 size is at most 3 bytes per UTF-16 unit.
  if (message.content.length * 3 > maxContentBytes && Buffer.byteLength(message.content) > maxContentBytes) {
    throw new ChatboxError('TOO_LARGE', `message content is over ${maxContentBytes} bytes`);
  }
  const metadata = message.metadata ?? {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) invalid('metadata must map strings to strings');
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_ENTRIES) invalid(`metadata has more than ${MAX_METADATA_ENTRIES} entries`);
  const cleanMetadata: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || k.length > 64 || v.length > MAX_METADATA_CHARS) {
      invalid(`metadata must map keys of up to 64 characters to strings of up to ${MAX_METADATA_CHARS}`);
    }
    cleanMetadata[text(k, 'metadata')] = text(v as string, 'metadata');
  }
  return {
    sender: message.sender,
    content: text(message.content, 'content'),
    createdAt: message.createdAt === undefined ? now() : checkDate(message.createdAt, 'createdAt'),
    metadata: cleanMetadata,
    inputTokens: checkTokens(message.inputTokens, 'inputTokens'),
    outputTokens: checkTokens(message.outputTokens, 'outputTokens'),
    responseMs: checkResponseMs(message.responseMs),
  };
}

export function checkAdminName(name: unknown): string | null {
  if (name === null) return null;
  if (typeof name !== 'string' || name === '' || name.length > 256) invalid('admin name must be 1-256 characters, or null');
  return text(name as string, 'admin name');
}

/** Instance ids name replicas (INSTANCE_ID or a hostname). */
export function checkInstanceId(id: unknown): string {
  if (typeof id !== 'string' || id === '' || id.length > 128) invalid('instance id must be 1-128 characters');
  return text(id as string, 'instance id');
}

/** Share tokens are 32 base64url characters (24 random bytes, 192 bits). */
export const SHARE_TOKEN_BYTES = 24;
const SHARE_TOKEN = /^[A-Za-z0-9_-]{32}$/;
export const isShareToken = (token: unknown): token is string => typeof token === 'string' && SHARE_TOKEN.test(token);

export function checkRange(range: { readonly from: Date; readonly to: Date }): { from: Date; to: Date } {
  if (typeof range !== 'object' || range === null) invalid('range must be an object with from and to');
  const from = checkDate(range.from, 'from');
  const to = checkDate(range.to, 'to');
  if (from.getTime() >= to.getTime()) invalid('time range is empty: from must be before to');
  return { from, to };
}

/** The session name a user message gives: its first NAME_CHARS characters (whole code points). */
export function nameFrom(content: string): string {
  const head = content.slice(0, NAME_CHARS * 2).trim();
  const chars = Array.from(head);
  return chars.length > NAME_CHARS ? chars.slice(0, NAME_CHARS).join('') : head;
}

export interface CheckedFilter {
  readonly active: boolean | undefined;
  readonly userId: string | undefined;
  readonly adminAssisted: boolean | undefined;
  readonly from: Date | undefined;
  readonly to: Date | undefined;
  readonly after: PagePosition | undefined;
  readonly limit: number;
  readonly sort: SessionSort;
  readonly order: 'asc' | 'desc';
}

const optionalBool = (value: unknown, field: string): boolean | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') invalid(`${field} must be true or false`);
  return value as boolean;
};

export function checkFilter(filter: AdminSessionFilter): CheckedFilter {
  if (typeof filter !== 'object' || filter === null) invalid('filter must be an object');
  const from = filter.from === undefined ? undefined : checkDate(filter.from, 'from');
  const to = filter.to === undefined ? undefined : checkDate(filter.to, 'to');
  if (from !== undefined && to !== undefined && from.getTime() >= to.getTime()) invalid('time range is empty: from must be before to');
  const limit = filter.limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) invalid(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  const sort = filter.sort ?? 'started_at';
  if (!(SESSION_SORTS as readonly unknown[]).includes(sort)) invalid(`sort must be one of ${SESSION_SORTS.join(', ')}`);
  const order = filter.order ?? 'desc';
  if (order !== 'asc' && order !== 'desc') invalid('order must be asc or desc');
  return {
    active: optionalBool(filter.active, 'active'),
    userId: filter.userId === undefined ? undefined : checkUserId(filter.userId),
    adminAssisted: optionalBool(filter.adminAssisted, 'adminAssisted'),
    from,
    to,
    after: filter.cursor === undefined ? undefined : decodeCursor(filter.cursor, sort, order),
    limit,
    sort,
    order,
  };
}

export function checkUserListLimit(limit: number | undefined): number {
  const n = limit ?? DEFAULT_USER_LIST;
  if (!Number.isInteger(n) || n < 1 || n > MAX_USER_LIST) invalid(`limit must be an integer from 1 to ${MAX_USER_LIST}`);
  return n;
}

export const notFound = (what = 'session'): ChatboxError => new ChatboxError('NOT_FOUND', `${what} not found`);

/** (a) sorts before (b) in the listing order: started_at desc, then id desc. */
export function newerFirst(a: { readonly startedAt: Date; readonly id: string }, b: { readonly startedAt: Date; readonly id: string }): number {
  const d = b.startedAt.getTime() - a.startedAt.getTime();
  if (d !== 0) return d;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export { cursorAfter, decodeCursor, encodeCursor, listingOrder, sortValue, type PagePosition, type SortValue } from './cursor.js';
