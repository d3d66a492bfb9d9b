// One provider request on undici's dispatch API, and its response body read straight from the
// dispatch callbacks. undici's `request` wraps every response in a Readable (an AsyncResource, a
// stream state machine, 'readable' events, a promise per chunk through the stream's async
// iterator) and listens on the AbortSignal itself: at the load run's pacing (8 chunks 40 ms
// apart) that layer cost ~0.3 ms of CPU per request here (bench/llm/paced.bench.ts). This body
// is a plain queue: undici pushes, the adapter awaits the next chunk, and the signal has one
// listener, removed when the response settles.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { StopSignal } from '../stop.js';

/** Bytes queued unread before undici is asked to stop reading the socket. */
const HIGH_WATER = 64 * 1024;

/** Raised into a body whose reader let go before the end (release): closes its connection. */
class BodyReleased extends Error {
  constructor() {
    super('the response body was released before its end');
  }
}

export class ResponseBody {
  private chunks: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: { readonly error: unknown } | undefined = undefined;
  private waiter: { resolve(chunk: Buffer | null): void; reject(error: unknown): void } | undefined = undefined;
  /** undici's handle on the request (absent until it is on a socket). */
  controller: Dispatcher.DispatchController | undefined = undefined;

  /** The body has ended or failed: nothing more will arrive. */
  get finished(): boolean {
    return this.ended || this.failure !== undefined;
  }

  /** The next chunk, or null at the end of the body; rejects with what broke it. */
  read(): Promise<Buffer | null> {
    const chunk = this.chunks.length > 0 ? this.take() : undefined;
    if (chunk !== undefined) return Promise.resolve(chunk);
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /**
   * The reader is done with the body. A body read to its end has its socket back in the pool
   * already; one left early (the consumer stopped, a malformed event, an error event) is aborted,
   * which closes that connection (undici opens another when needed).
   */
  release(): void {
    this.chunks = [];
    this.queued = 0;
    if (this.finished) return;
    const released = new BodyReleased();
    this.fail(released);
    this.controller?.abort(released);
  }

  push(chunk: Buffer): void {
    if (this.finished) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER) this.controller?.pause();
  }

  end(): void {
    if (this.finished) return;
    this.ended = true;
    // A waiting reader means nothing is queued (push hands chunks straight to it).
    this.settleWaiter();
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.failure = { error };
    this.settleWaiter();
  }

  private take(): Buffer {
    const chunk = this.chunks.shift() as Buffer;
    this.queued -= chunk.length;
    if (this.queued <= HIGH_WATER && this.controller?.paused === true) this.controller.resume();
    return chunk;
  }

  private settleWaiter(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (this.failure !== undefined) waiter.reject(this.failure.error);
    else waiter.resolve(null);
  }
}

/** A response whose headers have arrived. */
export interface ProviderResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: ResponseBody;
}

/**
 * Sends one request on `dispatcher`; resolves at the response headers. Aborting `signal` (with
 * any reason) rejects with that reason before the headers, or fails the body after them, and
 * frees the connection either way.
 */
export function dispatch(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal: StopSignal): Promise<ProviderResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const body = new ResponseBody();
    let started = false;
    const settle = (): void => signal.removeEventListener('abort', onAbort);
    const onAbort = (): void => {
      const reason: unknown = signal.reason;
      if (!started) reject(reason);
      body.fail(reason);
      body.controller?.abort(reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        body.controller = controller;
        // Aborted while it waited for a socket: it never goes out.
        if (signal.aborted) controller.abort(signal.reason as Error);
      },
      onResponseStart(_controller, statusCode, headers) {
        // Informational answers (100 Continue...) come before the real one.
        if (statusCode < 200 || started) return;
        started = true;
        resolve({ statusCode, headers, body });
      },
      onResponseData(_controller, chunk) {
        body.push(chunk);
      },
      onResponseEnd() {
        settle();
        body.end();
      },
      onResponseError(_controller, error) {
        settle();
        if (!started) reject(signal.aborted ? signal.reason : error);
        body.fail(signal.aborted ? signal.reason : error);
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (error) {
      settle();
      reject(error);
    }
  });
}
