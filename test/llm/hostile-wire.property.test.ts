// A provider (or whatever answers at its base URL) may send any JSON in its events and bodies.
// Whatever it sends, each adapter either finishes the reply (text chunks, one done with whole,
// non-negative token counts) or throws a failure the reply source classifies (ProviderFailure,
// or SyntaxError for JSON that does not parse): never a TypeError from a shape it did not expect.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ModelSpec } from '../../src/llm/config.js';
import type { ProviderAdapter } from '../../src/llm/adapter.js';
import { ProviderFailure } from '../../src/llm/failure.js';
import { createOpenAiAdapter } from '../../src/llm/providers/openai.js';
import { createAnthropicAdapter } from '../../src/llm/providers/anthropic.js';
import { createDifyAdapter } from '../../src/llm/providers/dify.js';
import type { Provider } from '../../src/events/catalog.js';

/** The next response: an SSE stream of these data payloads, or one JSON body. */
let next: { readonly events: readonly { event?: string; data: string }[] } | { readonly body: string } = { body: '{}' };
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if ('body' in next) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(next.body);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(next.events.map((e) => `${e.event === undefined ? '' : `event: ${e.event}\n`}data: ${e.data}\n\n`).join(''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const spec = (provider: Provider): ModelSpec => ({
  id: provider,
  name: provider,
  provider,
  model: 'm',
  baseUrl: provider === 'anthropic' ? base : `${base}/v1`,
  apiKey: 'k',
  maxTokens: undefined,
});

const call = (s: ModelSpec) => ({
  spec: s,
  request: { model: s.id, messages: [{ role: 'user' as const, content: 'hi' }], signal: new AbortController().signal, sessionId: 's', userId: 'u' },
  signal: new AbortController().signal,
  onHeaders: () => {},
});

// Payloads near the real shapes (so the adapters get past their first checks) and anything at all.
// Odd values where objects are expected come often; any JSON at all now and then.
const value = fc.oneof(
  { arbitrary: fc.constantFrom<unknown>(null, 0, -1, 1.5, 1e300, 'x', '', true, [], {}), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 1 },
);
const near = fc.oneof(
  value,
  fc.record(
    {
      choices: fc.oneof(value, fc.array(fc.oneof(value, fc.record({ delta: value, message: value, finish_reason: value }, { requiredKeys: [] })), { maxLength: 2 })),
      usage: fc.oneof(value, fc.record({ prompt_tokens: value, completion_tokens: value, prompt_tokens_details: value, completion_tokens_details: value }, { requiredKeys: [] })),
      error: value,
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      type: fc.constantFrom('message_start', 'content_block_delta', 'message_delta', 'message_stop', 'error', 'ping'),
      delta: fc.oneof(value, fc.record({ type: fc.constantFrom('text_delta', 'x'), text: value, stop_reason: value }, { requiredKeys: [] })),
      message: fc.oneof(value, fc.record({ usage: value, stop_reason: value }, { requiredKeys: [] })),
      usage: value,
      error: value,
      content: value,
    },
    { requiredKeys: ['type'] },
  ),
  fc.record(
    {
      event: fc.constantFrom('message', 'agent_message', 'message_end', 'error', 'ping'),
      answer: value,
      conversation_id: value,
      metadata: fc.oneof(value, fc.record({ usage: value })),
      status: value,
    },
    { requiredKeys: ['event'] },
  ),
);
const events = fc.array(
  fc.record({
    // Mostly no event name, as OpenAI and Dify send; a named one now and then.
    event: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.constantFrom('error', 'message', 'content_block_delta'), weight: 1 }),
    data: near.map((v) => JSON.stringify(v) ?? 'null'),
  }),
  { maxLength: 6 },
);

function checkOutcome(error: unknown): void {
  if (error === undefined) return;
  expect(error instanceof ProviderFailure || error instanceof SyntaxError, `unexpected ${String(error)}`).toBe(true);
}

const FACTORIES: Record<'openai' | 'anthropic' | 'dify', (s: ModelSpec) => ProviderAdapter> = {
  openai: createOpenAiAdapter,
  anthropic: createAnthropicAdapter,
  dify: createDifyAdapter,
};

describe.each(Object.keys(FACTORIES) as ('openai' | 'anthropic' | 'dify')[])('hostile wire: %s', (provider) => {
  it('a streamed reply ends in text + one done, or a classifiable failure', async () => {
    const s = spec(provider);
    const adapter = FACTORIES[provider](s);
    try {
      await fc.assert(
        fc.asyncProperty(events, async (evs) => {
          next = { events: evs.map((e) => (e.event === undefined ? { data: e.data } : { event: e.event, data: e.data })) };
          let dones = 0;
          let error: unknown;
          try {
            for await (const c of adapter.stream(call(s))) {
              if (c.type === 'text') expect(typeof c.text).toBe('string');
              else {
                dones++;
                expect(Number.isInteger(c.usage.inputTokens) && c.usage.inputTokens >= 0).toBe(true);
                expect(Number.isInteger(c.usage.outputTokens) && c.usage.outputTokens >= 0).toBe(true);
              }
            }
          } catch (e) {
            error = e;
          }
          checkOutcome(error);
          expect(dones).toBeLessThanOrEqual(1);
        }),
        { numRuns: 120 },
      );
    } finally {
      await adapter.close();
    }
  });

  it('a whole reply is a string with whole token counts, or a classifiable failure', async () => {
    const s = spec(provider);
    const adapter = FACTORIES[provider](s);
    try {
      await fc.assert(
        fc.asyncProperty(near, async (v) => {
          next = { body: JSON.stringify(v) ?? 'null' };
          let error: unknown;
          try {
            const reply = await adapter.complete(call(s));
            expect(typeof reply.text).toBe('string');
            expect(Number.isInteger(reply.usage.inputTokens) && reply.usage.inputTokens >= 0).toBe(true);
          } catch (e) {
            error = e;
          }
          checkOutcome(error);
        }),
        { numRuns: 120 },
      );
    } finally {
      await adapter.close();
    }
  });
});
