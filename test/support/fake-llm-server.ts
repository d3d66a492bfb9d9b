// A fake LLM provider on 127.0.0.1 that speaks the OpenAI chat-completions, Anthropic messages
// and Dify chat-messages wire formats, streamed (SSE) and not, with faults scripted per request.
// Tests and benchmarks point the real adapters (undici + eventsource-parser) and, in bench/llm/,
// the official SDKs at it. Replies can say how they finished (`finish`), report cached and
// reasoning tokens (`usage`), and be paced (`firstChunkDelayMs`, `chunkDelayMs`, or `realistic`
// for every reply).
//
//   const fake = await startFakeLlmServer();
//   fake.script([{ status: 429, retryAfter: '0' }, {}]);   // next request: 429, then a normal reply
//   ... baseUrl: fake.baseUrls.openai ...
//   await fake.close();
import { performance } from 'node:perf_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeProvider = 'openai' | 'anthropic' | 'dify';

/**
 * How a scripted reply says it finished, provider-neutral; each wire sends its own word (OpenAI
 * `finish_reason`, Anthropic `stop_reason`). Dify's chat API names none: its message_end is sent.
 */
export type FakeFinish = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'stop_sequence';

/** Usage a step reports. Cached input is part of `input`; reasoning is part of `output`. */
export interface FakeUsage {
  readonly input: number;
  readonly output: number;
  /** OpenAI `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`. */
  readonly cachedInput?: number;
  /** OpenAI `completion_tokens_details.reasoning_tokens` (Anthropic and Dify report none). */
  readonly reasoning?: number;
}

/** What the next request gets. Every field is optional; `{}` is a normal, prompt reply. */
export interface FakeStep {
  /** Reply text, as the chunks it is streamed in (default: the server's default chunks). */
  readonly chunks?: readonly string[];
  /** Answer with this non-2xx status and the provider's error body. */
  readonly status?: number;
  /** Retry-After header value sent with `status` (seconds or an HTTP date). */
  readonly retryAfter?: string;
  /** Wait before sending the response headers. */
  readonly headersDelayMs?: number;
  /** Never send headers; the request hangs until the client gives up. */
  readonly hang?: boolean;
  /** Wait before the first text chunk (after headers). */
  readonly firstChunkDelayMs?: number;
  /** Wait between text chunks. */
  readonly chunkDelayMs?: number;
  /**
   * Wait before each text chunk after the first, one entry per gap (chunk i waits entry i-1;
   * missing entries fall back to chunkDelayMs): uneven pacing for the inter-token series.
   */
  readonly chunkGapsMs?: readonly number[];
  /** Destroy the socket after this many text chunks (streamed) or mid-body (not streamed). */
  readonly cutAfter?: number;
  /** Send a malformed JSON event before text chunk number `malformedAt` (streamed) or a malformed body. */
  readonly malformedAt?: number;
  /** Leave every usage field out. */
  readonly noUsage?: boolean;
  /** Usage to report (default: input 12, output = number of chunks). */
  readonly usage?: FakeUsage;
  /** How the reply finished (default 'stop'). */
  readonly finish?: FakeFinish;
  /** Send this literal finish word instead (an unknown one, say); overrides `finish`. */
  readonly rawFinish?: string;
  /** Send the provider's in-stream error event after this many text chunks (streamed only). */
  readonly errorEventAfter?: number;
}

export interface FakeLlmServerOptions {
  /** Chunks of every reply whose step gives none. */
  readonly chunks?: readonly string[];
  /**
   * Pacing applied to every step that sets none: time to first token and time between chunks,
   * like a real model (the load harness uses this).
   */
  readonly realistic?: { readonly firstTokenMs: number; readonly chunkMs: number; readonly chunks?: number };
  /** Finish and usage details of every step that sets none (the observability series' load). */
  readonly finish?: FakeFinish;
  readonly cachedInput?: number;
  readonly reasoning?: number;
  /**
   * What a request's record keeps of its body (default: all of it) and whether it keeps the
   * headers (default: yes). A load run sends thousands of requests, each with the whole history:
   * kept whole, they grow with every turn the heap of the process that measures the latencies.
   */
  readonly record?: { readonly body?: (body: Record<string, unknown>) => Record<string, unknown>; readonly headers?: boolean };
}

export interface FakeRequest {
  readonly provider: FakeProvider;
  readonly path: string;
  /** The query string, without `?` ('' when none). */
  readonly query: string;
  readonly streaming: boolean;
  readonly body: Record<string, unknown>;
  readonly headers: IncomingMessage['headers'];
  /** performance.now() when the request body arrived (same clock as the process that started the server). */
  readonly receivedAt: number;
  /** performance.now() when the first text chunk was written; undefined if none was. */
  readonly firstChunkAt: number | undefined;
  /** performance.now() when each text chunk was written, in order. */
  readonly chunkAt: readonly number[];
  /** Input plus output tokens of the usage this request delivered (0 until a whole reply was sent). */
  readonly deliveredTokens: number;
  /** The client's port: requests on one kept-alive connection share it. */
  readonly remotePort: number;
  /** The connection went away before the response was whole (the client aborted, or a cut). */
  readonly closedEarly: boolean;
}

