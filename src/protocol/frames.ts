// The wire protocol (../shared/protocol.md), its own component so src/ws and src/router both
// depend on it and not on each other: the client frames we accept, validated with zod, and the
// server frames we send. A client's own `sender` and `timestamp` are never read.
import { z } from 'zod';
import type { ErrorCode } from '../events/catalog.js';
import { SESSION_ID_PATTERN } from '../storage/validate.js';

/** Session ids: existing web clients make up UUIDs; anything id-like up to 128 chars is fine. */
export const SESSION_ID = z.string().regex(SESSION_ID_PATTERN, { error: 'session_id must be 1-128 letters, digits, - or _' });

const MODEL_ID = z.string().min(1).max(128);

export function clientFrameSchema(maxContentChars: number) {
  const content = z.string().min(1, { error: 'content must not be empty' }).max(maxContentChars, {
    error: `content is longer than ${maxContentChars} characters`,
  });
  return z.discriminatedUnion(
    'type',
    [
      z.object({ type: z.literal('user_message'), content, session_id: SESSION_ID.optional(), model_id: MODEL_ID.optional() }),
      z.object({ type: z.literal('model_select'), model_id: MODEL_ID }),
      z.object({ type: z.literal('help_request'), session_id: SESSION_ID.optional(), content: z.string().max(maxContentChars).optional() }),
      z.object({ type: z.literal('typing_indicator'), session_id: SESSION_ID.optional() }),
      z.object({ type: z.literal('admin_join'), session_id: SESSION_ID }),
      z.object({ type: z.literal('admin_leave'), session_id: SESSION_ID.optional() }),
      z.object({ type: z.literal('file_upload') }),
      z.object({ type: z.literal('voice_message') }),
    ],
    { error: (issue) => (issue.code === 'invalid_union' ? 'unknown or missing frame type' : undefined) },
  );
}

export type ClientFrame = z.infer<ReturnType<typeof clientFrameSchema>>;

export type Sender = 'user' | 'ai' | 'admin' | 'system';

export type ServerFrameType =
  | 'connection_status'
  | 'loading'
  | 'ai_response'
  | 'user_message'
  | 'admin_join'
  | 'admin_leave'
  | 'notification'
  | 'typing_indicator'
  | 'error';

export interface ServerFrame {
  readonly type: ServerFrameType;
  readonly session_id?: string | undefined;
  readonly content?: string;
  readonly sender: Sender;
  readonly timestamp: string;
  readonly model_id?: string;
  readonly models?: readonly { readonly id: string; readonly name: string }[];
  readonly user_id?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly error?: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly recoverable: boolean;
    readonly retry_after?: number;
  };
}

export const now = (): string => new Date().toISOString();

export function errorFrame(
  code: ErrorCode,
  message: string,
  options: { recoverable?: boolean; retryAfterMs?: number; sessionId?: string | undefined } = {},
): ServerFrame {
  return {
    type: 'error',
    ...(options.sessionId === undefined ? {} : { session_id: options.sessionId }),
    sender: 'system',
    timestamp: now(),
    error: {
      code,
      message,
      recoverable: options.recoverable ?? true,
      ...(options.retryAfterMs === undefined ? {} : { retry_after: options.retryAfterMs }),
    },
  };
}

/** Turns zod issues into one short sentence a client developer can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}
