// The uWebSockets.js transport: HTTP routes and the chat WebSocket (uws-socket.ts) on one port.
// The only modules (with uws-native.ts) that import uWebSockets.js are these uws-* files.
//
// uWS rules followed here: everything needed from HttpRequest is copied synchronously; onAborted
// is set before the first await and checked after it; every write after an await is corked; no
// exception crosses a uWS callback.
import { Buffer } from 'node:buffer';
import type { HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { uws } from './uws-native.js';
import { performance } from 'node:perf_hooks';
import { UNMATCHED_ROUTE } from '../events/catalog.js';
import type { ClientAddress } from './client-address.js';
import type { HttpObserver } from './observe.js';
import { createRouter, jsonError, safeReporter, type HttpReply, type HttpRequest, type Route } from './routes.js';
import { copyHeaders, splitUrl, text, write } from './uws-request.js';
import { mountSocket, type SocketMount } from './uws-socket.js';

export interface ServerOptions<T> {
  readonly host: string;
  readonly port: number;
  readonly routes: readonly Route[];
  /** The chat WebSocket, if this server carries one. */
  readonly socket?: SocketMount<T>;
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

export function startUwsServer<T>(options: ServerOptions<T>): Promise<RunningServer> {
  const app: TemplatedApp = uws.App();
  const router = createRouter(options.routes, options.observe);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const report = safeReporter(options.onError);
  const clientAddress: ClientAddress = options.clientAddress ?? ((peer) => peer);
  const base = options.headers ?? {};
  const writeReply = (res: HttpResponse, reply: HttpReply, head: boolean): void => write(res, reply, head, base);

  const closeSockets = options.socket === undefined ? () => {} : mountSocket(app, options.socket, { report, clientAddress, writeReply });

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
          closeSockets();
        },
      });
    });
  });
}
