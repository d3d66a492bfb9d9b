// The providers' HTTP client: undici's dispatch API on one keep-alive Pool per origin, shared by
// every model that talks to that origin (response-body.ts), and server-sent events parsed by
// eventsource-parser straight from the body's text. The SDKs' fetch + web streams cost more per
// chunk than the rest of a chat turn together (issue 16); this path has no stream objects at all.
import { StringDecoder } from 'node:string_decoder';
import { Pool } from 'undici';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ProviderFailure, statusFailure } from '../failure.js';
import { dispatch, type ProviderResponse, type ResponseBody } from './response-body.js';
import type { StopSignal } from '../stop.js';

export type { ProviderResponse } from './response-body.js';

/** Where one provider endpoint lives: the pool's origin and the request path (with any query). */
export interface Endpoint {
  readonly origin: string;
  readonly path: string;
}

/**
 * The endpoint `suffix` below a base URL. A query on the base URL (Azure's `?api-version=`) stays
 * at the end. Throws on a base URL that is no URL, so a bad configuration fails at start.
 */
export function endpoint(baseUrl: string, suffix: string): Endpoint {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`the base URL ${baseUrl} is not http(s)`);
  return { origin: url.origin, path: `${url.pathname.replace(/\/+$/, '')}${suffix}${url.search}` };
}

interface Shared {
  readonly pool: Pool;
  users: number;
}

const pools = new Map<string, Shared>();

export interface HttpClient {
  /** One POST; resolves when the response headers arrived. `signal` aborts it and frees the socket. */
  post(path: string, headers: Record<string, string>, body: string, signal: StopSignal): Promise<ProviderResponse>;
  /** Gives the pool back; the last user closes it (running requests finish first). */
  close(): Promise<void>;
}

/** A client on the shared keep-alive pool of `origin`. */
export function httpClient(origin: string): HttpClient {
  let shared = pools.get(origin);
  if (shared === undefined) {
    shared = {
      // Our connect / first-token / total timers decide; undici's own timeouts stay off so they
      // never race them with a different error. An idle connection is dropped after 2 s: a
      // streamed reply carries no Keep-Alive hint, undici's idle timer has a 1 s resolution, and
      // servers close idle connections after 5 s (Node, uvicorn under vLLM) or more, so a request
      // never goes out on a socket the server is closing (it would fail without reaching it).
      pool: new Pool(origin, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 2_000 }),
      users: 0,
    };
    pools.set(origin, shared);
  }
  shared.users++;
  const { pool } = shared;
  let closed = false;
  return {
    post: (path, headers, body, signal) => dispatch(pool, { method: 'POST', path, headers, body }, signal),
    async close() {
      if (closed) return;
      closed = true;
      const s = pools.get(origin);
      if (s === undefined || s.pool !== pool || --s.users > 0) return;
      pools.delete(origin);
      await pool.close();
    },
  };
}

/** One header of an undici response, as the failure helpers read headers. */
export const headerReader = (headers: ProviderResponse['headers']): { get(name: string): string | null } => ({
  get(name) {
    const v = headers[name];
    if (v === undefined) return null;
    return Array.isArray(v) ? (v[0] ?? null) : v;
  },
});

/**
 * The failure for a non-2xx response, after reading its (small) body: that frees the socket for
 * the next request. `detailOf` pulls the provider's message out of its JSON error body.
 */
export async function errorResponse(
  res: ProviderResponse,
  detailOf: (body: unknown) => string | undefined,
): Promise<ProviderFailure> {
  const text = await boundedText(res.body, ERROR_BODY_MAX).catch(() => '');
  let detail = text;
  try {
    detail = detailOf(JSON.parse(text)) ?? text;
  } catch {
    // Not JSON: keep the text.
  }
  return statusFailure(res.statusCode, headerReader(res.headers), shortDetail(detail));
}

/** A provider error body is only read for its message; a whole reply is never near this size. */
const ERROR_BODY_MAX = 64 * 1024;
const JSON_BODY_MAX = 8 * 1024 * 1024;

/** The body as text, refused (bad_response) past `max` bytes so a broken endpoint cannot fill memory. */
async function boundedText(body: ResponseBody, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
    size += chunk.length;
    if (size > max) {
      body.release();
      throw new ProviderFailure('bad_response', 0, `the response body is larger than ${max} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, size).toString('utf8');
}

/** The whole body of a 2xx response as JSON; a SyntaxError (bad_response) when it is none. */
export async function jsonBody(res: ProviderResponse): Promise<unknown> {
  const value: unknown = JSON.parse(await boundedText(res.body, JSON_BODY_MAX));
  if (typeof value !== 'object' || value === null) throw new ProviderFailure('bad_response', 0, 'the reply is not a JSON object');
  return value;
}

/** The SSE events of a body, a batch at a time (see sseReader). */
export interface SseReader {
  /** The events the next read(s) completed, in order; null at the end of the body. The array is reused: read it before the next call. */
  next(): Promise<readonly EventSourceMessage[] | null>;
}

/**
 * Reads a body's server-sent events: its text goes to eventsource-parser, the events one read
 * completed come back together. A plain async call per batch, not an async generator: a chunk
 * crosses one promise here instead of a generator's several.
 */
export function sseReader(body: ResponseBody): SseReader {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => void pending.push(event) });
  // A character split across two reads is joined here.
  const decoder = new StringDecoder('utf8');
  return {
    // Leaving early does not touch the body: its release() decides whether the socket is reused.
    async next() {
      pending.length = 0;
      for (let bytes = await body.read(); bytes !== null; bytes = await body.read()) {
        parser.feed(decoder.write(bytes));
        if (pending.length > 0) return pending;
      }
      return null;
    },
  };
}

/** Keeps provider error text short and single-line for messages and logs. */
export function shortDetail(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}
