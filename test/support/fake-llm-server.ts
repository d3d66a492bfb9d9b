// A fake LLM provider on 127.0.0.1 that speaks the OpenAI chat-completions, Anthropic messages
// and Dify chat-messages wire formats, streamed (SSE) and not, with faults scripted per request.
// Tests and benchmarks point the real adapters (undici + eventsource-parser) and, in bench/llm/,
// the official SDKs at it. Replies can say how they finished (`finish`), report cached and
// reasoning tokens (`usage`), and be paced (`firstChunkDelayMs`, `chunkDelayMs`, or `realistic`
// for every reply). Each provider's wire format, the pacing and the writing of replies with their
// faults live in fake-llm/; this file keeps the API, the per-request record and the tally.
//
//   const fake = await startFakeLlmServer();
//   fake.script([{ status: 429, retryAfter: '0' }, {}]);   // next request: 429, then a normal reply
//   ... baseUrl: fake.baseUrls.openai ...
//   await fake.close();
import { performance } from 'node:perf_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ANTHROPIC_FINISH, anthropicWire } from './fake-llm/anthropic-wire.js';
import { difyWire } from './fake-llm/dify-wire.js';
import { OPENAI_FINISH, openaiWire } from './fake-llm/openai-wire.js';
import { pacer } from './fake-llm/pacer.js';
import { routeOf, type Wire } from './fake-llm/wire.js';
import { writeStream, writeWhole, type Reply } from './fake-llm/write-reply.js';

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

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

export async function startFakeLlmServer(options: FakeLlmServerOptions = {}): Promise<FakeLlmServer> {
  const steps: FakeStep[] = [];
  const seen: FakeRequest[] = [];
  const keepBody = options.record?.body;
  const keepHeaders = options.record?.headers ?? true;
  let conversations = 0;
  let closing = false;
  const isClosing = (): boolean => closing;
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

    const wait = pacer(res, isClosing);
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
    const reply: Reply = { chunks, usage, finish, gap };
    if (!streaming) await writeWhole(res, wire, step, reply, wait, count);
    else await writeStream(res, wire, step, reply, wait, record, count);
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
