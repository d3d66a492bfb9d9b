// Cancellation: a reply stops at once when its signal aborts (user left, admin took over,
// shutdown) — mid-stream, before headers, during a backoff sleep — ends with CANCELLED, and is
// never counted as a provider error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer, type FakeProvider } from '../support/fake-llm-server.js';
import { FAKE_MODEL_IDS, attemptOutcomes, createRig, fakeConfig, metricSum, request, settledTimers } from '../support/fake-llm/harness.js';
import { isChatboxError } from '../../src/errors.js';

let fake: FakeLlmServer;
let baselineTimers = 0;
beforeAll(async () => {
  baselineTimers = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});

const PROVIDERS: readonly FakeProvider[] = ['openai', 'anthropic', 'dify'];

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return e;
  }
}

describe.each(PROVIDERS)('cancellation: %s', (provider) => {
  const model = FAKE_MODEL_IDS[provider];

  it('stops mid-stream with CANCELLED and an llmCancelled carrying the cause', async () => {
    const rig = createRig(fakeConfig(fake));
    const controller = new AbortController();
    fake.script([{ chunkDelayMs: 200 }]);
    const seen: string[] = [];
    const error = await caught(
      (async () => {
        for await (const c of rig.replies.stream(request(model, 'long one', { signal: controller.signal }))) {
          if (c.type === 'text') seen.push(c.text);
          if (seen.length === 2) controller.abort('takeover');
        }
      })(),
    );
    expect(isChatboxError(error) && error.code).toBe('CANCELLED');
    expect(seen).toEqual(['Hello', ' from']);
    expect(attemptOutcomes(rig.recorder)).toEqual([{ attempt: 1, kind: 'cancelled', cause: 'takeover' }]);
    expect(await metricSum(rig.registry, 'chatbox_llm_errors_total')).toBe(0);
    expect(await metricSum(rig.registry, 'chatbox_llm_latency_seconds')).toBe(0);
    await rig.close();
    expect(await settledTimers(baselineTimers)).toBeLessThanOrEqual(baselineTimers);
  });

  it.each([true, false])('stops before the headers arrive (streaming=%s)', async (streaming) => {
    const rig = createRig(fakeConfig(fake));
    const controller = new AbortController();
    fake.script([{ hang: true }]);
    const req = request(model, 'hang', { signal: controller.signal });
    const pending = streaming
      ? caught((async () => { for await (const _ of rig.replies.stream(req)) void _; })())
      : caught(rig.replies.complete(req));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort('client_left');
    const error = await pending;
    expect(isChatboxError(error) && error.code).toBe('CANCELLED');
    expect(attemptOutcomes(rig.recorder)).toEqual([{ attempt: 1, kind: 'cancelled', cause: 'client_left' }]);
    expect(await metricSum(rig.registry, 'chatbox_llm_errors_total')).toBe(0);
    await rig.close();
    expect(await settledTimers(baselineTimers)).toBeLessThanOrEqual(baselineTimers);
  });

  it.each([true, false])('stops during the backoff sleep (streaming=%s)', async (streaming) => {
    // Pinned jitter 0.5 over a 20 s ceiling: a 10 s sleep the abort must cut short.
    const rig = createRig(fakeConfig(fake, { retry: { baseDelayMs: 20_000, maxDelayMs: 20_000 } }));
    const controller = new AbortController();
    fake.script([{ status: 500 }]);
    const failed = new Promise<void>((resolve) => rig.bus.on('llmFailed', () => resolve(), 'test'));
    const before = fake.requests().length;
    const req = request(model, 'backoff', { signal: controller.signal });
    const pending = streaming
      ? caught((async () => { for await (const _ of rig.replies.stream(req)) void _; })())
      : caught(rig.replies.complete(req));
    await failed;
    controller.abort('shutdown');
    const error = await pending;
    expect(isChatboxError(error) && error.code).toBe('CANCELLED');
    // The failed attempt said it would retry; no further attempt was made.
    const outcomes = attemptOutcomes(rig.recorder);
    expect(outcomes).toEqual([{ attempt: 1, kind: 'failed', reason: 'server_error', willRetry: true, status: 500 }]);
    expect(fake.requests().length - before).toBe(1);
    await rig.close();
    expect(await settledTimers(baselineTimers)).toBeLessThanOrEqual(baselineTimers);
  });
});

describe('cancellation without a provider call', () => {
  it('refuses an already aborted request with CANCELLED and no attempt', async () => {
    const rig = createRig(fakeConfig(fake));
    const controller = new AbortController();
    controller.abort('client_left');
    const req = request(FAKE_MODEL_IDS.openai, 'too late', { signal: controller.signal });
    expect(await caught(rig.replies.complete(req))).toMatchObject({ code: 'CANCELLED' });
    expect(await caught((async () => { for await (const _ of rig.replies.stream(req)) void _; })())).toMatchObject({ code: 'CANCELLED' });
    expect(rig.recorder.events).toEqual([]);
    await rig.close();
  });

  it('treats a consumer that stops reading as a cancelled attempt, not an error', async () => {
    const rig = createRig(fakeConfig(fake));
    fake.script([{ chunkDelayMs: 50 }]);
    for await (const c of rig.replies.stream(request(FAKE_MODEL_IDS.anthropic, 'stop early'))) {
      if (c.type === 'text') break;
    }
    expect(attemptOutcomes(rig.recorder)).toEqual([{ attempt: 1, kind: 'cancelled', cause: 'aborted' }]);
    expect(await metricSum(rig.registry, 'chatbox_llm_errors_total')).toBe(0);
    await rig.close();
    expect(await settledTimers(baselineTimers)).toBeLessThanOrEqual(baselineTimers);
  });
});
