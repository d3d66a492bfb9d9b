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
