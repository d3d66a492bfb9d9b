// LLM configuration from the environment, validated once at start: a bad value stops the start
// with a message naming the variable or the models-file entry, never a surprise on the first
// request. Two ways in: a models file (LLM_MODELS_FILE, full control) or the shorthand variables
// (OPENAI_API_KEY, ANTHROPIC_API_KEY, DIFY_API_KEY). With neither, the built-in demo model answers.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ChatboxError } from '../errors.js';
import { PROVIDERS, type Provider } from '../events/catalog.js';
import type { ModelInfo } from './types.js';

/** One configured model, as the reply source needs it. The API key is resolved here, once. */
export interface ModelSpec extends ModelInfo {
  /** The provider's own model name (`gpt-4o-mini`, `claude-...`); ignored by Dify and demo. */
  readonly model: string;
  /** Base URL of the provider API; undefined means the SDK's default. */
  readonly baseUrl: string | undefined;
  readonly apiKey: string | undefined;
  /** Upper bound on the reply length (Anthropic requires one; sent to OpenAI as max_completion_tokens only when set explicitly). */
  readonly maxTokens: number | undefined;
  /** Sent first, as a system turn, with every request to this model. */
  readonly systemPrompt?: string;
  /** Sampling temperature sent in the request body; absent: the provider's default. */
  readonly temperature?: number;
  /**
   * Token budget of what is sent (system prompt and history): the oldest turns are left out
   * until it fits. Absent: only the router's turn limit applies.
   */
  readonly historyTokens?: number;
}

export type { ModelPrices } from './types.js';

export interface RetryPolicy {
  /** Attempts per reply, the first included (LLM_MAX_ATTEMPTS). */
  readonly maxAttempts: number;
  /** Backoff before attempt n+1 is uniform in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Longest Retry-After we honour; a longer one is cut to this. */
  readonly maxRetryAfterMs: number;
}

export interface Timeouts {
  /** From the start of an attempt to the response headers. */
  readonly connectMs: number;
  /** From the start of a streamed attempt to its first text. */
  readonly firstTokenMs: number;
  /** From the start of an attempt to its last byte. */
  readonly totalMs: number;
}

export interface LlmConfig {
  /** Never empty; the first is the default model. */
  readonly models: readonly ModelSpec[];
  readonly retry: RetryPolicy;
  readonly timeouts: Timeouts;
  /** True when no provider is configured and only the built-in demo model answers. */
  readonly demoOnly: boolean;
}

export const DEMO_MODEL: ModelSpec = {
  id: 'demo',
  name: 'Built-in demo (echoes your message; not an LLM)',
  provider: 'demo',
  model: 'demo',
  baseUrl: undefined,
  apiKey: undefined,
  maxTokens: undefined,
};

export const DEFAULT_OPENAI_MODEL = 'gpt-4o-mini';
export const DEFAULT_ANTHROPIC_MODEL = 'claude-3-5-haiku-latest';
export const DEFAULT_DIFY_BASE_URL = 'https://api.dify.ai/v1';

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

/** Default history budget: well inside every supported model's context window. */
export const DEFAULT_HISTORY_TOKENS = 16_000;

const price = z.number({ error: 'must be a number (USD per million tokens)' }).min(0, { error: 'must not be negative' }).max(100_000, { error: 'must be at most 100000' });

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const envSchema = z.object({
  LLM_MODELS_FILE: z.string().optional(),
  LLM_MAX_ATTEMPTS: int(1, 10).default(3),
  LLM_RETRY_BASE_MS: int(0, 60_000).default(500),
  LLM_RETRY_MAX_MS: int(0, 300_000).default(8_000),
  LLM_RETRY_AFTER_MAX_MS: int(0, 600_000).default(30_000),
  LLM_CONNECT_TIMEOUT_MS: int(1, 600_000).default(10_000),
  LLM_FIRST_TOKEN_TIMEOUT_MS: int(1, 600_000).default(30_000),
  LLM_TOTAL_TIMEOUT_MS: int(1, 3_600_000).default(120_000),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: url.optional(),
  OPENAI_MODEL: z.string().min(1).optional(),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: url.optional(),
  ANTHROPIC_MODEL: z.string().min(1).optional(),
  DIFY_API_KEY: z.string().optional(),
  DIFY_BASE_URL: url.optional(),
  LLM_HISTORY_TOKENS: int(256, 10_000_000).default(DEFAULT_HISTORY_TOKENS),
  LLM_SYSTEM_PROMPT: z.string().max(100_000).optional(),
});

