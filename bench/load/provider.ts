// The LLM side of a load run: the fake provider with real pacing (time to first token, chunk
// pacing), and with --faults a steady mix of 429/5xx, stalls, cut streams and malformed chunks.
import { startFakeLlmServer, type FakeLlmServer, type FakeRequest, type FakeStep } from '../../test/support/fake-llm-server.js';
import type { Provider } from '../../src/events/catalog.js';

export interface LoadProvider {
  readonly name: Provider;
  /** Environment for the server process so its LLM layer talks to this provider. */
  readonly env: Record<string, string>;
  /** What the provider itself saw and sent, for the reconciliation. */
  tally(): { requests: number; failures: number; inputTokens: number; outputTokens: number };
  /**
   * When the provider received the request for the message with this content and when it wrote
   * its first token (performance.now() of this process), when one attempt answered it
   * (undefined when it took several attempts or none streamed text).
   */
  timing(content: string): { receivedAt: number; firstChunkAt: number } | undefined;
  /** Tokens the provider delivered in whole replies to the message with this content. */
  deliveredTokens(content: string): number;
  close(): Promise<void>;
}

/** A request's record keeps only its last user message, as `lastUser`. */
function lastUserOnly(body: Record<string, unknown>): Record<string, unknown> {
  const messages = body['messages'];
  if (!Array.isArray(messages)) return {};
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (m?.role === 'user') return { lastUser: { content: m.content } };
  }
  return {};
}

/** First-token timeout of the server under load: stalls are made longer than this. */
const FIRST_TOKEN_TIMEOUT_MS = 3000;

export async function startLoadProvider(options: {
  faults: boolean;
  ttftMs: number;
  chunkMs: number;
  chunks: number;
  random: () => number;
}): Promise<LoadProvider> {
  const fake: FakeLlmServer = await startFakeLlmServer({
    realistic: { firstTokenMs: options.ttftMs, chunkMs: options.chunkMs, chunks: options.chunks },
    // Only the last user message is indexed: whole histories would grow the harness's heap with
    // every turn, and its GC pauses land in every latency it measures.
    record: { body: lastUserOnly, headers: false },
  });
  let failures = 0;
  let byContent: Map<string, FakeRequest[]> | undefined;
  /** Attempts by the content of their last user message (each load message is unique). */
  const index = (): Map<string, FakeRequest[]> => {
    const map = new Map<string, FakeRequest[]>();
    for (const r of fake.requests()) {
      const last = r.body['lastUser'] as { content?: unknown } | undefined;
      if (typeof last?.content !== 'string') continue;
      const list = map.get(last.content) ?? [];
      list.push(r);
      map.set(last.content, list);
    }
    return map;
  };
  let refill: NodeJS.Timeout | undefined;
  if (options.faults) {
    const faults: FakeStep[] = [
      { status: 429, retryAfter: '0' },
      { status: 500 },
      { status: 503, retryAfter: '0' },
      { firstChunkDelayMs: FIRST_TOKEN_TIMEOUT_MS + 2000 },
      { cutAfter: 2 },
      { malformedAt: 1 },
    ];
    // Keep a queue of steps ahead of the traffic: about one request in eight misbehaves.
    const top = (): void => {
      if (fake.pending() > 200) return;
      const steps: FakeStep[] = [];
      for (let i = 0; i < 400; i++) {
        if (options.random() < 0.125) {
          steps.push(faults[Math.floor(options.random() * faults.length)] as FakeStep);
        } else steps.push({});
      }
      fake.script(steps);
    };
    top();
    refill = setInterval(top, 200);
  }
  return {
    name: 'openai',
    env: {
      OPENAI_API_KEY: 'sk-load-test',
      OPENAI_BASE_URL: fake.baseUrls.openai,
      OPENAI_MODEL: 'gpt-load',
      LLM_FIRST_TOKEN_TIMEOUT_MS: String(FIRST_TOKEN_TIMEOUT_MS),
      LLM_RETRY_BASE_MS: '50',
      LLM_RETRY_MAX_MS: '500',
    },
    tally() {
      const delivered = fake.delivered();
      failures = fake.requests().length - delivered.responses;
      return { requests: fake.requests().length, failures, inputTokens: delivered.inputTokens, outputTokens: delivered.outputTokens };
    },
    timing(content) {
      byContent ??= index();
      const attempts = byContent.get(content);
      if (attempts === undefined || attempts.length !== 1) return undefined;
      const only = attempts[0] as FakeRequest;
      return only.firstChunkAt === undefined ? undefined : { receivedAt: only.receivedAt, firstChunkAt: only.firstChunkAt };
    },
    deliveredTokens(content) {
      byContent ??= index();
      return (byContent.get(content) ?? []).reduce((sum, r) => sum + r.deliveredTokens, 0);
    },
    async close() {
      clearInterval(refill);
      await fake.close();
    },
  };
}
