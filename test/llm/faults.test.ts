// The fault matrix: every scripted provider fault, for every provider, streamed and not, gives
// the right attempts and events, a clear typed error, no hang and no leaked timer; and the sums
// over the events equal the metrics read through a registry with the real subscriber attached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer, type FakeProvider, type FakeStep } from '../support/fake-llm-server.js';
import {
  FAKE_MODEL_IDS,
  attemptOutcomes,
  collect,
  createRig,
  fakeConfig,
  metricsAgreeWithEvents,
  request,
  settledTimers,
} from '../support/fake-llm/harness.js';
import type { RetryPolicy, Timeouts } from '../../src/llm/config.js';
import { isChatboxError } from '../../src/errors.js';

type Outcome = 'ok' | 'timeout' | 'network' | 'rate_limited' | 'server_error' | 'client_error' | 'bad_response' | 'stream_broken';

interface FaultCase {
  readonly name: string;
  readonly steps: readonly FakeStep[];
  readonly retry?: Partial<RetryPolicy>;
  readonly timeouts?: Partial<Timeouts>;
  readonly streamingOnly?: boolean;
  /** Outcome of each attempt, in order; the reply succeeds iff the last is 'ok'. */
  readonly outcomes: (streaming: boolean) => readonly Outcome[];
  /** HTTP status of each failed attempt, when it is fixed across providers. */
  readonly statuses?: readonly number[];
  /** Whether the final error says a retry may help. */
  readonly retryable?: boolean;
}

const both = (o: readonly Outcome[]) => () => o;

