// What the chat layer sees of a WebSocket, whatever transport carries it. The uWS and the `ws`
// servers in src/http adapt their sockets to this, so the handler logic exists once.
import type { ErrorCode } from '../events/catalog.js';

/**
 * ws.send() outcome, as uWS reports it: 1 sent, 0 buffered (backpressure), 2 dropped (over the
 * backpressure limit); and ours: 3 queued (the transport writes the frame at the end of the
 * event-loop turn and reports its real outcome then, through SocketHandler.written), 4 closed (the
 * socket is closed or closing: the frame cannot go).
 */
export type SendStatus = 0 | 1 | 2 | 3 | 4;
export const SEND_BUFFERED = 0;
export const SEND_SENT = 1;
export const SEND_DROPPED = 2;
export const SEND_QUEUED = 3;
export const SEND_CLOSED = 4;
/** What became of a frame in the end. */
export type SendOutcome = Exclude<SendStatus, typeof SEND_QUEUED>;

export interface SocketPort {
  send(text: string): SendStatus;
  /** Bytes waiting in the send buffer. */
  bufferedAmount(): number;
  /** Graceful close with a code (1000, 1001, 1008, 1009...). */
  end(code: number, reason: string): void;
  /** Drops the connection without a close handshake. */
  terminate(): void;
}

export interface UpgradeRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly header: (name: string) => string | undefined;
  readonly remoteAddress: string;
}

export type UpgradeResult<T> =
  | { readonly ok: true; readonly data: T }
  | {
      readonly ok: false;
      readonly status: number;
      readonly code: ErrorCode;
      readonly message: string;
      /** Extra answer headers (`retry-after` on a 429). */
      readonly headers?: Readonly<Record<string, string>>;
    };

/** How a socket ended, as the transport saw it. */
export interface CloseInfo {
  readonly code: number;
  /** The transport saw the TCP connection go without a close frame. */
  readonly abrupt: boolean;
  /** The transport closed it for not answering pings / staying idle. */
  readonly idle?: boolean;
}

export interface SocketHandler<T> {
  /** Decides before the upgrade (authentication, origin); may be async. */
  upgrade(req: UpgradeRequest): UpgradeResult<T> | Promise<UpgradeResult<T>>;
  open(socket: SocketPort, data: T): void;
  /** `text` is null for a binary frame. */
  message(socket: SocketPort, text: string | null, bytes: number): void;
  /** The send buffer has room again. */
  drain(socket: SocketPort): void;
  /**
   * What became of a frame that send() queued: written (sent or buffered), dropped, or closed
   * (the socket closed before the end of its turn; reported after close()). Once per queued frame.
   */
  written(socket: SocketPort, status: SendOutcome, bytes: number): void;
  close(socket: SocketPort, info: CloseInfo): void;
}

/** Settings every transport applies explicitly. */
export interface SocketLimits {
  readonly maxPayloadBytes: number;
  readonly maxBackpressureBytes: number;
  readonly idleTimeoutSeconds: number;
}
