// The chat WebSocket: authentication before the upgrade, then for every frame: count it, rate
// limit it, parse and validate it, and hand it to the router in arrival order. Bad input gets a
// typed error frame and a messageFailed; the socket stays open.
import type { AuthGate } from '../auth/gate.js';
import type { Authenticator, Principal } from '../auth/jwt.js';
import { isAuthError, tokenFrom } from '../auth/jwt.js';
import type { Bus } from '../events/bus.js';
import type { ErrorCode, Transport } from '../events/catalog.js';
import { ERROR_CODES } from '../events/catalog.js';
import { isChatboxError } from '../errors.js';
import type { ChatRouter } from '../router/chat-router.js';
import { clientFrameSchema, describeIssues, errorFrame } from '../protocol/frames.js';
import { RetryLaterError } from '../router/help-request.js';
import { isSessionId } from '../storage/validate.js';
import type { LimitDecision, Limiter } from '../cluster/limiter.js';
import type { Connection, ConnectionRegistry } from './connections.js';
import type { Delivery } from './delivery.js';
import type { SocketHandler, UpgradeResult } from './port.js';

export interface UpgradeData {
  readonly principal: Principal;
  readonly sessionId: string | undefined;
}

export interface ChatSocketOptions {
  readonly bus: Bus;
  readonly auth: Authenticator;
  readonly registry: ConnectionRegistry;
  readonly delivery: Delivery;
  readonly router: ChatRouter;
  /** The per-user frame limit; its state outlives sockets (and, shared, holds across replicas). */
  readonly limiter: Limiter;
  /** MAX_SOCKETS_PER_USER across the service: `count` is the user's open sockets everywhere. */
  readonly sockets: {
    readonly max: number;
    count(userId: string, local: number): Promise<number>;
    refused(userId: string, max: number): void;
  };
  /** Per-address upgrade and failed-authentication limits; none: unlimited. */
  readonly gate?: AuthGate;
  readonly transport: Transport;
  readonly corsOrigins: readonly string[];
  readonly maxMessageBytes: number;
  readonly defaultModel: () => string;
  readonly now: () => number;
  /** False while starting or shutting down: upgrades are refused with 503. */
  readonly accepting: () => boolean;
  readonly onInternalError?: (error: unknown) => void;
}

const WIRE_CODES: ReadonlySet<string> = new Set(ERROR_CODES);
/**
 * Frames one socket may have waiting behind a slow call (a store write, a call to another
 * replica). Past it a frame is refused at once and its text dropped, so a flood costs no memory.
 */
export const MAX_WAITING_FRAMES = 32;
const WAITING_RETRY_MS = 1000;
const ignore = (): void => {};

