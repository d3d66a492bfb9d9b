// Rows to records: one place that knows how each dialect hands values back, and unseals
// encrypted content and names.
import type { SessionEndReason } from '../../events/catalog.js';
import type { Cipher } from '../cipher.js';
import { missingKey } from '../cipher.js';
import type { MessageRecord, Sender, SessionRecord } from '../types.js';
import { bool, date, dateOrNull, num, numOrNull } from './schema.js';

export const SESSION_COLUMNS = [
  'id',
  'user_id',
  'name',
  'name_enc',
  'model_id',
  'is_active',
  'started_at',
  'ended_at',
  'end_reason',
  'admin_assisted',
  'message_count',
  'last_activity',
  'tokens',
  'admin_name',
  'help_requested',
] as const;

export const MESSAGE_COLUMNS = [
  'seq',
  'sender',
  'content',
  'content_enc',
  'created_at',
  'metadata',
  'input_tokens',
  'output_tokens',
  'response_ms',
] as const;

type SessionRow = { readonly [K in (typeof SESSION_COLUMNS)[number]]: unknown };
type MessageRow = { readonly [K in (typeof MESSAGE_COLUMNS)[number]]: unknown };

export interface RowReader {
  session(r: SessionRow): SessionRecord;
  message(sessionId: string, r: MessageRow): MessageRecord;
}

export function createRowReader(cipher: Cipher | undefined): RowReader {
  function unseal(value: string, encrypted: boolean, sessionId: string): string {
    if (!encrypted) return value;
    if (cipher === undefined) throw missingKey();
    return cipher.open(value, sessionId);
  }
  return {
    session: (r) => {
      const id = r.id as string;
      return {
        id,
        userId: r.user_id as string,
        name: r.name === null ? null : unseal(r.name as string, bool(r.name_enc), id),
        modelId: r.model_id as string,
        isActive: bool(r.is_active),
        startedAt: date(r.started_at),
        endedAt: dateOrNull(r.ended_at),
        endReason: (r.end_reason ?? null) as SessionEndReason | null,
        adminAssisted: bool(r.admin_assisted),
        messageCount: num(r.message_count),
        lastActivity: date(r.last_activity),
        tokens: num(r.tokens),
        adminName: (r.admin_name ?? null) as string | null,
        helpRequested: bool(r.help_requested),
      };
    },
    message: (sessionId, r) => ({
      sessionId,
      seq: num(r.seq),
      sender: r.sender as Sender,
      content: unseal(r.content as string, bool(r.content_enc), sessionId),
      createdAt: date(r.created_at),
      metadata: (typeof r.metadata === 'string' ? JSON.parse(r.metadata) : (r.metadata ?? {})) as Record<string, string>,
      inputTokens: num(r.input_tokens),
      outputTokens: num(r.output_tokens),
      responseMs: numOrNull(r.response_ms),
    }),
  };
}
