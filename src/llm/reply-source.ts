// The reply source: routes each request to its model's adapter and owns everything around one
// attempt that must be the same for every provider — retries with backoff, the three timeouts,
// cancellation, and the llm* events (exactly one outcome event per attempt, one llmFinished per
// reply; the per-attempt state is in attempt.ts). It also applies each model's system prompt and
// history budget before the first attempt, and owns the count of attempts in flight that
// chatbox_llm_in_flight reads at scrape time.
import { ChatboxError } from '../errors.js';
import type { LlmFailureReason, LlmFinishReason, Provider } from '../events/catalog.js';
import type { Bus } from '../events/bus.js';
import type { LlmConfig, ModelSpec } from './config.js';
import type { ProviderAdapter } from './adapter.js';
import { Attempt, ReplyEnd, type InFlight } from './attempt.js';
import { ProviderFailure, backoffDelay, isRetryableReason } from './failure.js';
import { createPrepare, type Prepare } from './history.js';
import type { FinishReason, ModelInfo, Reply, ReplyChunk, ReplyRequest, ReplySource } from './types.js';
import { createOpenAiAdapter } from './providers/openai.js';
import { createAnthropicAdapter } from './providers/anthropic.js';
import { createDifyAdapter } from './providers/dify.js';
import { createDemoAdapter } from './providers/demo.js';
import type { StopSignal } from './stop.js';

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
