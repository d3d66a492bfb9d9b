// Transport-neutral HTTP: a request copied out of the transport, a reply as plain data, and a
// route table matched the same way by the uWS and the node:http servers.
import { UNMATCHED_ROUTE, type AuthFailureReason, type ErrorCode } from '../events/catalog.js';
import type { HttpObserver } from './observe.js';

export interface HttpRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Header lookup by lower-case name. */
  readonly header: (name: string) => string | undefined;
  /** Route parameters (`:id` in the pattern). */
  readonly params: Readonly<Record<string, string>>;
  /** Raw body (POST/PUT); empty for GET. */
  readonly body: string;
  readonly remoteAddress: string;
}

export interface HttpReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
  /** Set on a 401/403 that refused the caller's token or origin: the auth gate counts it. Never sent. */
  readonly authFailure?: AuthFailureReason;
  /** A binary body (static files); sent instead of `body` when set. */
  readonly bytes?: Uint8Array;
}

/**
 * Headers every answer carries, whatever route or transport made it: no MIME sniffing, the
 * server's security headers (`base`), and nothing cached unless the route says otherwise (session
 * histories and admin data are private). The one place both transports take their headers from.
 */
export function answerHeaders(reply: HttpReply, base?: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', ...base };
  if (reply.headers !== undefined) for (const [k, v] of Object.entries(reply.headers)) headers[k.toLowerCase()] = v;
  return headers;
}

/** The reply's body as the transports write it, and its length. */
export const replyBody = (reply: HttpReply): string | Uint8Array => reply.bytes ?? reply.body;
export const replyLength = (reply: HttpReply): number => reply.bytes?.byteLength ?? Buffer.byteLength(reply.body);

export type RouteHandler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;

export interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'OPTIONS';
  /** Literal segments and `:name` parameters, e.g. `/chatbox/sessions/:id`. */
  readonly pattern: string;
  readonly handler: RouteHandler;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export function json(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): HttpReply {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

export function jsonError(
  status: number,
  code: ErrorCode,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): HttpReply {
  return json(status, { error: { code, message } }, headers);
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: '200 OK',
  308: '308 Permanent Redirect',
  201: '201 Created',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export const statusLine = (status: number): string => STATUS_TEXT[status] ?? `${status} Status`;

interface CompiledRoute {
  readonly route: Route;
  readonly segments: readonly string[];
}

/** A matched route, with the pattern it is counted under. */
export interface Matched {
  readonly handler: RouteHandler;
  readonly params: Record<string, string>;
  readonly route: string;
}

/** A 404/405 reply, with the route it is counted under (`unmatched` for an unknown path). */
export type Unrouted = HttpReply & { readonly route: string };

export interface Router {
  /** The reply for a request, 404/405 JSON when nothing matches. */
  match(method: string, path: string): Matched | Unrouted;
  /** Reports one answered request (every transport calls it wherever it writes a reply). */
  answered(route: string, method: string, status: number, startedAt: number): void;
}

export function createRouter(routes: readonly Route[], observe?: HttpObserver): Router {
  const compiled: CompiledRoute[] = routes.map((route) => ({ route, segments: route.pattern.split('/') }));
  return {
    answered: observe ?? (() => {}),
    match(method, path) {
      const parts = path.split('/');
      let pathMatched: string | undefined;
      const allowed = new Set<string>();
      for (const { route, segments } of compiled) {
        if (segments.length !== parts.length) continue;
        const params: Record<string, string> = {};
        let ok = true;
        for (let i = 0; i < segments.length; i++) {
          const seg = segments[i] as string;
          const part = parts[i] as string;
          if (seg.startsWith(':')) {
            if (part === '') {
              ok = false;
              break;
            }
            try {
              params[seg.slice(1)] = decodeURIComponent(part);
            } catch {
              ok = false;
              break;
            }
          } else if (seg !== part) {
            ok = false;
            break;
          }
        }
        if (!ok) continue;
        pathMatched ??= route.pattern;
        if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { handler: route.handler, params, route: route.pattern };
        allowed.add(route.method);
        if (route.method === 'GET') allowed.add('HEAD');
      }
      return pathMatched !== undefined
        ? { ...jsonError(405, 'INVALID_MESSAGE', `method ${method} is not allowed on ${path}`, { allow: [...allowed].join(', ') }), route: pathMatched }
        : { ...jsonError(404, 'NOT_FOUND', `no route for ${method} ${path}`), route: UNMATCHED_ROUTE };
    },
  };
}

/** Wraps an error callback so that reporting can never throw into a transport's callback. */
export function safeReporter(onError: ((error: unknown) => void) | undefined): (error: unknown) => void {
  return (error) => {
    try {
      onError?.(error);
    } catch {
      // a broken reporter must not take a request or a socket down with it
    }
  };
}
