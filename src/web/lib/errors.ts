// A sentence a person can act on for every error frame code of the protocol.
import type { WireError } from './wire.js';

export function describeError(error: WireError | undefined): string {
  if (error === undefined) return 'Something went wrong.';
  switch (error.code) {
    case 'RATE_LIMITED': {
      const s = Math.max(1, Math.ceil((error.retry_after ?? 1000) / 1000));
      return `You are sending messages too fast. Try again in ${s} second${s === 1 ? '' : 's'}.`;
    }
    case 'LLM_UNAVAILABLE':
      return `The AI could not answer (${error.message}). Send your message again in a moment.`;
    case 'INVALID_MESSAGE':
      return `The server refused that message: ${error.message}`;
    case 'INVALID_JSON':
      return 'The server could not read what was sent.';
    case 'UNSUPPORTED':
      return `Not supported here: ${error.message}`;
    case 'NOT_FOUND':
      return 'That conversation does not exist.';
    case 'FORBIDDEN':
      return `Not allowed: ${error.message}`;
    case 'UNAUTHORIZED':
      return 'Your sign-in is missing or expired. Open the page with a fresh link.';
    case 'TOO_LARGE':
      return 'That message is too large.';
    case 'CONFLICT':
      return `Conflict: ${error.message}`;
    default:
      return `Server error: ${error.message}`;
  }
}

/** Largest message the page sends: the server closes the socket on a frame over 64 KiB. */
export const MAX_MESSAGE_BYTES = 60 * 1024;

export function checkMessage(text: string): string | undefined {
  if (text.trim() === '') return 'Type a message first.';
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_MESSAGE_BYTES) return `That message is too long (${bytes} bytes; at most ${MAX_MESSAGE_BYTES}). Shorten it and send again.`;
  return undefined;
}