export interface FakeLlmServer {
  readonly url: string;
  /** Base URLs as each adapter expects them (OpenAI and Dify include /v1; Anthropic's SDK adds it). */
  readonly baseUrls: { readonly openai: string; readonly anthropic: string; readonly dify: string };
  /** Appends steps; each request takes the next one (a normal reply when none is left). */
  script(steps: readonly FakeStep[]): void;
  /** Steps not yet used. */
  pending(): number;
  /** Drops the steps not yet used. */
  reset(): void;
  requests(): readonly FakeRequest[];
  /** Complete, successful replies sent so far, and the usage they reported (0 when left out). */
  delivered(): { readonly responses: number; readonly inputTokens: number; readonly outputTokens: number };
  close(): Promise<void>;
}

export const DEFAULT_FAKE_CHUNKS: readonly string[] = ['Hello', ' from', ' the', ' fake', ' provider', '.'];
export const DEFAULT_FAKE_INPUT_TOKENS = 12;

/**
 * Which wire a path speaks. Any path ending in /chat/completions is OpenAI's, so the
 * OpenAI-compatible layouts are reachable by base URL: `/openai/v1` (ours), `/v1` (vLLM, Ollama,
 * LiteLLM), `/openai/deployments/NAME` with `?api-version=` (Azure).
 */
function routeOf(path: string): FakeProvider | undefined {
  if (path.endsWith('/chat/completions')) return 'openai';
  if (path === '/anthropic/v1/messages') return 'anthropic';
  if (path === '/dify/v1/chat-messages') return 'dify';
  return undefined;
}

/** Drops the connection mid-response, after what was written so far has left (like a proxy dying). */
function cut(res: ServerResponse): void {
  const socket = res.socket;
  if (socket === null) return;
  socket.destroySoon();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** One event as it goes on the wire, per provider. `finish` is the wire's own word. */
interface Wire {
  start(): string[];
  text(text: string, index: number): string;
  end(usage: FakeUsage | undefined, finish: string): string[];
  malformed(): string;
  errorEvent(): string;
  whole(text: string, usage: FakeUsage | undefined, finish: string): unknown;
  error(status: number): unknown;
}

const OPENAI_FINISH: Record<FakeFinish, string> = { stop: 'stop', length: 'length', content_filter: 'content_filter', tool_calls: 'tool_calls', stop_sequence: 'stop' };
const ANTHROPIC_FINISH: Record<FakeFinish, string> = { stop: 'end_turn', length: 'max_tokens', content_filter: 'refusal', tool_calls: 'tool_use', stop_sequence: 'stop_sequence' };

const openaiUsage = (u: FakeUsage) => ({
  prompt_tokens: u.input,
  completion_tokens: u.output,
  total_tokens: u.input + u.output,
  ...(u.cachedInput === undefined ? {} : { prompt_tokens_details: { cached_tokens: u.cachedInput, audio_tokens: 0 } }),
  ...(u.reasoning === undefined ? {} : { completion_tokens_details: { reasoning_tokens: u.reasoning, audio_tokens: 0 } }),
});

/** Anthropic's input_tokens leave the cache reads out; the adapter adds them back. */
const anthropicUsage = (u: FakeUsage) => ({
  input_tokens: u.input - (u.cachedInput ?? 0),
  output_tokens: u.output,
  ...(u.cachedInput === undefined ? {} : { cache_read_input_tokens: u.cachedInput, cache_creation_input_tokens: 0 }),
});

const sse = (data: unknown, event?: string): string =>
  `${event === undefined ? '' : `event: ${event}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

function openaiWire(model: string): Wire {
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1700000000, model };
  return {
    start: () => [sse({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })],
    text: (text) => sse({ ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] }),
    end: (usage, finish) => [
      sse({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] }),
      ...(usage === undefined ? [] : [sse({ ...base, choices: [], usage: openaiUsage(usage) })]),
      sse('[DONE]'),
    ],
    malformed: () => sse('{"id":"chatcmpl-fake","choices":[{"delta":{"content":"bro'),
    errorEvent: () => sse({ error: { message: 'The server had an error while processing your request.', type: 'server_error' } }),
    whole: (text, usage, finish) => ({
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: 1700000000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
      ...(usage === undefined ? {} : { usage: openaiUsage(usage) }),
    }),
    error: (status) => ({ error: { message: `fake error ${status}`, type: status === 429 ? 'rate_limit_exceeded' : 'fake_error', code: null } }),
  };
}