export function createChatSocketHandler(options: ChatSocketOptions): SocketHandler<UpgradeData> {
  const { bus, auth, registry, delivery, router, limiter, transport, now } = options;
  const schema = clientFrameSchema(options.maxMessageBytes);
  const origins = new Set(options.corsOrigins);

  // `recoverable` says whether this socket can go on: every refusal here leaves it open (the only
  // closes, 1009 and backpressure, send no error frame), whatever the error's retryability.
  function failFrame(conn: Connection, code: ErrorCode, message: string, retryAfterMs?: number): void {
    bus.emit('messageFailed', { code });
    delivery.send(
      conn,
      errorFrame(code, message, {
        recoverable: !conn.closed,
        sessionId: conn.sessionId,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      }),
    );
  }

  function onTaskError(conn: Connection, error: unknown): void {
    if (isChatboxError(error) && WIRE_CODES.has(error.code)) {
      failFrame(conn, error.code as ErrorCode, error.message, error instanceof RetryLaterError ? error.retryAfterMs : undefined);
      return;
    }
    options.onInternalError?.(error);
    failFrame(conn, 'INTERNAL', 'internal error; the frame was not processed');
  }

  function enqueue(conn: Connection, task: () => Promise<void>): void {
    conn.queue = conn.queue.then(task).catch((error: unknown) => onTaskError(conn, error));
  }

  return {
    async upgrade(req): Promise<UpgradeResult<UpgradeData>> {
      if (!options.accepting()) return { ok: false, status: 503, code: 'INTERNAL', message: 'server is not accepting connections' };
      const address = req.remoteAddress;
      const gate = options.gate;
      const refusal = await gate?.admit(address, 'socket');
      if (refusal !== undefined) {
        return { ok: false, status: 429, code: 'RATE_LIMITED', message: refusal.message, headers: { 'retry-after': String(Math.ceil(refusal.retryAfterMs / 1000)) } };
      }
      const origin = req.header('origin');
      if (origins.size > 0 && origin !== undefined && !origins.has(origin)) {
        await gate?.failed(address, 'origin', 'socket');
        return { ok: false, status: 403, code: 'FORBIDDEN', message: 'origin not allowed' };
      }
      const token = tokenFrom(req.header('authorization'), req.query);
      if (token === undefined || token === '') {
        await gate?.failed(address, 'missing', 'socket');
        return { ok: false, status: 401, code: 'UNAUTHORIZED', message: 'missing token' };
      }
      let principal: Principal;
      try {
        principal = await auth.verify(token);
      } catch (error) {
        await gate?.failed(address, isAuthError(error) ? error.reason : 'malformed', 'socket');
        return { ok: false, status: 401, code: 'UNAUTHORIZED', message: isChatboxError(error) ? error.message : 'invalid token' };
      }
      const open = await options.sockets.count(principal.userId, registry.ofUser(principal.userId).size);
      if (open >= options.sockets.max) {
        bus.emit('rateLimited', { limiter: 'sockets' });
        options.sockets.refused(principal.userId, options.sockets.max);
        return { ok: false, status: 429, code: 'RATE_LIMITED', message: `at most ${options.sockets.max} connections per user` };
      }
      const requested = req.query.get('session_id');
      if (requested !== null && requested !== '' && !isSessionId(requested)) {
        return { ok: false, status: 400, code: 'INVALID_MESSAGE', message: 'session_id must be 1-128 letters, digits, - or _' };
      }
      return { ok: true, data: { principal, sessionId: requested === null || requested === '' ? undefined : requested } };
    },

    open(port, data) {
      const conn = registry.add(port, data.principal, now(), options.defaultModel());
      bus.emit('connectionOpened', { role: conn.role, transport, open: registry.size });
      enqueue(conn, () => router.onOpen(conn, data.sessionId));
    },

    message(port, text, bytes) {
      bus.emit('messageReceived', { bytes });
      const conn = registry.get(port);
      if (conn === undefined) return;
      if (conn.waiting >= MAX_WAITING_FRAMES) {
        bus.emit('rateLimited', { limiter: 'frames' });
        failFrame(conn, 'RATE_LIMITED', 'too many frames waiting; slow down', WAITING_RETRY_MS);
        return;
      }
      // The limit is taken now, in arrival order (it may answer later, from Redis); the frame is
      // handled in the socket's queue, so frames keep their order.
      const decision = limiter.consume(conn.principal.userId);
      decision.catch(ignore); // read (and reported) by handleFrame
      conn.waiting++;
      // handleFrame reports its own errors: one promise per frame in the queue, not two.
      conn.queue = conn.queue.then(() => handleFrame(conn, text, decision));
    },

    drain(port) {
      const conn = registry.get(port);
      if (conn !== undefined) conn.drops = 0;
    },

    written(port, status, bytes) {
      delivery.written(registry.get(port), status, bytes);
    },

    close(port, info) {
      const conn = registry.get(port);
      if (conn === undefined) return; // the server closed it and already counted it
      let reason = conn.closeReason ?? (info.code === 1009 ? 'too_large' : info.abrupt ? 'abrupt' : 'client');
      if (info.idle === true) reason = 'idle';
      if (reason === 'too_large') {
        // The oversized frame never reached message(): count it here.
        bus.emit('messageReceived', { bytes: 0 });
        bus.emit('messageFailed', { code: 'TOO_LARGE' });
      }
      delivery.closed(conn, reason);
      router.onClose(conn);
    },
  };

  /** Never rejects: a frame's failure is answered on its socket (onTaskError), and the queue goes on. */
  async function handleFrame(conn: Connection, text: string | null, pending: Promise<LimitDecision>): Promise<void> {
    try {
      const routed = frame(conn, text, await pending);
      if (routed !== undefined) await routed;
    } catch (error) {
      onTaskError(conn, error);
    } finally {
      conn.waiting--;
    }
  }

  /** Refuses the frame (undefined) or hands it to the router (its promise, awaited by handleFrame). */
  function frame(conn: Connection, text: string | null, decision: LimitDecision): Promise<void> | undefined {
    if (!decision.allowed) {
      bus.emit('rateLimited', { limiter: 'frames' });
      failFrame(conn, 'RATE_LIMITED', 'too many frames; slow down', decision.retryAfterMs);
      return undefined;
    }
    if (text === null) {
      failFrame(conn, 'INVALID_MESSAGE', 'binary frames are not supported; send JSON text frames');
      return undefined;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      failFrame(conn, 'INVALID_JSON', 'the frame is not valid JSON');
      return undefined;
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      failFrame(conn, 'INVALID_MESSAGE', describeIssues(parsed.error));
      return undefined;
    }
    return router.onFrame(conn, parsed.data);
  }
}
