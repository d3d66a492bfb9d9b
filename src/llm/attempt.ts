// One attempt at a provider, and one reply across its attempts: the state the reply source
// (reply-source.ts) keeps per attempt — its stop signal linked to the caller's, the three
// timeouts on one timer, its clock, and exactly one outcome event (llmResponded, llmFailed or
// llmCancelled) — and the single llmFinished per reply.
import { performance } from 'node:perf_hooks';
import { LLM_CANCEL_CAUSES, type LlmCancelCause, type LlmFinishReason, type Provider } from '../events/catalog.js';
import type { Bus } from '../events/bus.js';
import type { LlmConfig, ModelSpec } from './config.js';
import type { AttemptCall } from './adapter.js';
import { ProviderFailure } from './failure.js';
import type { ReplyRequest, Usage } from './types.js';
import { Stop, type StopSignal } from './stop.js';

/** Marks an attempt aborted by one of our timers (the abort reason), as opposed to the caller. */
export class AttemptTimeout {
  constructor(readonly which: 'connect' | 'first token' | 'total', readonly ms: number) {}
}

export const cancelCause = (signal: StopSignal): LlmCancelCause => {
  const reason: unknown = signal.reason;
  return typeof reason === 'string' && (LLM_CANCEL_CAUSES as readonly string[]).includes(reason)
    ? (reason as LlmCancelCause)
    : 'aborted';
};

/** Attempts started and not yet settled, per provider: the owner of chatbox_llm_in_flight. */
export type InFlight = Record<Provider, number>;

/**
 * One attempt's state: its abort controller (linked to the caller's signal and to our timers),
 * its clock, and whether its outcome event was emitted.
 */
export class Attempt {
  /** Aborted by the caller's signal, by our timers, or at disposal of an unfinished attempt. */
  readonly controller = new Stop();
  readonly started = performance.now();
  firstTokenAt = 0;
  /** When the previous streamed chunk arrived (0: none yet). */
  lastChunkAt = 0;
  headers = false;
  timeout: AttemptTimeout | undefined = undefined;
  settled = false;
  /** The reply arrived whole: the request has nothing left to abort. */
  private succeeded = false;
  /**
   * The three timeouts share one timer, armed for the earliest deadline still pending and
   * re-armed when it fires for one that no longer applies (headers or a first token came in
   * time): one setTimeout per attempt instead of three, and no clearTimeout per milestone.
   */
  private timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for (index into `deadlines`). */
  private armed = 0;
  /** Milliseconds after `started`; connect, first token, total (ties go in that order). NaN: not pending. */
  private readonly deadlines: [number, number, number];
  private readonly onCallerAbort: () => void;

  constructor(
    readonly bus: Bus,
    readonly spec: ModelSpec,
    readonly request: ReplyRequest,
    readonly streaming: boolean,
    config: LlmConfig,
    private readonly inFlight: InFlight,
  ) {
    inFlight[spec.provider]++;
    const t = config.timeouts;
    this.deadlines = [t.connectMs, streaming ? t.firstTokenMs : Number.NaN, t.totalMs];
    this.arm(0);
    this.onCallerAbort = () => this.controller.abort(request.signal.reason);
    request.signal.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** Arms the timer for the earliest pending deadline, `elapsed` ms after the start. */
  private arm(elapsed: number): void {
    const d = this.deadlines;
    let next = -1;
    for (let i = 0; i < 3; i++) if (!Number.isNaN(d[i] as number) && (next < 0 || (d[i] as number) < (d[next] as number))) next = i;
    this.timer = undefined;
    if (next < 0) return;
    this.armed = next;
    this.timer = setTimeout(this.fire, Math.max(0, (d[next] as number) - elapsed));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.controller.aborted) return;
    const i = this.armed;
    const ms = this.deadlines[i] as number;
    // The deadline it was armed for is reached (whatever the clocks say); if it still applies it
    // expires, otherwise the next one is armed.
    if (!Number.isNaN(ms)) {
      this.timeout = new AttemptTimeout(i === 0 ? 'connect' : i === 1 ? 'first token' : 'total', ms);
      this.controller.abort(this.timeout);
      return;
    }
    this.arm(performance.now() - this.started);
  };

  readonly onHeaders = (): void => {
    if (this.headers) return;
    this.headers = true;
    this.deadlines[0] = Number.NaN;
  };

  call(): AttemptCall {
    return { spec: this.spec, request: this.request, signal: this.controller, onHeaders: this.onHeaders };
  }

