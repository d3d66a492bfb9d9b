// The providers' HTTP client (undici Pool per origin): OpenAI-compatible servers reached by base
// URL, one kept-alive connection reused across replies, a cancelled reply that closes its
// connection, and close() that leaves no socket behind. Against the fake provider server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer } from '../support/fake-llm-server.js';
import { FAKE_MODEL_IDS, collect, createRig, fakeConfig, request } from '../support/fake-llm/harness.js';
import type { LlmConfig, ModelSpec } from '../../src/llm/config.js';
import { endpoint } from '../../src/llm/providers/http.js';
import { isChatboxError } from '../../src/errors.js';

let fake: FakeLlmServer;
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});

const openAiModel = (id: string, baseUrl: string): ModelSpec => ({
  id,
  name: id,
  provider: 'openai',
  model: 'served-model',
  baseUrl,
  apiKey: 'key-123',
  maxTokens: undefined,
});

const withModels = (models: ModelSpec[]): LlmConfig => ({ ...fakeConfig(fake), models });

describe('OpenAI-compatible servers by base URL', () => {
  const layouts = [
    // vLLM (`--port 8000`, base http://host:8000/v1) and Ollama (http://host:11434/v1) serve here.
    { name: 'vLLM / Ollama (/v1)', base: () => `${fake.url}/v1`, path: '/v1/chat/completions', query: '', azure: false },
    { name: 'a proxy prefix with a trailing slash', base: () => `${fake.url}/litellm/v1/`, path: '/litellm/v1/chat/completions', query: '', azure: false },
    {
      name: 'an Azure-style deployment with api-version',
      base: () => `${fake.url}/openai/deployments/gpt-4o-dep?api-version=2024-10-21`,
      path: '/openai/deployments/gpt-4o-dep/chat/completions',
      query: 'api-version=2024-10-21',
      azure: true,
    },
  ];

  it.each(layouts)('$name: streamed and not', async ({ base, path, query, azure }) => {
    const rig = createRig(withModels([openAiModel('compat', base())]));
    try {
      const before = fake.requests().length;
      const streamed = await collect(rig.replies, request('compat', 'hi'));
      const whole = await rig.replies.complete(request('compat', 'hi again'));
      expect(streamed.chunks.join('')).toBe('Hello from the fake provider.');
      expect(whole.text).toBe('Hello from the fake provider.');
      const sent = fake.requests().slice(before);
      expect(sent.map((r) => [r.path, r.query, r.streaming])).toEqual([
        [path, query, true],
        [path, query, false],
      ]);
      for (const r of sent) {
        expect(r.body['model']).toBe('served-model');
        expect(r.headers['authorization']).toBe('Bearer key-123');
        expect(r.headers['api-key']).toBe(azure ? 'key-123' : undefined);
      }
    } finally {
      await rig.close();
    }
  });

  it('sends no authorization to a local server configured without a key', async () => {
    const rig = createRig(withModels([{ ...openAiModel('local', `${fake.url}/v1`), apiKey: undefined }]));
    try {
      const before = fake.requests().length;
      await collect(rig.replies, request('local', 'hi'));
      expect(fake.requests()[before]!.headers['authorization']).toBeUndefined();
    } finally {
      await rig.close();
    }
  });

  it('refuses a base URL that is not http(s) at start', () => {
    expect(() => endpoint('ftp://example.test/v1', '/chat/completions')).toThrow(/not http/);
    expect(() => endpoint('not a url', '/chat/completions')).toThrow();
    expect(() => createRig(withModels([openAiModel('bad', 'nonsense')]))).toThrow();
  });
});

describe('the keep-alive pool', () => {
  // undici hands a request to a connection that is free at once; the one that just finished its
  // reply is marked free a tick later, so replies one after another alternate over two.
  it('reuses kept-alive connections for replies one after another, for every provider', async () => {
    const rig = createRig(fakeConfig(fake));
    try {
      const before = fake.requests().length;
      for (const provider of ['openai', 'anthropic', 'dify'] as const) {
        for (let i = 0; i < 4; i++) await collect(rig.replies, request(FAKE_MODEL_IDS[provider], `again ${i}`));
        await rig.replies.complete(request(FAKE_MODEL_IDS[provider], 'whole'));
      }
      const sent = fake.requests().slice(before);
      expect(sent).toHaveLength(15);
      expect(new Set(sent.map((r) => r.remotePort)).size).toBeLessThanOrEqual(2);
    } finally {
      await rig.close();
    }
  });

  it('shares one pool between models on one origin', async () => {
    const rig = createRig(withModels([openAiModel('a', `${fake.url}/v1`), openAiModel('b', `${fake.url}/openai/v1`)]));
    try {
      const before = fake.requests().length;
      for (let i = 0; i < 3; i++) await collect(rig.replies, request('a', `one ${i}`));
      for (let i = 0; i < 3; i++) await collect(rig.replies, request('b', `two ${i}`));
      const sent = fake.requests().slice(before);
      const ports = (prefix: string) => new Set(sent.filter((r) => r.path.startsWith(prefix)).map((r) => r.remotePort));
      expect(new Set(sent.map((r) => r.remotePort)).size).toBeLessThanOrEqual(2);
      expect([...ports('/v1/')].some((p) => ports('/openai/').has(p))).toBe(true);
    } finally {
      await rig.close();
    }
  });

  it.each(['openai', 'anthropic', 'dify'] as const)('a cancelled reply closes its connection; the next reply gets a fresh one (%s)', async (provider) => {
    const rig = createRig(fakeConfig(fake));
    try {
      const controller = new AbortController();
      fake.script([{ chunkDelayMs: 100 }]);
      const before = fake.requests().length;
      let error: unknown;
      try {
        for await (const c of rig.replies.stream(request(FAKE_MODEL_IDS[provider], 'cancel me', { signal: controller.signal }))) {
          if (c.type === 'text') controller.abort('client_left');
        }
      } catch (e) {
        error = e;
      }
      expect(isChatboxError(error) && error.code).toBe('CANCELLED');
      // The server sees its side of the aborted request close (bounded wait, not a timing check).
      for (let i = 0; i < 100 && !fake.requests()[before]!.closedEarly; i++) await new Promise((r) => setTimeout(r, 10));
      expect(fake.requests()[before]!.closedEarly).toBe(true);
      const next = await collect(rig.replies, request(FAKE_MODEL_IDS[provider], 'after'));
      expect(next.chunks.join('')).toBe('Hello from the fake provider.');
      const [cancelled, after] = fake.requests().slice(before);
      expect(after!.remotePort).not.toBe(cancelled!.remotePort);
    } finally {
      await rig.close();
    }
  });

  it('close() releases every socket', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((x) => x === 'TCPSocketWrap').length;
    const baseline = sockets();
    const rig = createRig(fakeConfig(fake));
    await Promise.all((['openai', 'anthropic', 'dify'] as const).map((p) => collect(rig.replies, request(FAKE_MODEL_IDS[p], 'open'))));
    expect(sockets()).toBeGreaterThan(baseline);
    await rig.close();
    for (let i = 0; i < 100 && sockets() > baseline; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sockets()).toBeLessThanOrEqual(baseline);
  });
});
