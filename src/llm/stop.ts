// Cancellation for replies and attempts without EventTarget. On Node 20 a new AbortController
// costs ~4 us and an addEventListener/removeEventListener pair ~3 us more (`node -e` loop, this
// machine); a reply made two of each, and undici's request added a third listener. A reply
// source only ever reads `aborted` and `reason` and adds one `abort` listener at a time, so
// StopSignal names just that: an AbortSignal satisfies it (callers may pass one), and Stop
// implements it with a plain array.

/** What the reply source and the adapters read of a cancellation signal. */
export interface StopSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A signal and its controller in one: `abort(reason)` runs each listener once, as AbortSignal does. */
export class Stop implements StopSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined = undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    // As with AbortSignal, a listener added after the abort is never called.
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const list = this.listeners;
    if (list === undefined) return;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const list = this.listeners;
    this.listeners = undefined;
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener();
      } catch (error) {
        // As EventTarget does: a throwing listener neither stops the others nor the caller.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
