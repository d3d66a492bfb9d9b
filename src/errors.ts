// Errors are values with a stable code, a message a person can act on, and whether retrying
// may help. The same code travels in socket error frames, HTTP bodies and logs.

export class ChatboxError extends Error {
  override readonly name = 'ChatboxError';
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isChatboxError = (e: unknown): e is ChatboxError => e instanceof ChatboxError;