function anthropicWire(model: string): Wire {
  return {
    start: () => [
      sse(
        {
          type: 'message_start',
          message: { id: 'msg_fake', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null },
        },
        'message_start',
      ),
      sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
      sse({ type: 'ping' }, 'ping'),
    ],
    text: (text) => sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
    end: (usage, finish) => [
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
      sse(
        {
          type: 'message_delta',
          delta: { stop_reason: finish, stop_sequence: null },
          ...(usage === undefined ? {} : { usage: anthropicUsage(usage) }),
        },
        'message_delta',
      ),
      sse({ type: 'message_stop' }, 'message_stop'),
    ],
    malformed: () => sse('{"type":"content_block_delta","delta":{"text":"bro', 'content_block_delta'),
    errorEvent: () => sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error'),
    whole: (text, usage, finish) => ({
      id: 'msg_fake',
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: finish,
      stop_sequence: null,
      ...(usage === undefined ? {} : { usage: anthropicUsage(usage) }),
    }),
    error: (status) => ({
      type: 'error',
      error: { type: status === 429 ? 'rate_limit_error' : status >= 500 ? 'api_error' : 'invalid_request_error', message: `fake error ${status}` },
    }),
  };
}

function difyWire(conversationId: string): Wire {
  const ids = { task_id: 'task-fake', message_id: 'msg-fake', conversation_id: conversationId };
  const usageOf = (u: FakeUsage) => ({
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    total_price: '0',
    currency: 'USD',
    latency: 0.1,
  });
  return {
    start: () => [sse({ event: 'workflow_started', ...ids, data: {} })],
    text: (text) => sse({ event: 'message', ...ids, id: 'msg-fake', answer: text, created_at: 1700000000 }),
    end: (usage) => [sse({ event: 'message_end', ...ids, id: 'msg-fake', metadata: usage === undefined ? {} : { usage: usageOf(usage) } })],
    malformed: () => sse('{"event":"message","answer":"bro'),
    errorEvent: () => sse({ event: 'error', ...ids, status: 500, code: 'internal_error', message: 'fake in-stream error' }),
    whole: (text, usage) => ({
      event: 'message',
      ...ids,
      id: 'msg-fake',
      mode: 'chat',
      answer: text,
      metadata: usage === undefined ? {} : { usage: usageOf(usage) },
      created_at: 1700000000,
    }),
    error: (status) => ({ code: status === 429 ? 'too_many_requests' : 'fake_error', message: `fake error ${status}`, status }),
  };
}

