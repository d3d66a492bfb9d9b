// The chat WebSocket on a uWS app: the upgrade (decided by the chat layer after its awaits), and
// each socket's port (uws-socket-port.ts) and events handed to the transport-neutral handler.
//
// uWS rules followed here: everything needed from the upgrade request is copied synchronously;
// onAborted is set before the first await and checked after it; no exception crosses a uWS
// callback; a closed socket is marked before anything else runs.
import type { HttpResponse, TemplatedApp, WebSocket } from 'uWebSockets.js';
import { uws } from './uws-native.js';
import type { ClientAddress } from './client-address.js';
import { jsonError, type HttpReply } from './routes.js';
import { copyHeaders, splitUrl, text } from './uws-request.js';
import { flushScheduler, queuedPort } from './uws-socket-port.js';
import type { CloseInfo, SocketHandler, SocketLimits, SocketPort, UpgradeRequest } from '../ws/port.js';

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
  /** Reports the frames still queued when the socket closed (SEND_CLOSED: never handed to it). */
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

export interface SocketMount<T> {
  readonly path: string;
  readonly handler: SocketHandler<T>;
  readonly limits: SocketLimits;
}

export interface SocketContext {
  readonly report: (error: unknown) => void;
  readonly clientAddress: ClientAddress;
  readonly writeReply: (res: HttpResponse, reply: HttpReply, head: boolean) => void;
}

/** Mounts the chat WebSocket on `app`; returns what drops every socket still open (the server's close()). */
export function mountSocket<T>(app: TemplatedApp, mount: SocketMount<T>, ctx: SocketContext): () => void {
  const { handler, limits, path } = mount;
  const { report, clientAddress, writeReply } = ctx;
  // Every socket's flush of a turn runs from one setImmediate.
  const later = flushScheduler(report);
  const sockets = new Set<WebSocket<UserData<T>>>();
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
  return () => {
    for (const ws of [...sockets]) {
      if (!ws.getUserData().closed) ws.close();
    }
  };
}
