// The handle on one reply in progress: stopping it aborts the provider request and, at once,
// wakes the router's wait on the stream, so a provider stream that is slow to notice its abort
// cannot hold the session's reply chain. No listener on the signal: EventTarget calls cost ~10 us
// each here, more than the rest of a chunk's handling.
import type { LlmCancelCause } from '../events/catalog.js';

export class ReplyControl {
  private readonly controller = new AbortController();
  private wake: ((reason: unknown) => void) | undefined = undefined;

  /** Given to the reply source; aborted by stop(). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** Why it was stopped (undefined while it runs). */
  get cause(): LlmCancelCause | undefined {
    return this.stopped ? (this.controller.signal.reason as LlmCancelCause) : undefined;
  }

  stop(cause: LlmCancelCause): void {
    if (this.stopped) return;
    this.controller.abort(cause);
    this.wake?.(cause);
    this.wake = undefined;
  }

  /** `pending`, or a rejection with the cause as soon as stop() is called. */
  race<T>(pending: Promise<T>): Promise<T> {
    if (this.stopped) {
      pending.catch(() => {});
      return Promise.reject(this.cause);
    }
    return new Promise<T>((resolve, reject) => {
      this.wake = reject;
      pending.then(resolve, reject);
    });
  }
}