export async function startFakeLlmServer(options: FakeLlmServerOptions = {}): Promise<FakeLlmServer> {
  const steps: FakeStep[] = [];
  const seen: FakeRequest[] = [];
  const keepBody = options.record?.body;
  const keepHeaders = options.record?.headers ?? true;
  let conversations = 0;
  let closing = false;
  const tally = { responses: 0, inputTokens: 0, outputTokens: 0 };
  const countDelivered = (usage: { input: number; output: number } | undefined): void => {
    tally.responses++;
    tally.inputTokens += usage?.input ?? 0;
    tally.outputTokens += usage?.output ?? 0;
  };

  const realistic = options.realistic;
  const defaultChunks =
    options.chunks ??
    (realistic?.chunks === undefined
      ? DEFAULT_FAKE_CHUNKS
      : Array.from({ length: realistic.chunks }, (_, i) => (i === 0 ? 'Token' : ` token${i}`)));

  /**
   * A response's timed waits: each resolves after `ms`, or early (false) when the response closed
   * or the server is closing. One 'close' listener serves every wait of the response: a listener,
   * two Set entries and two closures per chunk made the pacing one of the load harness's largest
   * allocators, and the harness's GC pauses land in every latency it measures.
   */
  function pacer(res: ServerResponse): (ms: number) => Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    let resume: ((ok: boolean) => void) | undefined;
    let closed = false;
    const settle = (ok: boolean): void => {
      const r = resume;
      resume = undefined;
      r?.(ok);
    };
    const fire = (): void => {
      timer = undefined;
      settle(true);
    };
    // Also how close() ends them: closeAllConnections() closes every response.
    const stop = (): void => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      settle(false);
    };
    res.once('close', stop);
    return (ms) => {
      if (ms <= 0) return Promise.resolve(!res.destroyed);
      if (closed || closing) return Promise.resolve(false);
      return new Promise((resolve) => {
        resume = resolve;
        timer = setTimeout(fire, ms);
      });
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '', query = ''] = (req.url ?? '').split('?', 2);
    const provider = routeOf(path);
    if (req.method !== 'POST' || provider === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const raw = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid JSON"}');
      return;
    }
    const streaming = provider === 'dify' ? body['response_mode'] === 'streaming' : body['stream'] === true;
    const record: { -readonly [K in keyof FakeRequest]: FakeRequest[K] } = {
      provider,
      path,
      query,
      streaming,
      body: keepBody === undefined ? body : keepBody(body),
      headers: keepHeaders ? req.headers : {},
      receivedAt: performance.now(),
      firstChunkAt: undefined,
      chunkAt: [],
      deliveredTokens: 0,
      remotePort: req.socket.remotePort ?? 0,
      closedEarly: false,
    };
    res.once('close', () => {
      if (!res.writableFinished) record.closedEarly = true;
    });
    const count = (usage: { input: number; output: number } | undefined): void => {
      countDelivered(usage);
      record.deliveredTokens = (usage?.input ?? 0) + (usage?.output ?? 0);
    };
    seen.push(record);
    const step = steps.shift() ?? {};
    req.socket.setNoDelay(true);

    const model = typeof body['model'] === 'string' ? body['model'] : 'fake-model';
    let wire: Wire;
    if (provider === 'openai') wire = openaiWire(model);
    else if (provider === 'anthropic') wire = anthropicWire(model);
    else {
      const asked = body['conversation_id'];
      wire = difyWire(typeof asked === 'string' && asked !== '' ? asked : `conv-${++conversations}`);
    }

    const wait = pacer(res);
    if (step.hang === true) {
      await wait(2 ** 31 - 1);
      return;
    }
    if (!(await wait(step.headersDelayMs ?? 0))) return;

    if (step.status !== undefined && (step.status < 200 || step.status > 299)) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (step.retryAfter !== undefined) headers['retry-after'] = step.retryAfter;
      res.writeHead(step.status, headers).end(JSON.stringify(wire.error(step.status)));
      return;
    }

    const chunks = step.chunks ?? defaultChunks;
    const cachedInput = step.usage === undefined ? options.cachedInput : step.usage.cachedInput;
    const reasoning = step.usage === undefined ? options.reasoning : step.usage.reasoning;
    const usage: FakeUsage | undefined =
      step.noUsage === true
        ? undefined
        : {
            input: step.usage?.input ?? DEFAULT_FAKE_INPUT_TOKENS,
            output: step.usage?.output ?? chunks.length,
            ...(cachedInput === undefined ? {} : { cachedInput }),
            ...(reasoning === undefined ? {} : { reasoning }),
          };
    const neutral = step.finish ?? options.finish ?? 'stop';
    const finish = step.rawFinish ?? (provider === 'anthropic' ? ANTHROPIC_FINISH[neutral] : OPENAI_FINISH[neutral]);
    const firstDelay = step.firstChunkDelayMs ?? realistic?.firstTokenMs ?? 0;
    const chunkDelay = step.chunkDelayMs ?? realistic?.chunkMs ?? 0;

    const gap = (i: number): number => (i === 0 ? firstDelay : (step.chunkGapsMs?.[i - 1] ?? chunkDelay));
    if (!streaming) {
      let whole = 0;
      for (let i = 0; i < chunks.length; i++) whole += gap(i);
      if (!(await wait(whole))) return;
      if (step.malformedAt !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"broken", "choi');
        return;
      }
      const json = JSON.stringify(wire.whole(chunks.join(''), usage, finish));
      if (step.cutAfter !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) });
        res.write(json.slice(0, Math.floor(json.length / 2)));
        cut(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(json);
      count(usage);
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    for (const line of wire.start()) res.write(line);
    for (let i = 0; i < chunks.length; i++) {
      if (step.cutAfter === i) {
        cut(res);
        return;
      }
      if (step.errorEventAfter === i) {
        res.end(wire.errorEvent());
        return;
      }
      if (!(await wait(gap(i)))) return;
      if (step.malformedAt === i) res.write(wire.malformed());
      res.write(wire.text(chunks[i]!, i));
      const at = performance.now();
      (record.chunkAt as number[]).push(at);
      if (i === 0) record.firstChunkAt = at;
    }
    if (step.cutAfter !== undefined && step.cutAfter >= chunks.length) {
      cut(res);
      return;
    }
    if (step.errorEventAfter !== undefined && step.errorEventAfter >= chunks.length) {
      res.end(wire.errorEvent());
      return;
    }
    res.end(wire.end(usage, finish).join(''));
    // A reply with a malformed event in it is no good reply, even though it ran to the end. One
    // the client gave up on mid-way (our timeouts) still counts if its last byte was written.
    if (step.malformedAt === undefined && !res.destroyed) count(usage);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    baseUrls: { openai: `${url}/openai/v1`, anthropic: `${url}/anthropic`, dify: `${url}/dify/v1` },
    script(more) {
      steps.push(...more);
    },
    pending: () => steps.length,
    reset() {
      steps.length = 0;
    },
    requests: () => seen,
    delivered: () => ({ ...tally }),
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
