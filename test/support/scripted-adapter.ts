// A provider adapter that plays a script, attempt by attempt: fail with a ProviderFailure, or
// stream chunks (optionally paced) and finish with the given usage and finish reason. Used to
// drive the real reply source before the fake provider server learns the new fields.
import type { StopSignal } from '../../src/llm/stop.js';
import type { AttemptCall, ProviderAdapter } from '../../src/llm/adapter.js';
import type { LlmConfig, ModelSpec } from '../../src/llm/config.js';
import { ProviderFailure } from '../../src/llm/failure.js';
import type { FinishReason, Reply, ReplyChunk, Usage } from '../../src/llm/types.js';

export type ScriptedAttempt =
  | { readonly fail: ProviderFailure }
  | { readonly chunks: readonly string[]; readonly usage: Usage; readonly finishReason?: FinishReason; readonly gapMs?: number };

const pause = (ms: number, signal: StopSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** Plays `script` in order; once it runs out, the last entry repeats. */
export function scriptedAdapter(script: readonly ScriptedAttempt[]): ProviderAdapter & { calls: AttemptCall[] } {
  const calls: AttemptCall[] = [];
  const next = (call: AttemptCall): ScriptedAttempt => {
    calls.push(call);
    return script[Math.min(calls.length - 1, script.length - 1)] as ScriptedAttempt;
  };
  return {
    calls,
    async *stream(call): AsyncGenerator<ReplyChunk> {
      const step = next(call);
      if ('fail' in step) throw step.fail;
      call.onHeaders();
      for (const text of step.chunks) {
        await pause(step.gapMs ?? 0, call.signal);
        if (call.signal.aborted) return;
        yield { type: 'text', text };
      }
      yield { type: 'done', usage: step.usage, ...(step.finishReason === undefined ? {} : { finishReason: step.finishReason }) };
    },
    async complete(call): Promise<Reply> {
      const step = next(call);
      if ('fail' in step) throw step.fail;
      call.onHeaders();
      return { text: step.chunks.join(''), usage: step.usage, ...(step.finishReason === undefined ? {} : { finishReason: step.finishReason }) };
    },
    close: async () => {},
  };
}

export const spec = (id: string, provider: ModelSpec['provider'], extra: Partial<ModelSpec> = {}): ModelSpec => ({
  id,
  name: id,
  provider,
  model: id,
  baseUrl: undefined,
  apiKey: undefined,
  maxTokens: undefined,
  ...extra,
});

export const llmConfig = (models: readonly ModelSpec[]): LlmConfig => ({
  models,
  demoOnly: false,
  retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 10 },
  timeouts: { connectMs: 10_000, firstTokenMs: 10_000, totalMs: 20_000 },
});
