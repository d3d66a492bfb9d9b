// The handle on one reply in progress: stopping it aborts the provider request and, at once,
// wakes the router's wait on the stream, so a provider stream that is slow to notice its abort
// cannot hold the session's reply chain. Built on Stop (src/llm/stop.ts), not AbortController:
// one per reply, and an AbortController alone costs more than a chunk's handling.
import type { LlmCancelCause } from '../events/catalog.js';
import { Stop, type StopSignal } from '../llm/stop.js';

export class ReplyControl {
  private readonly halt = new Stop();
  private wake: ((reason: unknown) => void) | undefined = undefined;

  /** Given to the reply source; aborted by stop(). */
  get signal(): StopSignal {
    return this.halt;
  }

  get stopped(): boolean {
    return this.halt.aborted;
  }

  /** Why it was stopped (undefined while it runs). */
  get cause(): LlmCancelCause | undefined {
    return this.stopped ? (this.halt.reason as LlmCancelCause) : undefined;
  }

  stop(cause: LlmCancelCause): void {
    if (this.stopped) return;
    this.halt.abort(cause);
    this.wake?.(cause);
    this.wake = undefined;
  }

  /** The iterator's next result, raced against stop(); once stopped, the iterator is not asked again. */
  next<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T>> {
    return this.stopped ? Promise.reject(this.cause) : this.race(iterator.next());
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