  /** The attempt's outcome is known: it no longer counts as in flight. */
  private settle(): void {
    this.settled = true;
    this.inFlight[this.spec.provider]--;
  }

  /** Records one streamed text chunk: the first emits llmFirstToken, each later one its gap. */
  chunk(): void {
    if (this.lastChunkAt === 0) {
      this.firstToken();
      this.lastChunkAt = this.firstTokenAt;
      return;
    }
    const now = performance.now();
    const gapSeconds = (now - this.lastChunkAt) / 1000;
    this.lastChunkAt = now;
    // A small literal, built only when someone listens (this runs once per streamed chunk).
    if (this.bus.has('llmChunkReceived')) {
      this.bus.emit('llmChunkReceived', { provider: this.spec.provider, model: this.spec.id, gapSeconds });
    }
  }

  /** Records the first text of a stream: stops the first-token timer, emits llmFirstToken. */
  private firstToken(): void {
    this.firstTokenAt = performance.now();
    this.deadlines[1] = Number.NaN;
    this.bus.emit('llmFirstToken', {
      provider: this.spec.provider,
      model: this.spec.id,
      seconds: (this.firstTokenAt - this.started) / 1000,
    });
  }

  responded(usage: Usage): void {
    this.settle();
    this.succeeded = true;
    const end = performance.now();
    const duration = (end - this.started) / 1000;
    const latency = this.streaming && this.firstTokenAt > 0 ? (this.firstTokenAt - this.started) / 1000 : duration;
    this.bus.emit('llmResponded', {
      provider: this.spec.provider,
      model: this.spec.id,
      streaming: this.streaming,
      latencySeconds: latency,
      durationSeconds: duration,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cachedInputTokens: usage.cachedInputTokens ?? 0,
      reasoningTokens: usage.reasoningTokens ?? 0,
    });
  }

  failed(failure: ProviderFailure, willRetry: boolean): void {
    this.settle();
    this.bus.emit('llmFailed', {
      provider: this.spec.provider,
      model: this.spec.id,
      streaming: this.streaming,
      reason: failure.reason,
      willRetry,
      status: failure.status,
      durationSeconds: (performance.now() - this.started) / 1000,
    });
  }

  cancelled(): void {
    this.settle();
    this.bus.emit('llmCancelled', {
      provider: this.spec.provider,
      model: this.spec.id,
      streaming: this.streaming,
      cause: cancelCause(this.request.signal),
    });
  }

  /** What went wrong, from what this attempt knows and what the adapter threw. */
  classify(error: unknown): ProviderFailure {
    if (this.timeout !== undefined) {
      const t = this.timeout;
      return new ProviderFailure('timeout', 0, `no ${t.which === 'total' ? 'complete reply' : t.which === 'connect' ? 'response headers' : 'first token'} within ${t.ms} ms`, undefined, { cause: error });
    }
    if (error instanceof ProviderFailure) return error;
    if (error instanceof SyntaxError) return new ProviderFailure('bad_response', 0, `malformed JSON from the provider: ${error.message}`, undefined, { cause: error });
    if (error === undefined) return new ProviderFailure('stream_broken', 0, 'the stream ended before the reply was complete');
    const message = error instanceof Error ? error.message : String(error);
    return this.headers
      ? new ProviderFailure('stream_broken', 0, `the stream broke: ${message}`, undefined, { cause: error })
      : new ProviderFailure('network', 0, `connection failed: ${message}`, undefined, { cause: error });
  }

  /** Clears every timer and detaches from the caller's signal; aborts the request if still live. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.request.signal.removeEventListener('abort', this.onCallerAbort);
    // Aborting a finished request still runs undici's abort path, so only a request that may
    // still be live is aborted.
    if (!this.succeeded && !this.controller.aborted) this.controller.abort('aborted');
  }
}

/** One reply (all its attempts): emits llmFinished exactly once, however the reply ends. */
export class ReplyEnd {
  attempts = 0;
  private ended = false;
  constructor(
    private readonly bus: Bus,
    private readonly spec: ModelSpec,
    private readonly streaming: boolean,
  ) {}

  finish(reason: LlmFinishReason): void {
    if (this.ended || this.attempts === 0) return;
    this.ended = true;
    this.bus.emit('llmFinished', {
      provider: this.spec.provider,
      model: this.spec.id,
      streaming: this.streaming,
      reason,
      attempts: this.attempts,
    });
  }
}
