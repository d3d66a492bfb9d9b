// What every store implementation takes and exposes beyond SessionStore.
import type { SessionEndReason } from '../events/catalog.js';
import type { SessionRecord, SessionStore } from './types.js';

export interface StoreOptions {
  /** This process's identity (INSTANCE_ID or the hostname): sessions record their owner. */
  readonly instanceId: string;
  /** base64 of 32 bytes: message content is stored AES-256-GCM encrypted. */
  readonly encryptionKey?: string;
  /** Largest message content in UTF-8 bytes (default 64 KiB). */
  readonly maxContentBytes?: number;
  /** Clock (tests). */
  readonly now?: () => Date;
}

/** What endSession did: `changed` is true only when the session went from open to ended now. */
export interface EndOutcome {
  readonly record: SessionRecord;
  readonly changed: boolean;
}

/**
 * Our stores also say what a call changed, so the instrumentation emits sessionEnded exactly
 * once per session that really ended, without a read before every write.
 */
export interface OutcomeStore extends SessionStore {
  endSessionOutcome(id: string, reason: SessionEndReason): Promise<EndOutcome | undefined>;
}

export const hasOutcomes = (store: SessionStore): store is OutcomeStore =>
  typeof (store as Partial<OutcomeStore>).endSessionOutcome === 'function';
