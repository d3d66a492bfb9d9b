// The reply source: routes each request to its model's adapter and owns everything around one
// attempt that must be the same for every provider — retries with backoff, the three timeouts,
// cancellation, and the llm* events (exactly one outcome event per attempt, one llmFinished per
// reply). It also applies each model's system prompt and history budget before the first attempt,
// and owns the count of attempts in flight that chatbox_llm_in_flight reads at scrape time.
import { performance } from 'node:perf_hooks';
import { ChatboxError } from '../errors.js';
import { LLM_CANCEL_CAUSES, type LlmCancelCause, type LlmFailureReason, type LlmFinishReason, type Provider } from '../events/catalog.js';
import type { Bus } from '../events/bus.js';
import type { LlmConfig, ModelSpec } from './config.js';
import type { AttemptCall, ProviderAdapter } from './adapter.js';
import { ProviderFailure, backoffDelay, isRetryableReason } from './failure.js';
import { createPrepare, type Prepare } from './history.js';
import type { FinishReason, ModelInfo, Reply, ReplyChunk, ReplyRequest, ReplySource, Usage } from './types.js';
import { createOpenAiAdapter } from './providers/openai.js';
import { createAnthropicAdapter } from './providers/anthropic.js';
import { createDifyAdapter } from './providers/dify.js';
import { createDemoAdapter } from './providers/demo.js';
import { Stop, type StopSignal } from './stop.js';

export interface ReplySourceOptions {
  readonly config: LlmConfig;
  readonly bus: Bus;
  /** Pause between demo chunks (default 15 ms; 0 in tests). */
  readonly demoChunkDelayMs?: number;
  /** Jitter source in [0, 1) (default Math.random); tests pin it. */
  readonly random?: () => number;
  /** Replaces the adapter of a provider (tests, benchmarks). */
  readonly adapters?: Partial<Record<Provider, (spec: ModelSpec) => ProviderAdapter>>;
}

export const CANCELLED = 'CANCELLED';
export const LLM_UNAVAILABLE = 'LLM_UNAVAILABLE';

/** Marks an attempt aborted by one of our timers (the abort reason), as opposed to the caller. */
class AttemptTimeout {
  constructor(readonly which: 'connect' | 'first token' | 'total', readonly ms: number) {}
}

const cancelCause = (signal: StopSignal): LlmCancelCause => {
  const reason: unknown = signal.reason;
  return typeof reason === 'string' && (LLM_CANCEL_CAUSES as readonly string[]).includes(reason)
    ? (reason as LlmCancelCause)
    : 'aborted';
};

const cancelled = (): ChatboxError => new ChatboxError(CANCELLED, 'the reply was cancelled', false);

