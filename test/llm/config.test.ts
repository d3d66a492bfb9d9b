// LLM configuration: the demo default, the shorthand variables, the models file, and clear
// CHATBOX_ERR_CONFIG messages for every way it can be wrong.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configuredProviders, loadModelConfig, unpricedModels } from '../../src/llm/config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chatbox-llm-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modelsFile(content: unknown): Promise<string> {
  const file = join(dir, `models-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function configError(env: Record<string, string>): Promise<string> {
  try {
    await loadModelConfig(env);
  } catch (e) {
    expect(e).toMatchObject({ code: 'CHATBOX_ERR_CONFIG' });
    return (e as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('loadModelConfig', () => {
  it('offers only the built-in demo model when nothing is configured', async () => {
    const c = await loadModelConfig({ OPENAI_API_KEY: '' });
    expect(c.demoOnly).toBe(true);
    expect(c.models.map((m) => [m.id, m.provider])).toEqual([['demo', 'demo']]);
    expect(c.models[0]!.name).toMatch(/built-in demo/i);
    expect(c.models[0]!.name).toMatch(/not an LLM/);
    expect(c.retry.maxAttempts).toBe(3);
    expect(c.timeouts).toEqual({ connectMs: 10_000, firstTokenMs: 30_000, totalMs: 120_000 });
  });

  it('adds one model per shorthand key, in a fixed order, the first being the default', async () => {
    const c = await loadModelConfig({
      DIFY_API_KEY: 'dk',
      ANTHROPIC_API_KEY: 'ak',
      ANTHROPIC_MODEL: 'claude-x',
      OPENAI_API_KEY: 'sk',
      OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      LLM_MAX_ATTEMPTS: '5',
      LLM_FIRST_TOKEN_TIMEOUT_MS: '1500',
    });
    expect(c.demoOnly).toBe(false);
    expect(c.models.map((m) => ({ id: m.id, provider: m.provider, model: m.model, baseUrl: m.baseUrl, apiKey: m.apiKey }))).toEqual([
      { id: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini', baseUrl: 'http://127.0.0.1:11434/v1', apiKey: 'sk' },
      { id: 'claude-x', provider: 'anthropic', model: 'claude-x', baseUrl: undefined, apiKey: 'ak' },
      { id: 'dify', provider: 'dify', model: 'dify-app', baseUrl: 'https://api.dify.ai/v1', apiKey: 'dk' },
    ]);
    expect(c.retry.maxAttempts).toBe(5);
    expect(c.timeouts.firstTokenMs).toBe(1500);
    expect(configuredProviders(c)).toEqual(['openai', 'anthropic', 'dify']);
  });

  it('reads a models file, resolving each key from its variable', async () => {
    const file = await modelsFile([
      { id: 'local', name: 'Local Llama', provider: 'openai', model: 'llama3', baseUrl: 'http://127.0.0.1:11434/v1' },
      { id: 'claude', provider: 'anthropic', model: 'claude-y', apiKeyEnv: 'MY_CLAUDE_KEY', maxTokens: 2048 },
      { id: 'helpdesk', name: 'Helpdesk', provider: 'dify', apiKeyEnv: 'HELPDESK_KEY', baseUrl: 'http://127.0.0.1:5001/v1' },
      { id: 'try-me', provider: 'demo' },
    ]);
    const c = await loadModelConfig({ LLM_MODELS_FILE: file, MY_CLAUDE_KEY: 'ck', HELPDESK_KEY: 'hk', OPENAI_API_KEY: 'ignored-shorthand' });
    expect(c.models.map((m) => [m.id, m.name, m.provider, m.model, m.apiKey, m.maxTokens])).toEqual([
      ['local', 'Local Llama', 'openai', 'llama3', 'ignored-shorthand', undefined],
      ['claude', 'claude', 'anthropic', 'claude-y', 'ck', 2048],
      ['helpdesk', 'Helpdesk', 'dify', 'dify-app', 'hk', undefined],
      ['try-me', expect.stringMatching(/demo/), 'demo', 'demo', undefined, undefined],
    ]);
    expect(c.demoOnly).toBe(false);
  });

  it('reads system prompt, temperature, prices and history budget per model; lists models without prices', async () => {
    const file = await modelsFile([
      { id: 'a', provider: 'openai', model: 'gpt-4o', systemPrompt: 'Be kind.', temperature: 0.2, maxTokens: 512, prices: { input: 2.5, output: 10, cachedInput: 1.25 }, historyTokens: 4000 },
      { id: 'b', provider: 'openai', model: 'gpt-4o-mini' },
      { id: 'd', provider: 'demo' },
    ]);
    const c = await loadModelConfig({ LLM_MODELS_FILE: file, LLM_HISTORY_TOKENS: '9000' });
    expect(c.models[0]).toMatchObject({ systemPrompt: 'Be kind.', temperature: 0.2, maxTokens: 512, prices: { input: 2.5, output: 10, cachedInput: 1.25 }, historyTokens: 4000 });
    expect(c.models[1]).toMatchObject({ historyTokens: 9000 });
    expect(c.models[1]).not.toHaveProperty('prices');
    expect(c.models[1]).not.toHaveProperty('temperature');
    expect(unpricedModels(c)).toEqual(['b']);
    const shorthand = await loadModelConfig({ OPENAI_API_KEY: 'sk', LLM_SYSTEM_PROMPT: 'Hi.' });
    expect(shorthand.models[0]).toMatchObject({ systemPrompt: 'Hi.', historyTokens: 16_000 });
  });

  it.each([
    [{ LLM_MAX_ATTEMPTS: '0' }, /LLM_MAX_ATTEMPTS: must be at least 1/],
    [{ LLM_TOTAL_TIMEOUT_MS: 'soon' }, /LLM_TOTAL_TIMEOUT_MS: must be a number/],
    [{ OPENAI_API_KEY: 'sk', OPENAI_BASE_URL: 'localhost:1234' }, /OPENAI_BASE_URL: must be an http\(s\) URL/],
    [{ LLM_MODELS_FILE: '/nonexistent/models.json' }, /LLM_MODELS_FILE: cannot read \/nonexistent\/models.json \(ENOENT\)/],
    [{ LLM_RETRY_BASE_MS: '1000', LLM_RETRY_MAX_MS: '10' }, /LLM_RETRY_MAX_MS must be at least LLM_RETRY_BASE_MS/],
  ])('refuses %o', async (env, message) => {
    expect(await configError(env as Record<string, string>)).toMatch(message);
  });

  it.each([
    ['not JSON', '{ nope', /is not valid JSON/],
    ['an empty list', [], /must list at least one model/],
    ['an unknown provider', [{ id: 'x', provider: 'mistral', model: 'm' }], /model 0 \(x\): provider: must be one of openai, anthropic, dify, demo/],
    ['an unknown field', [{ id: 'x', provider: 'openai', model: 'm', apiKey: 'inline-secret' }], /apiKey/],
    ['a duplicate id', [{ id: 'x', provider: 'openai', model: 'm' }, { id: 'x', provider: 'openai', model: 'n' }], /duplicate id/],
    ['a missing model name', [{ id: 'x', provider: 'openai' }], /model \(the provider's model name\) is required/],
    ['an unset key variable', [{ id: 'x', provider: 'anthropic', model: 'm', apiKeyEnv: 'NOT_SET_ANYWHERE' }], /apiKeyEnv names NOT_SET_ANYWHERE, which is not set/],
    ['a hosted provider without a key', [{ id: 'x', provider: 'dify' }], /no API key; set DIFY_API_KEY or give apiKeyEnv/],
    ['a temperature out of range', [{ id: 'ok', provider: 'demo' }, { id: 'hot', provider: 'openai', model: 'm', temperature: 3 }], /model 1 \(hot\): temperature: must be at most 2/],
    ['a negative price', [{ id: 'p', provider: 'openai', model: 'm', prices: { input: -1, output: 1 } }], /model 0 \(p\): prices\.input: must not be negative/],
    ['a price without its output', [{ id: 'p', provider: 'openai', model: 'm', prices: { input: 1 } }], /model 0 \(p\): prices\.output:/],
    ['an empty system prompt', [{ id: 's', provider: 'openai', model: 'm', systemPrompt: '' }], /model 0 \(s\): systemPrompt: must not be empty/],
    ['a tiny history budget', [{ id: 'h', provider: 'openai', model: 'm', historyTokens: 3 }], /model 0 \(h\): historyTokens: must be at least 256/],
  ])('refuses a models file with %s', async (_what, content, message) => {
    const file = await modelsFile(content);
    expect(await configError({ LLM_MODELS_FILE: file })).toMatch(message);
  });
});