// A case that times out and then succeeds gives the successful attempt its whole timeout: 250-300
// ms, because the fake provider runs in this process and the test files share two cores (80 ms
// once failed in CI: all three attempts missed it while the load test ran beside it).
const FAULTS: readonly FaultCase[] = [
  { name: '429 with Retry-After, then success', steps: [{ status: 429, retryAfter: '0' }], outcomes: both(['rate_limited', 'ok']), statuses: [429] },
  { name: '503, then success', steps: [{ status: 503 }], outcomes: both(['server_error', 'ok']), statuses: [503] },
  { name: '500 on every attempt', steps: [{ status: 500 }, { status: 500 }, { status: 500 }], outcomes: both(['server_error', 'server_error', 'server_error']), statuses: [500, 500, 500], retryable: true },
  { name: '400 is not retried', steps: [{ status: 400 }], outcomes: both(['client_error']), statuses: [400], retryable: false },
  { name: '401 is not retried', steps: [{ status: 401 }], outcomes: both(['client_error']), statuses: [401], retryable: false },
  { name: 'slow headers: connect timeout, then success', steps: [{ headersDelayMs: 1000 }], timeouts: { connectMs: 250 }, outcomes: both(['timeout', 'ok']), statuses: [0] },
  { name: 'no answer at all on every attempt', steps: [{ hang: true }, { hang: true }], retry: { maxAttempts: 2 }, timeouts: { connectMs: 250 }, outcomes: both(['timeout', 'timeout']), retryable: true },
  { name: 'slow first token: first-token timeout, then success', steps: [{ firstChunkDelayMs: 1000 }], timeouts: { firstTokenMs: 300 }, streamingOnly: true, outcomes: both(['timeout', 'ok']) },
  { name: 'slow whole reply: total timeout before any text, then success', steps: [{ firstChunkDelayMs: 1000 }], timeouts: { totalMs: 300 }, outcomes: both(['timeout', 'ok']) },
  {
    name: 'total timeout while text streams',
    steps: [{ chunkDelayMs: 120 }],
    timeouts: { totalMs: 300 },
    // Streamed, text already reached the caller: no retry. Not streamed: nothing was shown yet.
    outcomes: (s) => (s ? ['timeout'] : ['timeout', 'ok']),
    retryable: true,
  },
  { name: 'connection cut before the first chunk', steps: [{ cutAfter: 0 }], outcomes: both(['stream_broken', 'ok']) },
  { name: 'connection cut half-way', steps: [{ cutAfter: 3 }], outcomes: (s) => (s ? ['stream_broken'] : ['stream_broken', 'ok']), retryable: true },
  { name: 'malformed JSON before any text', steps: [{ malformedAt: 0 }], outcomes: both(['bad_response', 'ok']) },
  { name: 'malformed JSON half-way', steps: [{ malformedAt: 3 }], outcomes: (s) => (s ? ['bad_response'] : ['bad_response', 'ok']), retryable: true },
  { name: 'error event in the stream before any text', steps: [{ errorEventAfter: 0 }], streamingOnly: true, outcomes: both(['server_error', 'ok']) },
  { name: 'error event in the stream half-way', steps: [{ errorEventAfter: 2 }], streamingOnly: true, outcomes: both(['server_error']), retryable: true },
  { name: 'a long Retry-After is capped', steps: [{ status: 429, retryAfter: '3600' }], retry: { maxRetryAfterMs: 20 }, outcomes: both(['rate_limited', 'ok']), statuses: [429] },
  { name: 'Retry-After as an HTTP date', steps: [{ status: 503, retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT' }], outcomes: both(['server_error', 'ok']), statuses: [503] },
];

const PROVIDERS: readonly FakeProvider[] = ['openai', 'anthropic', 'dify'];

let fake: FakeLlmServer;
let baselineTimers = 0;
let baselineResources: string[] = [];

beforeAll(async () => {
  baselineResources = process.getActiveResourcesInfo();
  baselineTimers = baselineResources.filter((x) => x === 'Timeout').length;
  fake = await startFakeLlmServer();
});

afterAll(async () => {
  await fake.close();
  // Sockets (client keep-alive and server side) and timers all go once the server is closed.
  const deadline = Date.now() + 2_000;
  let left = process.getActiveResourcesInfo();
  const count = (list: string[], kind: string) => list.filter((x) => x === kind).length;
  const extra = (list: string[]) =>
    ['Timeout', 'TCPSocketWrap', 'TCPServerWrap'].some((kind) => count(list, kind) > count(baselineResources, kind));
  while (extra(left) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = process.getActiveResourcesInfo();
  }
  expect(count(left, 'Timeout')).toBeLessThanOrEqual(count(baselineResources, 'Timeout'));
  expect(count(left, 'TCPSocketWrap')).toBeLessThanOrEqual(count(baselineResources, 'TCPSocketWrap'));
  expect(count(left, 'TCPServerWrap')).toBeLessThanOrEqual(count(baselineResources, 'TCPServerWrap'));
});

describe.each(PROVIDERS.flatMap((provider) => [true, false].map((streaming) => ({ provider, streaming }))))(
  'faults: $provider, streaming=$streaming',
  ({ provider, streaming }) => {
    const cases = FAULTS.filter((f) => streaming || f.streamingOnly !== true);
    it.each(cases)('$name', async (fault) => {
      const rig = createRig(fakeConfig(fake, { ...(fault.retry ? { retry: fault.retry } : {}), ...(fault.timeouts ? { timeouts: fault.timeouts } : {}) }));
      const model = FAKE_MODEL_IDS[provider];
      const expected = fault.outcomes(streaming);
      const succeeds = expected[expected.length - 1] === 'ok';
      fake.script(fault.steps);
      try {
        const req = request(model, 'fault please');
        let text = '';
        let error: unknown;
        try {
          if (streaming) text = (await collect(rig.replies, req)).chunks.join('');
          else text = (await rig.replies.complete(req)).text;
        } catch (e) {
          error = e;
        }

        // The caller sees the whole reply, or one clear typed error.
        if (succeeds) {
          expect(error).toBeUndefined();
          expect(text).toBe('Hello from the fake provider.');
        } else {
          expect(isChatboxError(error)).toBe(true);
          if (!isChatboxError(error)) return;
          expect(error.code).toBe('LLM_UNAVAILABLE');
          expect(error.message).toContain('Fake ');
          if (fault.retryable !== undefined) expect(error.retryable).toBe(fault.retryable);
        }

        // One outcome event per attempt, in order, with the right reasons and retry decisions.
        const outcomes = attemptOutcomes(rig.recorder);
        expect(outcomes.map((o) => (o.kind === 'failed' ? o.reason : o.kind === 'responded' ? 'ok' : 'cancelled'))).toEqual(expected);
        expect(outcomes.map((o) => o.attempt)).toEqual(expected.map((_, i) => i + 1));
        const failed = outcomes.filter((o) => o.kind === 'failed');
        failed.forEach((o, i) => {
          const last = i === failed.length - 1;
          expect(o.willRetry).toBe(!(last && !succeeds));
        });
        if (fault.statuses !== undefined) expect(failed.map((o) => o.status)).toEqual(fault.statuses);
        for (const e of rig.recorder.of('llmRequested')) expect(e).toMatchObject({ provider, model, streaming });

        // Sums over events equal the metrics.
        const { events, metrics } = await metricsAgreeWithEvents(rig);
        expect(metrics).toEqual(events);
        expect(events.requests).toBe(expected.length);
        expect(events.errors).toBe(expected.filter((o) => o !== 'ok').length);
        expect(events.latency).toBe(succeeds ? 1 : 0);

        // Every step scripted was used: no attempt more, none less.
        expect(fake.pending()).toBe(0);
      } finally {
        await rig.close();
        fake.reset();
      }
      expect(await settledTimers(baselineTimers)).toBeLessThanOrEqual(baselineTimers);
    });
  },
);

describe('Retry-After is honoured', () => {
  it.each([
    { provider: 'openai' as const, streaming: true },
    { provider: 'dify' as const, streaming: false },
  ])('waits what the server asked ($provider, streaming=$streaming)', async ({ provider, streaming }) => {
    const rig = createRig(fakeConfig(fake, { retry: { maxRetryAfterMs: 5_000, baseDelayMs: 1, maxDelayMs: 1 } }));
    try {
      fake.script([{ status: 429, retryAfter: '1' }]);
      const started = performance.now();
      const req = request(FAKE_MODEL_IDS[provider], 'wait');
      if (streaming) await collect(rig.replies, req);
      else await rig.replies.complete(req);
      // Behaviour, not speed: the second attempt did not start before the requested second.
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
      expect(rig.recorder.of('llmRequested').map((e) => e.attempt)).toEqual([1, 2]);
    } finally {
      await rig.close();
    }
  });
});

describe('unroutable requests', () => {
  it('refuses an unknown model with LLM_UNAVAILABLE and no attempt', async () => {
    const rig = createRig(fakeConfig(fake));
    try {
      await expect(collect(rig.replies, request('no-such-model', 'hi'))).rejects.toMatchObject({ code: 'LLM_UNAVAILABLE', retryable: false });
      await expect(rig.replies.complete(request('no-such-model', 'hi'))).rejects.toMatchObject({ code: 'LLM_UNAVAILABLE' });
      expect(rig.recorder.events).toEqual([]);
    } finally {
      await rig.close();
    }
  });

  it('reports a refused connection as a network failure', async () => {
    const closed = await startFakeLlmServer();
    const baseUrls = closed.baseUrls;
    await closed.close();
    const rig = createRig(fakeConfig({ baseUrls }, { retry: { maxAttempts: 2 } }));
    try {
      for (const provider of PROVIDERS) {
        await expect(collect(rig.replies, request(FAKE_MODEL_IDS[provider], 'hi'))).rejects.toMatchObject({ code: 'LLM_UNAVAILABLE', retryable: true });
      }
      const outcomes = attemptOutcomes(rig.recorder);
      expect(outcomes.map((o) => (o.kind === 'failed' ? `${o.reason}:${o.willRetry}` : o.kind))).toEqual(
        PROVIDERS.flatMap(() => ['network:true', 'network:false']),
      );
    } finally {
      await rig.close();
    }
  });
});