/** Waits `ms`, or rejects with CANCELLED as soon as `signal` aborts; leaves no timer behind. */
function sleep(ms: number, signal: StopSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(cancelled());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const WHAT: Record<LlmFailureReason, string> = {
  timeout: 'did not answer in time',
  network: 'could not be reached',
  rate_limited: 'is rate limiting requests',
  server_error: 'reported an internal error',
  client_error: 'refused the request',
  bad_response: 'sent a reply that could not be read',
  stream_broken: 'broke off the reply',
};

function unavailable(spec: ModelSpec, failure: ProviderFailure, attempts: number, midStream: boolean): ChatboxError {
  const status = failure.status > 0 ? ` (HTTP ${failure.status})` : '';
  let advice = 'try again in a moment';
  if (failure.reason === 'client_error') {
    advice =
      failure.status === 401 || failure.status === 403
        ? "check the server's API key for this provider"
        : failure.status === 404
          ? "check the model's configured name and base URL"
          : 'this request will not succeed as sent; check the server configuration';
  } else if (failure.reason === 'rate_limited') {
    advice = 'try again in a minute';
  }
  const tries = midStream ? 'after part of the reply was sent' : `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
  return new ChatboxError(
    LLM_UNAVAILABLE,
    `the AI model "${spec.name}" ${WHAT[failure.reason]}${status} ${tries}; ${advice}`,
    isRetryableReason(failure.reason),
    { cause: failure },
  );
}

/** Attempts started and not yet settled, per provider: the owner of chatbox_llm_in_flight. */
type InFlight = Record<Provider, number>;

/**
 * One attempt's state: its abort controller (linked to the caller's signal and to our timers),
 * its clock, and whether its outcome event was emitted.
 */
class Attempt {
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
class ReplyEnd {
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

/** A reply the provider ended without saying how counts as a normal stop. */
const finishedBy = (reason: FinishReason | undefined): LlmFinishReason => reason ?? 'stop';

export function createReplySource(options: ReplySourceOptions): ReplySource {
  const { config, bus } = options;
  const random = options.random ?? Math.random;
  const infos: readonly ModelInfo[] = config.models.map(({ id, name, provider, prices }) => ({ id, name, provider, ...(prices === undefined ? {} : { prices }) }));
  const factories: Record<Provider, (spec: ModelSpec) => ProviderAdapter> = {
    openai: createOpenAiAdapter,
    anthropic: createAnthropicAdapter,
    dify: createDifyAdapter,
    demo: (spec) => createDemoAdapter(spec, { chunkDelayMs: options.demoChunkDelayMs ?? 15 }),
    ...options.adapters,
  };
  // Adapters are built at construction: a bad base URL or key shape fails at start.
  const routes = new Map<string, { spec: ModelSpec; adapter: ProviderAdapter; prepare: Prepare }>();
  for (const spec of config.models) routes.set(spec.id, { spec, adapter: factories[spec.provider](spec), prepare: createPrepare(spec) });
  const inFlight: InFlight = { openai: 0, anthropic: 0, dify: 0, demo: 0 };
  const maxAttempts = config.retry.maxAttempts;
  let closed = false;

  function route(req: ReplyRequest): { spec: ModelSpec; adapter: ProviderAdapter; prepare: Prepare } {
    if (closed) throw new ChatboxError(LLM_UNAVAILABLE, 'the server is shutting down; try again in a moment', true);
    const found = routes.get(req.model);
    if (found === undefined) {
      throw new ChatboxError(LLM_UNAVAILABLE, `unknown model "${req.model}"; choose one of: ${infos.map((m) => m.id).join(', ')}`, false);
    }
    if (req.signal.aborted) throw cancelled();
    return found;
  }

  /**
   * Settles a failed attempt: emits its outcome event and either returns the delay before the
   * next attempt or throws what the caller should see.
   */
  function afterFailure(a: Attempt, end: ReplyEnd, error: unknown, attempt: number, yielded: boolean): number {
    if (a.request.signal.aborted) {
      a.cancelled();
      end.finish('cancelled');
      throw cancelled();
    }
    const failure = a.classify(error);
    const willRetry = !yielded && attempt < maxAttempts && isRetryableReason(failure.reason);
    a.failed(failure, willRetry);
    if (!willRetry) {
      end.finish('error');
      throw unavailable(a.spec, failure, attempt, yielded);
    }
    return backoffDelay(config.retry, attempt, failure.retryAfterMs, random);
  }

  /** The request as the adapter sees it: system prompt first, history cut to the budget. */
  function prepared(req: ReplyRequest, prepare: Prepare): ReplyRequest {
    const messages = prepare(req.messages);
    return messages === req.messages ? req : { ...req, messages };
  }

  async function* stream(original: ReplyRequest): AsyncGenerator<ReplyChunk, void, undefined> {
    const { spec, adapter, prepare } = route(original);
    const req = prepared(original, prepare);
    const end = new ReplyEnd(bus, spec, true);
    try {
      for (let attempt = 1; ; attempt++) {
        bus.emit('llmRequested', { provider: spec.provider, model: spec.id, streaming: true, attempt });
        end.attempts = attempt;
        const a = new Attempt(bus, spec, req, true, config, inFlight);
        let yielded = false;
        let delay = 0;
        try {
          let done: Extract<ReplyChunk, { type: 'done' }> | undefined;
          for await (const chunk of adapter.stream(a.call())) {
            if (chunk.type === 'done') {
              done = chunk;
              break;
            }
            if (chunk.text === '') continue;
            yielded = true;
            a.chunk();
            yield chunk;
          }
          // SDK streams end quietly when their signal aborts; a missing `done` is a broken stream.
          if (a.controller.aborted || done === undefined) throw undefined;
          a.responded(done.usage);
          a.dispose();
          end.finish(finishedBy(done.finishReason));
          yield done;
          return;
        } catch (error) {
          if (a.settled) throw error;
          delay = afterFailure(a, end, error, attempt, yielded);
        } finally {
          // Also reached when the consumer stops iterating mid-reply (return()).
          if (!a.settled) a.cancelled();
          a.dispose();
        }
        await sleep(delay, req.signal);
      }
    } finally {
      // Whatever path left the loop without an outcome (cancelled in a backoff pause, or the
      // consumer stopped iterating) was a cancellation; finish() ignores a second call.
      end.finish('cancelled');
    }
  }

  async function complete(original: ReplyRequest): Promise<Reply> {
    const { spec, adapter, prepare } = route(original);
    const req = prepared(original, prepare);
    const end = new ReplyEnd(bus, spec, false);
    try {
      for (let attempt = 1; ; attempt++) {
        bus.emit('llmRequested', { provider: spec.provider, model: spec.id, streaming: false, attempt });
        end.attempts = attempt;
        const a = new Attempt(bus, spec, req, false, config, inFlight);
        let delay: number;
        try {
          const reply = await adapter.complete(a.call());
          if (a.controller.aborted) throw undefined;
          a.responded(reply.usage);
          end.finish(finishedBy(reply.finishReason));
          return reply;
        } catch (error) {
          if (a.settled) throw error;
          delay = afterFailure(a, end, error, attempt, false);
        } finally {
          a.dispose();
        }
        await sleep(delay, req.signal);
      }
    } finally {
      end.finish('cancelled');
    }
  }

  return {
    models: () => infos,
    defaultModel: () => infos[0]?.id ?? 'demo',
    inFlight: (provider) => inFlight[provider],
    stream,
    complete,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...routes.values()].map((r) => r.adapter.close()));
    },
  };
}
