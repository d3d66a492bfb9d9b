// A scripted ReplySource for chat tests: fixed chunks, optional pacing, failures on demand, and
// honest abort handling. It emits no LLM events: tests of the LLM layer use the real providers.
import type { StopSignal } from '../../src/llm/stop.js';
import { ChatboxError } from '../../src/errors.js';
import type { ModelInfo, Reply, ReplyChunk, ReplyRequest, ReplySource } from '../../src/llm/types.js';

export interface FakeRepliesOptions {
  chunks?: (req: ReplyRequest) => string[];
  delayMs?: number;
  /** Throw LLM_UNAVAILABLE instead of answering. */
  fail?: () => boolean;
  /**
   * Keep every request in `requests` (default true, for tests to read). A benchmark server turns
   * it off: kept requests (each with its history snapshot) grow the heap at every turn, and the
   * old-generation collections that follow would be counted as the chat server's cost.
   */
  keepRequests?: boolean;
}

export const FAKE_MODELS: readonly ModelInfo[] = [
  { id: 'fake-1', name: 'Fake model one', provider: 'openai' },
  { id: 'fake-2', name: 'Fake model two', provider: 'anthropic' },
];

const sleep = (ms: number, signal: StopSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ChatboxError('CANCELLED', 'cancelled'));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new ChatboxError('CANCELLED', 'cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

export function fakeReplies(options: FakeRepliesOptions = {}): ReplySource & { requests: ReplyRequest[] } {
  const requests: ReplyRequest[] = [];
  const chunksOf =
    options.chunks ?? ((req: ReplyRequest) => ['You said: ', req.messages[req.messages.length - 1]?.content ?? '', '.']);
  async function* stream(req: ReplyRequest): AsyncGenerator<ReplyChunk> {
    if (options.keepRequests !== false) requests.push(req);
    if (options.fail?.() === true) throw new ChatboxError('LLM_UNAVAILABLE', 'the fake provider is down', true);
    const chunks = chunksOf(req);
    for (const text of chunks) {
      if (options.delayMs !== undefined && options.delayMs > 0) await sleep(options.delayMs, req.signal);
      if (req.signal.aborted) throw new ChatboxError('CANCELLED', 'cancelled');
      yield { type: 'text', text };
    }
    yield { type: 'done', usage: { inputTokens: 3, outputTokens: chunks.length } };
  }
  return {
    requests,
    models: () => FAKE_MODELS,
    defaultModel: () => 'fake-1',
    stream,
    async complete(req): Promise<Reply> {
      let text = '';
      let usage = { inputTokens: 0, outputTokens: 0 };
      for await (const c of stream(req)) {
        if (c.type === 'text') text += c.text;
        else usage = c.usage;
      }
      return { text, usage };
    },
    close: async () => {},
  };
}
