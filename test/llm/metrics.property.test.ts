// A fast-check property over random fault sequences: whatever the providers do, the attempts and
// their outcomes follow the retry policy (checked against a small model), and the metrics read
// through the registry equal the sums over the events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_FAKE_INPUT_TOKENS, startFakeLlmServer, type FakeLlmServer, type FakeProvider, type FakeStep } from '../support/fake-llm-server.js';
import { FAKE_MODEL_IDS, attemptOutcomes, collect, createRig, fakeConfig, metricsAgreeWithEvents, request } from '../support/fake-llm/harness.js';

const MAX_ATTEMPTS = 3;
const CHUNKS = ['a', 'b', 'c', 'd'];

/** What one attempt does under `step`, as the retry policy sees it. */
function model(step: FakeStep, streaming: boolean): { outcome: string; stop: boolean; tokens: number } {
  if (step.status === 400) return { outcome: 'client_error', stop: true, tokens: 0 };
  if (step.status === 429) return { outcome: 'rate_limited', stop: false, tokens: 0 };
  if (step.status !== undefined) return { outcome: 'server_error', stop: false, tokens: 0 };
  // Streamed faults after text has reached the caller are final; before it, retried.
  if (step.cutAfter !== undefined) return { outcome: 'stream_broken', stop: streaming && step.cutAfter > 0, tokens: 0 };
  if (step.malformedAt !== undefined) return { outcome: 'bad_response', stop: streaming && step.malformedAt > 0, tokens: 0 };
  if (step.errorEventAfter !== undefined && streaming) return { outcome: 'server_error', stop: step.errorEventAfter > 0, tokens: 0 };
  const tokens = step.noUsage === true ? 0 : (step.usage?.input ?? DEFAULT_FAKE_INPUT_TOKENS) + (step.usage?.output ?? CHUNKS.length);
  return { outcome: 'ok', stop: true, tokens };
}

const stepArb: fc.Arbitrary<FakeStep> = fc.oneof(
  fc.constant<FakeStep>({}),
  fc.record({ usage: fc.record({ input: fc.nat(5000), output: fc.nat(5000) }) }),
  fc.constant<FakeStep>({ noUsage: true }),
  fc.constantFrom<FakeStep>({ status: 429, retryAfter: '0' }, { status: 500 }, { status: 503 }, { status: 400 }),
  fc.integer({ min: 0, max: 2 }).map((n): FakeStep => ({ cutAfter: n })),
  fc.integer({ min: 0, max: 2 }).map((n): FakeStep => ({ malformedAt: n })),
  fc.integer({ min: 0, max: 2 }).map((n): FakeStep => ({ errorEventAfter: n })),
);

const requestArb = fc.record({
  provider: fc.constantFrom<FakeProvider>('openai', 'anthropic', 'dify'),
  streaming: fc.boolean(),
  steps: fc.array(stepArb, { maxLength: MAX_ATTEMPTS }),
});

let fake: FakeLlmServer;
beforeAll(async () => {
  fake = await startFakeLlmServer({ chunks: CHUNKS });
});
afterAll(async () => {
  await fake.close();
});

describe('llm metrics over random fault sequences', () => {
  it('attempts follow the retry policy and the metrics equal the sums over the events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 4 }), async (requests) => {
        const rig = createRig(fakeConfig(fake, { retry: { maxAttempts: MAX_ATTEMPTS } }));
        const before = fake.delivered();
        try {
          const expected: string[] = [];
          let tokens = 0;
          for (const r of requests) {
            // Script exactly the steps this request will use; missing ones are normal replies.
            const used: FakeStep[] = [];
            for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
              const step = r.steps[attempt - 1] ?? {};
              used.push(step);
              const m = model(step, r.streaming);
              expected.push(m.outcome);
              tokens += m.tokens;
              if (m.stop) break;
            }
            fake.script(used);
            const req = request(FAKE_MODEL_IDS[r.provider], 'property');
            try {
              if (r.streaming) await collect(rig.replies, req);
              else await rig.replies.complete(req);
            } catch (e) {
              expect(e).toMatchObject({ code: 'LLM_UNAVAILABLE' });
            }
            expect(fake.pending()).toBe(0);
          }
          const outcomes = attemptOutcomes(rig.recorder);
          expect(outcomes.map((o) => (o.kind === 'failed' ? o.reason : o.kind === 'responded' ? 'ok' : 'cancelled'))).toEqual(expected);
          const { events, metrics } = await metricsAgreeWithEvents(rig);
          expect(metrics).toEqual(events);
          expect(events.requests).toBe(expected.length);
          expect(events.errors).toBe(expected.filter((o) => o !== 'ok').length);
          expect(events.tokens).toBe(tokens);
          // And with what the provider side says it delivered.
          const after = fake.delivered();
          expect(after.responses - before.responses).toBe(events.latency);
          expect(after.inputTokens + after.outputTokens - before.inputTokens - before.outputTokens).toBe(events.tokens);
        } finally {
          fake.reset();
          await rig.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
