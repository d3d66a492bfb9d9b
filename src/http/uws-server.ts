// The uWebSockets.js transport: HTTP routes and the chat WebSocket on one port. The only module
// (with uws-native.ts) that imports uWebSockets.js.
//
// uWS rules followed here: everything needed from HttpRequest is copied synchronously; onAborted
// is set before the first await and checked after it; every write after an await is corked; no
// exception crosses a uWS callback; a closed socket is marked before anything else runs.
import { Buffer } from 'node:buffer';
import type { HttpResponse, HttpRequest as UwsRequest, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { uws } from './uws-native.js';
import { performance } from 'node:perf_hooks';
import { UNMATCHED_ROUTE } from '../events/catalog.js';
import type { ClientAddress } from './client-address.js';
import type { HttpObserver } from './observe.js';
import { answerHeaders, createRouter, jsonError, replyBody, replyLength, safeReporter, statusLine, type HttpReply, type HttpRequest, type Route } from './routes.js';
import { flushScheduler, queuedPort } from './uws-socket-port.js';
import {
  type CloseInfo,
  type SocketHandler,
  type SocketLimits,
  type SocketPort,
  type UpgradeRequest,
} from '../ws/port.js';

export interface ServerOptions<T> {
  readonly host: string;
  readonly port: number;
  readonly routes: readonly Route[];
  /** The chat WebSocket, if this server carries one. */
  readonly socket?: { readonly path: string; readonly handler: SocketHandler<T>; readonly limits: SocketLimits };
  /** Largest request body accepted (bytes); larger gets 413. */
  readonly maxBodyBytes?: number;
  /** Called with errors that would otherwise be lost (a handler threw after the reply). */
  readonly onError?: (error: unknown) => void;
  /** Told about every request answered (chatbox_http_requests_total and its duration). */
  readonly observe?: HttpObserver;
  /** The client's address from the peer's and X-Forwarded-For (TRUSTED_PROXIES); default: the peer. */
  readonly clientAddress?: ClientAddress;
  /** Headers on every reply (the security headers); a reply's own header of the same name wins. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RunningServer {
  readonly transport: 'uws' | 'ws';
  readonly host: string;
  readonly port: number;
  /** Stops accepting new connections; open sockets are the chat layer's to close. */
  stopListening(): void;
  /** Stops accepting and drops whatever is still connected. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

const text = (ab: ArrayBuffer): string => Buffer.from(ab).toString('utf8');

function splitUrl(url: string, query: string | undefined): { path: string; query: URLSearchParams } {
  return { path: url, query: new URLSearchParams(query ?? '') };
}

function copyHeaders(req: UwsRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k, v));
  return headers;
}

function write(res: HttpResponse, reply: HttpReply, head: boolean, base: Readonly<Record<string, string>>): void {
  res.cork(() => {
    res.writeStatus(statusLine(reply.status));
    for (const [k, v] of Object.entries(answerHeaders(reply, base))) res.writeHeader(k, v);
    // Closing after a HEAD: uWS v20 leaves a kept-alive connection unusable after endWithoutBody.
    if (head) res.endWithoutBody(replyLength(reply), true);
    else res.end(replyBody(reply));
  });
}

// uWS reports its own closes as 1006 with a reason text; these are the texts of v20.
const TOO_BIG = 'Received too big message';
const TIMED_OUT = 'WebSocket timed out from inactivity';

function closeInfo(code: number, message: ArrayBuffer): CloseInfo {
  if (code !== 1006) return { code, abrupt: false };
  const reason = message.byteLength === 0 ? '' : text(message);
  if (reason === TOO_BIG) return { code: 1009, abrupt: false };
  if (reason === TIMED_OUT) return { code, abrupt: true, idle: true };
  return { code, abrupt: true };
}

/** uWS's own payload limit: 16 times ours (at least 64 KiB more), within uWS's 16 MiB maximum. */
const hardPayloadCap = (limit: number): number => Math.min(16 * 1024 * 1024, Math.max(limit * 16, limit + 64 * 1024));

interface UserData<T> {
  data: T;
  port: SocketPort | undefined;
  closed: boolean;
  /** Reports the frames still queued for a socket that closed as dropped. */
  lost: (() => void) | undefined;
}

/**
 * Runs `upgrade` (res.upgrade, decided after an await) without HttpResponse.cork()'s epilogue.
 * uWS v20.30's cork(), once its callback has upgraded the socket, reads the HTTP response's state
 * from memory that now belongs to the WebSocket (or to the heap block freed behind it), and when
 * those bytes read as "Connection: close" it shuts the new socket down: the client gets the 101,
 * then 1006 before any frame (uNetworking/uWebSockets#1929, fixed upstream in v20.53; here it was
 * the occasional "just-opened socket closed unasked"). Inside another socket's cork, uWS's cork()
 * of this response only runs the callback (a socket is already corked), so there is no epilogue,
 * and uWS.js counts the upgrade as corked (no warning). With no other socket open it is made
 * uncorked, and uWS.js prints its "must be made from within a corked callback" warning for it.
 */
function completeUpgrade(res: HttpResponse, open: ReadonlySet<WebSocket<unknown>>, upgrade: () => void): void {
  for (const other of open) {
    let ran = false;
    try {
      other.cork(() => {
        ran = true;
        res.cork(upgrade);
      });
      return;
    } catch (error) {
      // A socket closing under us refuses cork() before running anything: try the next one.
      if (ran) throw error;
    }
  }
  upgrade();
}

export function startUwsServer<T>(options: ServerOptions<T>): Promise<RunningServer> {
  const app: TemplatedApp = uws.App();
  const router = createRouter(options.routes, options.observe);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const report = safeReporter(options.onError);
  const later = flushScheduler(report);
  const sockets = new Set<WebSocket<UserData<T>>>();
  const clientAddress: ClientAddress = options.clientAddress ?? ((peer) => peer);
  const base = options.headers ?? {};
  const writeReply = (res: HttpResponse, reply: HttpReply, head: boolean): void => write(res, reply, head, base);

  if (options.socket !== undefined) {
    const { handler, limits, path } = options.socket;
    const maxPayload = limits.maxPayloadBytes;
    app.ws<UserData<T>>(path, {
      // uWS refuses a frame over maxPayloadLength by dropping the TCP connection (no close frame:
      // its close handler only ever reports 1006). So it is set well above our limit and the
      // message handler closes with 1009 itself; only frames past this hard cap are reset.
      maxPayloadLength: hardPayloadCap(maxPayload),
      maxBackpressure: limits.maxBackpressureBytes,
      // The chat layer decides what to do with a congested socket (drop, then close); uWS must
      // not close it behind our back. (Typed as a number upstream; 0 is "off".)
      closeOnBackpressureLimit: 0,
      idleTimeout: limits.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      // Chat frames are small JSON; per-socket deflate state would cost far more memory than it saves.
      compression: uws.DISABLED,
      upgrade(res, req, context) {
        let aborted = false;
        res.onAborted(() => {
          aborted = true;
        });
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        const headers = copyHeaders(req);
        const { path: reqPath, query } = splitUrl(req.getUrl(), req.getQuery());
        const upgradeReq: UpgradeRequest = {
          path: reqPath,
          query,
          header: (name) => headers.get(name),
          remoteAddress: clientAddress(text(res.getRemoteAddressAsText()), headers.get('x-forwarded-for')),
        };
        Promise.resolve()
          .then(() => handler.upgrade(upgradeReq))
          .then(
            (result) => {
              if (aborted) return;
              if (!result.ok) {
                writeReply(res, jsonError(result.status, result.code, result.message, result.headers), false);
                return;
              }
              completeUpgrade(res, sockets, () => {
                res.upgrade<UserData<T>>({ data: result.data, port: undefined, closed: false, lost: undefined }, key, protocol, extensions, context);
              });
            },
            (error: unknown) => {
              report(error);
              if (!aborted) writeReply(res, jsonError(500, 'INTERNAL', 'upgrade failed'), false);
            },
          );
      },
      open(ws) {
        const ud = ws.getUserData();
        sockets.add(ws);
        // Frames go out at the end of the turn, one cork per socket (uws-socket-port.ts).
        const queued = queuedPort(ws, () => ud.closed, later, handler.written);
        const port = queued.port;
        ud.lost = queued.lost;
        ud.port = port;
        try {
          handler.open(port, ud.data);
        } catch (error) {
          report(error);
        }
      },
      message(ws, message, isBinary) {
        const ud = ws.getUserData();
        if (ud.port === undefined) return;
        if (message.byteLength > maxPayload) {
          // Reported to the handler by close() (code 1009), as the ws transport does.
          ud.port.end(1009, 'message too big');
          return;
        }
        try {
          handler.message(ud.port, isBinary ? null : text(message), message.byteLength);
        } catch (error) {
          report(error);
        }
      },
      drain(ws) {
        const ud = ws.getUserData();
        if (ud.port === undefined) return;
        try {
          handler.drain(ud.port);
        } catch (error) {
          report(error);
        }
      },
      close(ws, code, message) {
        const ud = ws.getUserData();
        ud.closed = true;
        sockets.delete(ws);
        if (ud.port === undefined) return;
        try {
          handler.close(ud.port, closeInfo(code, message));
        } catch (error) {
          report(error);
        }
        try {
          // After close(): the chat layer has let the connection go, so what was still queued
          // counts as frames for a closed socket.
          ud.lost?.();
        } catch (error) {
          report(error);
        }
      },
    });
  }

  app.any('/*', (res, req) => {
    const started = performance.now();
    let aborted = false;
    let method = '';
    let route = UNMATCHED_ROUTE;
    res.onAborted(() => {
      aborted = true;
    });
    // Every reply of this request goes out here, so every one is counted once.
    const answer = (reply: HttpReply, head: boolean): void => {
      writeReply(res, reply, head);
      router.answered(route, method, reply.status, started);
    };
    try {
      method = req.getCaseSensitiveMethod().toUpperCase();
      const headers = copyHeaders(req);
      const { path, query } = splitUrl(req.getUrl(), req.getQuery());
      const remoteAddress = clientAddress(text(res.getRemoteAddressAsText()), headers.get('x-forwarded-for'));
      const head = method === 'HEAD';
      const matched = router.match(method, path);
      route = matched.route;
      if ('status' in matched) {
        answer(matched, head);
        return;
      }
      const run = (body: string): void => {
        const request: HttpRequest = {
          method,
          path,
          query,
          header: (name) => headers.get(name),
          params: matched.params,
          body,
          remoteAddress,
        };
        Promise.resolve()
          .then(() => matched.handler(request))
          .then(
            (reply) => {
              if (!aborted) answer(reply, head);
            },
            (error: unknown) => {
              report(error);
              if (!aborted) answer(jsonError(500, 'INTERNAL', 'internal error'), head);
            },
          );
      };
      if (method !== 'POST' && method !== 'PUT') {
        run('');
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      res.onData((chunk, isLast) => {
        if (refused) return;
        size += chunk.byteLength;
        if (size > maxBody) {
          refused = true;
          if (!aborted) answer(jsonError(413, 'TOO_LARGE', `request body over ${maxBody} bytes`), false);
          return;
        }
        // The ArrayBuffer is only valid during this callback: Buffer.from(buffer) copies it.
        chunks.push(Buffer.from(Buffer.from(chunk)));
        if (isLast) run(Buffer.concat(chunks).toString('utf8'));
      });
    } catch (error) {
      report(error);
      if (!aborted) answer(jsonError(500, 'INTERNAL', 'internal error'), false);
    }
  });

  return new Promise((resolve, reject) => {
    app.listen(options.host, options.port, (listenSocket: us_listen_socket | false) => {
      if (listenSocket === false) {
        reject(new Error(`uWebSockets.js could not listen on ${options.host}:${options.port}`));
        return;
      }
      let listening: us_listen_socket | undefined = listenSocket;
      const stopListening = (): void => {
        if (listening !== undefined) uws.us_listen_socket_close(listening);
        listening = undefined;
      };
      resolve({
        transport: 'uws',
        host: options.host,
        port: uws.us_socket_local_port(listenSocket),
        stopListening,
        async close() {
          stopListening();
          for (const ws of [...sockets]) {
            if (!ws.getUserData().closed) ws.close();
          }
        },
      });
    });
  });
}
