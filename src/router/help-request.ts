// Who may ask for a human, and how often: only about one's own session (another user's id is
// FORBIDDEN and nothing reaches the admins), a few times per session per window (a Limiter from
// the factory, so the bound holds across replicas), with a short text (frames.ts bounds it).
import type { Limiter } from '../cluster/limiter.js';
import type { Bus } from '../events/bus.js';
import { ChatboxError } from '../errors.js';
import type { Connection } from '../ws/connections.js';

/** Longest help_request text relayed to admins (characters). */
export const HELP_TEXT_MAX = 1000;

/** A refusal that tells the client when it may try again (the error frame's `retry_after`). */
export class RetryLaterError extends ChatboxError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super('RATE_LIMITED', message, true);
  }
}

export interface HelpRequestDeps {
  readonly bus: Bus;
  /** The user owning a session, or undefined when there is no such session. */
  readonly ownerOf: (sessionId: string) => Promise<string | undefined>;
  readonly limiter: Limiter | undefined;
  readonly onInternalError: (error: unknown) => void;
}

/** The session id the request is about (undefined: none yet), or a ChatboxError thrown. */
export async function admitHelpRequest(conn: Connection, requested: string | undefined, deps: HelpRequestDeps): Promise<string | undefined> {
  const sessionId = requested ?? conn.sessionId;
  const userId = conn.principal.userId;
  if (sessionId !== undefined) {
    const owner = await deps.ownerOf(sessionId);
    if (owner === undefined && requested !== undefined && requested !== conn.pendingSessionId) {
      throw new ChatboxError('NOT_FOUND', 'session not found');
    }
    if (owner !== undefined && owner !== userId) throw new ChatboxError('FORBIDDEN', 'help can only be asked for your own session');
  }
  if (deps.limiter !== undefined) {
    let decision;
    try {
      decision = await deps.limiter.consume(sessionId ?? `user:${userId}`);
    } catch (error) {
      // The limiter's store is down: asking for help matters more than the bound.
      deps.onInternalError(error);
      return sessionId;
    }
    if (!decision.allowed) {
      deps.bus.emit('rateLimited', { limiter: 'help' });
      throw new RetryLaterError('help was already asked for this session; an admin will come', decision.retryAfterMs);
    }
  }
  return sessionId;
}