const fileEntry = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9._:/-]{1,128}$/, { error: 'must be 1-128 characters of letters, digits and . _ : / -' }),
    name: z.string().min(1).max(200).optional(),
    provider: z.enum(PROVIDERS, { error: `must be one of ${PROVIDERS.join(', ')}` }),
    model: z.string().min(1).optional(),
    baseUrl: url.optional(),
    apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' }).optional(),
    maxTokens: int(1, 1_000_000).optional(),
    systemPrompt: z.string().min(1, { error: 'must not be empty' }).max(100_000, { error: 'must be at most 100000 characters' }).optional(),
    temperature: z.number({ error: 'must be a number' }).min(0, { error: 'must be at least 0' }).max(2, { error: 'must be at most 2' }).optional(),
    prices: z.object({ input: price, output: price, cachedInput: price.optional() }).strict().optional(),
    historyTokens: int(256, 10_000_000).optional(),
  })
  .strict();

const fileSchema = z.array(fileEntry).min(1, { error: 'must list at least one model' });

type Env = Readonly<Record<string, string | undefined>>;

function fail(message: string): never {
  throw new ChatboxError('CHATBOX_ERR_CONFIG', message);
}

/** One line per problem; in a models file the entry is named by its index and id. */
const issues = (error: z.ZodError, entries?: unknown): string =>
  error.issues
    .map((i) => {
      if (i.path.length === 0) return `  (root): ${i.message}`;
      const [first, ...rest] = i.path;
      if (Array.isArray(entries) && typeof first === 'number') {
        const id: unknown = (entries[first] as { id?: unknown } | null)?.id;
        const field = rest.length > 0 ? rest.join('.') : '(entry)';
        return `  model ${first}${typeof id === 'string' ? ` (${id})` : ''}: ${field}: ${i.message}`;
      }
      return `  ${i.path.join('.')}: ${i.message}`;
    })
    .join('\n');

/** The variable each provider reads its key from when a models-file entry names none. */
const KEY_ENV: Record<Provider, string | undefined> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  dify: 'DIFY_API_KEY',
  demo: undefined,
};

/** The optional per-model fields, set only when given (absent stays absent). */
function extras(e: z.infer<typeof fileEntry>, historyTokens: number): Pick<ModelSpec, 'systemPrompt' | 'temperature' | 'prices' | 'historyTokens'> {
  return {
    historyTokens: e.historyTokens ?? historyTokens,
    ...(e.systemPrompt === undefined ? {} : { systemPrompt: e.systemPrompt }),
    ...(e.temperature === undefined ? {} : { temperature: e.temperature }),
    ...(e.prices === undefined
      ? {}
      : { prices: { input: e.prices.input, output: e.prices.output, ...(e.prices.cachedInput === undefined ? {} : { cachedInput: e.prices.cachedInput }) } }),
  };
}

function fromFile(entries: z.infer<typeof fileSchema>, env: Env, file: string, historyTokens: number): ModelSpec[] {
  const seen = new Set<string>();
  return entries.map((e, i) => {
    const where = `${file}: model ${i} (${e.id})`;
    if (seen.has(e.id)) fail(`${where}: duplicate id; every model id must be unique`);
    seen.add(e.id);
    if (e.provider === 'demo') return { ...DEMO_MODEL, id: e.id, name: e.name ?? DEMO_MODEL.name, ...extras(e, historyTokens) };
    const keyEnv = e.apiKeyEnv ?? KEY_ENV[e.provider];
    const apiKey = keyEnv === undefined ? undefined : env[keyEnv];
    if (e.apiKeyEnv !== undefined && apiKey === undefined) fail(`${where}: apiKeyEnv names ${e.apiKeyEnv}, which is not set`);
    // OpenAI-compatible local servers (Ollama, vLLM) often need no key; the hosted APIs do.
    if (apiKey === undefined && e.provider !== 'openai') fail(`${where}: no API key; set ${keyEnv} or give apiKeyEnv`);
    if (e.model === undefined && e.provider !== 'dify') fail(`${where}: model (the provider's model name) is required`);
    return {
      id: e.id,
      name: e.name ?? e.id,
      provider: e.provider,
      model: e.model ?? 'dify-app',
      baseUrl: e.baseUrl ?? (e.provider === 'dify' ? DEFAULT_DIFY_BASE_URL : undefined),
      apiKey,
      maxTokens: e.maxTokens,
      ...extras(e, historyTokens),
    };
  });
}

