// The built-in demo model: answers with no account and no network, so a newcomer sees the whole
// path (socket, router, events, metrics) work. Deterministic: the reply is derived from the
// user's message; usage is word counts, clearly not real tokens.
import type { StopSignal } from '../stop.js';
import type { ModelSpec } from '../config.js';
import type { AttemptCall, ProviderAdapter } from '../adapter.js';
import type { Reply, ReplyChunk, ReplyRequest } from '../types.js';

export interface DemoOptions {
  /** Pause before each chunk; 0 answers at once. */
  readonly chunkDelayMs: number;
}

const words = (text: string): number => {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
};

/** The demo reply, as the chunks it is streamed in (each word with its following space). */
export function demoChunks(req: Pick<ReplyRequest, 'messages'>): string[] {
  let last = '';
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const turn = req.messages[i]!;
    if (turn.role === 'user') {
      last = turn.content;
      break;
    }
  }
  const said = last.trim().replace(/\s+/g, ' ');
  const quoted = said.length > 200 ? `${said.slice(0, 197)}...` : said;
  const text =
    `This is the built-in demo model, not an LLM. You said: "${quoted}" ` +
    '(set OPENAI_API_KEY, ANTHROPIC_API_KEY or DIFY_API_KEY to talk to a real model)';
  return text.match(/\S+\s*/g) ?? [text];
}

const inputWords = (req: ReplyRequest): number => req.messages.reduce((n, t) => n + words(t.content), 0);

function pause(ms: number, signal: StopSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export function createDemoAdapter(_spec: ModelSpec, options: DemoOptions): ProviderAdapter {
  const delay = options.chunkDelayMs;

  async function* stream(call: AttemptCall): AsyncGenerator<ReplyChunk, void, undefined> {
    call.onHeaders();
    const chunks = demoChunks(call.request);
    for (const text of chunks) {
      if (delay > 0) await pause(delay, call.signal);
      // Like the SDK streams: an aborted attempt just ends; the reply source knows why.
      if (call.signal.aborted) return;
      yield { type: 'text', text };
    }
    yield { type: 'done', usage: { inputTokens: inputWords(call.request), outputTokens: chunks.length }, finishReason: 'stop' };
  }

  async function complete(call: AttemptCall): Promise<Reply> {
    call.onHeaders();
    const chunks = demoChunks(call.request);
    if (delay > 0) await pause(delay, call.signal);
    return { text: chunks.join(''), usage: { inputTokens: inputWords(call.request), outputTokens: chunks.length }, finishReason: 'stop' };
  }

  return { stream, complete, close: async () => {} };
}
