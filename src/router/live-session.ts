// A session's live state on the replica that owns it: model, the admin holding it, the reply in
// progress and the reply chain, the recent history the next LLM request is built from.
import type { ChatTurn } from '../llm/types.js';
import type { ReplyControl } from './reply-control.js';

/** Turns kept in memory per session for the next LLM request. */
export const HISTORY_TURNS = 20;

export interface LiveSession {
  readonly id: string;
  readonly userId: string;
  modelId: string;
  admin: { readonly userId: string; readonly name: string } | undefined;
  reply: ReplyControl | undefined;
  /** Replies of one session run one after another, in message order. */
  chain: Promise<void>;
  history: ChatTurn[];
  idleTimer: NodeJS.Timeout | undefined;
  /**
   * A new session's row while it is being written: its first message is taken (and its reply
   * started) without waiting for it, and every write of the session waits for it (afterStored).
   */
  stored: Promise<void> | undefined;
}

/** A user message's append while it is in flight, shared with the reply started beside it. */
export interface PendingWrite {
  readonly done: Promise<unknown>;
  failed: boolean;
}

export function toTurn(sender: string, content: string): ChatTurn {
  return { role: sender === 'user' ? 'user' : 'assistant', content };
}

export function remember(live: LiveSession, turn: ChatTurn): void {
  live.history.push(turn);
  // shift() trims the array in place; splice() would also build an array of what it removed.
  while (live.history.length > HISTORY_TURNS) live.history.shift();
}

/** Takes back a turn whose message could not be stored. */
export function unremember(live: LiveSession, turn: ChatTurn): void {
  const at = live.history.lastIndexOf(turn);
  if (at !== -1) live.history.splice(at, 1);
}

/** A store write of the session, after its row: a new session's row may still be on its way. */
export function afterStored<T>(live: LiveSession, write: () => Promise<T>): Promise<T> {
  return live.stored === undefined ? write() : live.stored.then(write);
}
