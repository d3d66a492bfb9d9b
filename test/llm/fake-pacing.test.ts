// The fake provider's pacing, which the inter-token and first-token series are tested against:
// uneven gaps per chunk (chunkGapsMs), in all three wire formats, recorded per request. Lower
// bounds only (a timer never fires early by more than its millisecond rounding).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server.js';
import { FAKE_MODEL_IDS, collect, createRig, fakeConfig, request } from '../support/fake-llm/harness.js';

let fake: FakeLlmServer;
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});

describe.each(['openai', 'anthropic', 'dify'] as const)('fake pacing: %s', (provider) => {
  it('writes each chunk after its own gap, and the adapter streams every chunk in order', async () => {
    const rig = createRig(fakeConfig(fake));
    try {
      const chunks = ['a', 'b', 'c', 'd'];
      const gaps = [60, 0, 30];
      fake.script([{ chunks, firstChunkDelayMs: 20, chunkGapsMs: gaps }]);
      const before = fake.requests().length;
      const got = await collect(rig.replies, request(FAKE_MODEL_IDS[provider], 'paced'));
      expect(got.chunks).toEqual(chunks);
      const sent = fake.requests()[before]!;
      expect(sent.chunkAt).toHaveLength(4);
      expect(sent.firstChunkAt).toBe(sent.chunkAt[0]);
      expect(sent.chunkAt[0]! - sent.receivedAt).toBeGreaterThanOrEqual(19);
      gaps.forEach((g, i) => expect(sent.chunkAt[i + 1]! - sent.chunkAt[i]!).toBeGreaterThanOrEqual(g - 1));
    } finally {
      await rig.close();
    }
  });
});

describe('fake provider: what a request keeps, and pacing that stops', () => {
  const post = (server: FakeLlmServer, signal?: AbortSignal): Promise<Response> =>
    fetch(`${server.baseUrls.openai}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-probe': 'yes' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }] }),
      ...(signal === undefined ? {} : { signal }),
    });

  it('keeps only the projection of the body, and no headers, when told so', async () => {
    const slim = await startFakeLlmServer({ record: { body: (b) => ({ model: b['model'] }), headers: false } });
    try {
      slim.script([{ chunks: ['x', 'y'], chunkGapsMs: [10] }]);
      const text = await (await post(slim)).text();
      expect(text).toContain('"x"');
      expect(text).toContain('[DONE]');
      const [r] = slim.requests();
      expect(r!.body).toEqual({ model: 'm' });
      expect(r!.headers).toEqual({});
      expect(r!.chunkAt).toHaveLength(2);
      // The default keeps everything, headers included.
      await (await post(fake)).text();
      const whole = fake.requests()[fake.requests().length - 1]!;
      expect(whole.body['messages']).toHaveLength(2);
      expect(whole.headers['x-probe']).toBe('yes');
    } finally {
      await slim.close();
    }
  });

  it('stops pacing a response whose client went away, and close() ends a stalled one', { timeout: 5_000 }, async () => {
    const own = await startFakeLlmServer();
    try {
      own.script([{ chunks: ['a', 'b', 'c'], chunkGapsMs: [300, 300] }, { hang: true }]);
      const abort = new AbortController();
      const res = await post(own, abort.signal);
      const reader = res.body!.getReader();
      await reader.read(); // the first chunk
      abort.abort();
      await expect.poll(() => own.requests()[0]?.closedEarly, { timeout: 2_000 }).toBe(true);
      // Past both gaps: a pacer still running would have written (and recorded) the other two.
      await new Promise((r) => setTimeout(r, 900));
      expect(own.requests()[0]!.chunkAt).toHaveLength(1);
      // A hung request: close() stops its 2^31 ms wait instead of waiting it out (the test's
      // timeout is the judge).
      const hung = post(own).catch(() => undefined);
      await expect.poll(() => own.requests().length, { timeout: 2_000 }).toBe(2);
      await own.close();
      await hung;
    } finally {
      await own.close();
    }
  });
});
