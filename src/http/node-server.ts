// The portable transport: the same routes and the same chat socket handler over node:http and
// the `ws` package (TRANSPORT=ws), for platforms where the native uWS binary does not load.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { performance } from 'node:perf_hooks';
import { answerHeaders, createRouter, jsonError, replyBody, replyLength, safeReporter, statusLine, type HttpReply, type HttpRequest } from './routes.js';
import type { RunningServer, ServerOptions } from './uws-server.js';
import { SEND_BUFFERED, SEND_CLOSED, SEND_SENT, type SendStatus, type SocketPort } from '../ws/port.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

function write(res: ServerResponse, reply: HttpReply, head: boolean, base: Readonly<Record<string, string>>): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(reply.status, { ...answerHeaders(reply, base), 'content-length': String(replyLength(reply)) });
  res.end(head ? undefined : replyBody(reply));
}

function refuseUpgrade(socket: Duplex, reply: HttpReply): void {
  const body = Buffer.from(reply.body);
  const headers = Object.entries(answerHeaders(reply)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${statusLine(reply.status)}\r\n${headers}content-length: ${body.length}\r\nconnection: close\r\n\r\n${reply.body}`);
}

const splitUrl = (url: string | undefined): { path: string; query: URLSearchParams } => {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q === -1 ? { path: raw, query: new URLSearchParams() } : { path: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
};

const headerOf = (req: IncomingMessage) => (name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

export function startNodeServer<T>(options: ServerOptions<T>): Promise<RunningServer> {
  const router = createRouter(options.routes, options.observe);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const report = safeReporter(options.onError);
  const clientAddress = options.clientAddress ?? ((peer: string) => peer);
  const addressOf = (req: IncomingMessage): string => clientAddress(req.socket.remoteAddress ?? '', headerOf(req)('x-forwarded-for'));
  const base = options.headers ?? {};
  const writeReply = (res: ServerResponse, reply: HttpReply, head: boolean): void => write(res, reply, head, base);

  const server = createServer((req, res) => {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const { path, query } = splitUrl(req.url);
    const head = method === 'HEAD';
    const matched = router.match(method, path);
    // Every reply of this request goes out here, so every one is counted once.
    const answer = (reply: HttpReply, h: boolean): void => {
      if (res.headersSent || res.destroyed) return;
      writeReply(res, reply, h);
      router.answered(matched.route, method, reply.status, started);
    };
    if ('status' in matched) {
      req.resume();
      answer(matched, head);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBody) {
        refused = true;
        answer(jsonError(413, 'TOO_LARGE', `request body over ${maxBody} bytes`), false);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', report);
    req.on('end', () => {
      if (refused) return;
      const request: HttpRequest = {
        method,
        path,
        query,
        header: headerOf(req),
        params: matched.params,
        body: Buffer.concat(chunks).toString('utf8'),
        remoteAddress: addressOf(req),
      };
      Promise.resolve()
        .then(() => matched.handler(request))
        .then(
          (reply) => answer(reply, head),
          (error: unknown) => {
            report(error);
            answer(jsonError(500, 'INTERNAL', 'internal error'), head);
          },
        );
    });
  });

  const sockets = new Set<WebSocket>();
  let pingTimer: NodeJS.Timeout | undefined;

  if (options.socket !== undefined) {
    const { handler, limits, path: wsPath } = options.socket;
    // Compression off and limits explicit, as on uWS.
    const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayloadBytes, perMessageDeflate: false });
    const alive = new WeakMap<WebSocket, boolean>();
    const idle = new WeakSet<WebSocket>();

    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', report);
      const { path, query } = splitUrl(req.url);
      if (path !== wsPath) {
        refuseUpgrade(socket, jsonError(404, 'NOT_FOUND', `no WebSocket endpoint at ${path}`));
        return;
      }
      Promise.resolve()
        .then(() => handler.upgrade({ path, query, header: headerOf(req), remoteAddress: addressOf(req) }))
        .then(
          (result) => {
            if (socket.destroyed) return;
            if (!result.ok) {
              refuseUpgrade(socket, jsonError(result.status, result.code, result.message, result.headers));
              return;
            }
            wss.handleUpgrade(req, socket, head, (ws) => {
              sockets.add(ws);
              alive.set(ws, true);
              const port: SocketPort = {
                send(message: string): SendStatus {
                  if (ws.readyState !== ws.OPEN) return SEND_CLOSED;
                  ws.send(message);
                  return ws.bufferedAmount > limits.maxBackpressureBytes ? SEND_BUFFERED : SEND_SENT;
                },
                bufferedAmount: () => ws.bufferedAmount,
                end: (code, reason) => ws.close(code, reason),
                terminate: () => ws.terminate(),
              };
              ws.on('pong', () => alive.set(ws, true));
              ws.on('message', (data: Buffer, isBinary: boolean) => {
                try {
                  handler.message(port, isBinary ? null : data.toString('utf8'), data.length);
                } catch (error) {
                  report(error);
                }
              });
              let tooLarge = false;
              ws.on('close', (code: number) => {
                sockets.delete(ws);
                try {
                  handler.close(port, tooLarge ? { code: 1009, abrupt: false } : { code, abrupt: code === 1006, idle: idle.has(ws) });
                } catch (error) {
                  report(error);
                }
              });
              ws.on('error', (error: Error & { code?: string }) => {
                // 'close' follows; remember why, since the socket is destroyed without a close frame.
                if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooLarge = true;
              });
              try {
                handler.open(port, result.data);
              } catch (error) {
                report(error);
              }
            });
          },
          (error: unknown) => {
            report(error);
            if (!socket.destroyed) refuseUpgrade(socket, jsonError(500, 'INTERNAL', 'upgrade failed'));
          },
        );
    });

    // Heartbeat: a socket that missed a whole ping interval is dropped (reason `idle`).
    const intervalMs = Math.max(1000, (limits.idleTimeoutSeconds * 1000) / 2);
    pingTimer = setInterval(() => {
      for (const ws of sockets) {
        if (alive.get(ws) === false) {
          idle.add(ws);
          ws.terminate();
          continue;
        }
        alive.set(ws, false);
        ws.ping();
      }
    }, intervalMs);
    pingTimer.unref();
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      server.on('error', report);
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      let listening = true;
      const stopListening = (): void => {
        if (!listening) return;
        listening = false;
        server.close();
      };
      resolve({
        transport: 'ws',
        host: options.host,
        port,
        stopListening,
        async close() {
          stopListening();
          clearInterval(pingTimer);
          // Give sockets the chat layer is closing (1001) a moment to finish the handshake.
          const deadline = Date.now() + 1000;
          while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          for (const ws of sockets) ws.terminate();
          server.closeAllConnections();
        },
      });
    });
  });
}
