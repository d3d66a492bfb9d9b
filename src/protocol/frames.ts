// The wire protocol (../shared/protocol.md), its own component so src/ws and src/router both
// depend on it and not on each other: the client frames we accept, validated with zod, and the
// server frames we send. A client's own `sender` and `timestamp` are never read.
import { z } from 'zod';
import type { ErrorCode } from '../events/catalog.js';
import { SESSION_ID_PATTERN } from '../storage/validate.js';

/** Session ids: existing web clients make up UUIDs; anything id-like up to 128 chars is fine. */
export const SESSION_ID = z.string().regex(SESSION_ID_PATTERN, { error: 'session_id must be 1-128 letters, digits, - or _' });

const MODEL_ID = z.string().min(1).max(128);
/** Longest help_request text relayed to admins (characters). */
export const HELP_TEXT_MAX = 1000;
/** Refused here, before any processing: the store could not hold it, and no session is created. */
const NO_NUL = (s: string): boolean => !s.includes('\u0000');
const NUL_MESSAGE = { error: 'must not contain NUL characters' };

export function clientFrameSchema(maxContentChars: number) {
  const content = z
    .string()
    .min(1, { error: 'content must not be empty' })
    .max(maxContentChars, { error: `content is longer than ${maxContentChars} characters` })
    .refine(NO_NUL, NUL_MESSAGE);
  return z.discriminatedUnion(
    'type',
    [
      z.object({ type: z.literal('user_message'), content, session_id: SESSION_ID.optional(), model_id: MODEL_ID.optional() }),
      z.object({ type: z.literal('model_select'), model_id: MODEL_ID }),
      z.object({
        type: z.literal('help_request'),
        session_id: SESSION_ID.optional(),
        content: z
          .string()
          .max(Math.min(HELP_TEXT_MAX, maxContentChars), { error: `help text is longer than ${HELP_TEXT_MAX} characters` })
          .refine(NO_NUL, NUL_MESSAGE)
          .optional(),
      }),
      z.object({ type: z.literal('typing_indicator'), session_id: SESSION_ID.optional() }),
      z.object({ type: z.literal('admin_join'), session_id: SESSION_ID }),
      z.object({ type: z.literal('admin_leave'), session_id: SESSION_ID.optional() }),
      z.object({ type: z.literal('file_upload') }),
      z.object({ type: z.literal('voice_message') }),
      // Admin consoles: live session updates and metrics pushed to this socket (README "Web app").
      z.object({ type: z.literal('console_subscribe') }),
      // An admin console reads one session live (its frames, without taking it over).
      z.object({ type: z.literal('console_watch'), session_id: SESSION_ID }),
    ],
    { error: (issue) => (issue.code === 'invalid_union' ? 'unknown or missing frame type' : undefined) },
  );
}

export type ClientFrame = z.infer<ReturnType<typeof clientFrameSchema>>;

export type { Sender, ServerFrame, ServerFrameType } from '../protocol/wire.js';
import type { ServerFrame } from '../protocol/wire.js';

// Every frame carries a timestamp, and a streamed reply sends many in the same millisecond:
// one ISO string is formatted per millisecond and reused (toISOString was ~5% of a round trip).
let clockMs = Number.NaN;
let clockIso = '';
export function now(): string {
  const ms = Date.now();
  if (ms !== clockMs) {
    clockMs = ms;
    clockIso = new Date(ms).toISOString();
  }
  return clockIso;
}

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