function fromShorthand(c: z.infer<typeof envSchema>): ModelSpec[] {
  const models: ModelSpec[] = [];
  if (c.OPENAI_API_KEY !== undefined) {
    const model = c.OPENAI_MODEL ?? DEFAULT_OPENAI_MODEL;
    models.push({ id: model, name: `OpenAI ${model}`, provider: 'openai', model, baseUrl: c.OPENAI_BASE_URL, apiKey: c.OPENAI_API_KEY, maxTokens: undefined });
  }
  if (c.ANTHROPIC_API_KEY !== undefined) {
    const model = c.ANTHROPIC_MODEL ?? DEFAULT_ANTHROPIC_MODEL;
    models.push({ id: model, name: `Anthropic ${model}`, provider: 'anthropic', model, baseUrl: c.ANTHROPIC_BASE_URL, apiKey: c.ANTHROPIC_API_KEY, maxTokens: undefined });
  }
  if (c.DIFY_API_KEY !== undefined) {
    models.push({ id: 'dify', name: 'Dify app', provider: 'dify', model: 'dify-app', baseUrl: c.DIFY_BASE_URL ?? DEFAULT_DIFY_BASE_URL, apiKey: c.DIFY_API_KEY, maxTokens: undefined });
  }
  const ids = new Set(models.map((m) => m.id));
  if (ids.size !== models.length) fail('OPENAI_MODEL and ANTHROPIC_MODEL give the same model id; use LLM_MODELS_FILE to name them apart');
  const shared = { historyTokens: c.LLM_HISTORY_TOKENS, ...(c.LLM_SYSTEM_PROMPT === undefined ? {} : { systemPrompt: c.LLM_SYSTEM_PROMPT }) };
  return models.map((m) => ({ ...m, ...shared }));
}

/**
 * Reads the LLM configuration. Throws ChatboxError('CHATBOX_ERR_CONFIG') naming what is wrong.
 * The models file wins over the shorthand variables when both are set.
 */
export async function loadModelConfig(env: NodeJS.ProcessEnv | Env): Promise<LlmConfig> {
  // Empty strings mean "unset", as in most deployment tools.
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) fail(`invalid LLM configuration:\n${issues(parsed.error)}`);
  const c = parsed.data;

  let models: ModelSpec[];
  if (c.LLM_MODELS_FILE !== undefined) {
    const file = c.LLM_MODELS_FILE;
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      fail(`LLM_MODELS_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      fail(`LLM_MODELS_FILE: ${file} is not valid JSON (${(error as Error).message})`);
    }
    const entries = fileSchema.safeParse(json);
    if (!entries.success) fail(`LLM_MODELS_FILE: ${file} is not a valid models list:\n${issues(entries.error, json)}`);
    models = fromFile(entries.data, cleaned, file, c.LLM_HISTORY_TOKENS);
  } else {
    models = fromShorthand(c);
  }
  const demoOnly = models.length === 0 || models.every((m) => m.provider === 'demo');
  if (models.length === 0) models = [{ ...DEMO_MODEL, historyTokens: c.LLM_HISTORY_TOKENS }];

  if (c.LLM_RETRY_MAX_MS < c.LLM_RETRY_BASE_MS) fail('LLM_RETRY_MAX_MS must be at least LLM_RETRY_BASE_MS');
  return {
    models,
    demoOnly,
    retry: {
      maxAttempts: c.LLM_MAX_ATTEMPTS,
      baseDelayMs: c.LLM_RETRY_BASE_MS,
      maxDelayMs: c.LLM_RETRY_MAX_MS,
      maxRetryAfterMs: c.LLM_RETRY_AFTER_MAX_MS,
    },
    timeouts: {
      connectMs: c.LLM_CONNECT_TIMEOUT_MS,
      firstTokenMs: c.LLM_FIRST_TOKEN_TIMEOUT_MS,
      totalMs: c.LLM_TOTAL_TIMEOUT_MS,
    },
  };
}

/** Configured model ids without prices: their spend is not counted (listed once at start). */
export function unpricedModels(config: LlmConfig): string[] {
  return config.models.filter((m) => m.prices === undefined && m.provider !== 'demo').map((m) => m.id);
}

/** The distinct providers of a configuration, for the metrics subscriber's zero series. */
export function configuredProviders(config: LlmConfig): Provider[] {
  return [...new Set(config.models.map((m) => m.provider))];
}
