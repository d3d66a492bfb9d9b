// Sending frames to sockets, and the one place a socket leaves the registry. Every frame handed
// to a socket is a messageSent; every frame that cannot be is a messageDropped (and a
// messageFailed SEND_FAILED, since the contract counts delivery failures as message errors).
import type { Bus } from '../events/bus.js';
import type { CloseReason, Transport } from '../events/catalog.js';
import type { ServerFrame } from '../protocol/frames.js';
import { frameText } from '../protocol/frame-text.js';
import type { Connection, ConnectionRegistry } from './connections.js';
import { SEND_CLOSED, SEND_DROPPED, SEND_QUEUED, SEND_SENT, type SendOutcome } from './port.js';

/** Consecutive drops after which a congested socket is closed (reason `backpressure`). */
const MAX_CONSECUTIVE_DROPS = 64;

export interface Delivery {
  send(conn: Connection, frame: ServerFrame): void;
  /** Serialises once and sends to every connection but `except`. */
  sendAll(conns: Iterable<Connection>, frame: ServerFrame, except?: Connection): void;
  /** As sendAll, for a frame already serialised (one that came from another replica). */
  sendTextAll(conns: Iterable<Connection>, text: string, except?: Connection | number): void;
  /** The outcome of a frame the transport queued (SEND_QUEUED), counted when it is known. */
  written(conn: Connection | undefined, status: SendOutcome, bytes: number): void;
  /** Server-initiated close: leaves the registry now (so gauges are exact at once), then ends the socket. */
  close(conn: Connection, reason: CloseReason, code: number, text: string): void;
  /** Records that a socket is gone, once; later calls for the same socket do nothing. */
  closed(conn: Connection, reason: CloseReason): void;
}

export function createDelivery(options: {
  bus: Bus;
  registry: ConnectionRegistry;
  transport: Transport;
  maxBackpressureBytes: number;
  now: () => number;
}): Delivery {
  const { bus, registry, transport, maxBackpressureBytes, now } = options;

  function closed(conn: Connection, reason: CloseReason): void {
    if (!registry.remove(conn)) return;
    bus.emit('connectionClosed', {
      role: conn.role,
      transport,
      reason,
      durationSeconds: (now() - conn.openedAt) / 1000,
      open: registry.size,
    });
  }

  function close(conn: Connection, reason: CloseReason, code: number, text: string): void {
    if (conn.closed) return;
    conn.closeReason = reason;
    closed(conn, reason);
    conn.port.end(code, text);
  }

  function drop(conn: Connection | undefined, reason: 'backpressure' | 'closed'): void {
    bus.emit('messageDropped', { reason });
    bus.emit('messageFailed', { code: 'SEND_FAILED' });
    if (conn !== undefined && reason === 'backpressure' && ++conn.drops >= MAX_CONSECUTIVE_DROPS) {
      close(conn, 'backpressure', 1013, 'send buffer full');
    }
  }

  function sendText(conn: Connection, text: string): void {
    if (conn.closed) {
      drop(conn, 'closed');
      return;
    }
    // A slow reader gets its frames dropped rather than buffered without bound.
    if (conn.port.bufferedAmount() > maxBackpressureBytes) {
      drop(conn, 'backpressure');
      return;
    }
    const status = conn.port.send(text);
    // A queued frame is counted when the transport writes it (written()): one the socket never
    // got, because it closed before the end of the turn, is a drop and not a send.
    if (status !== SEND_QUEUED) written(conn, status, text.length);
  }

  function written(conn: Connection | undefined, status: SendOutcome, bytes: number): void {
    if (status === SEND_CLOSED || status === SEND_DROPPED) {
      drop(conn, status === SEND_CLOSED || conn === undefined || conn.closed ? 'closed' : 'backpressure');
      return;
    }
    if (status === SEND_SENT && conn !== undefined) conn.drops = 0;
    bus.emit('messageSent', { bytes });
  }

  return {
    send(conn, frame) {
      sendText(conn, frameText(frame));
    },
    sendAll(conns, frame, except) {
      let text: string | undefined;
      for (const conn of conns) {
        if (conn === except) continue;
        text ??= frameText(frame);
        sendText(conn, text);
      }
    },
    sendTextAll(conns, text, except) {
      for (const conn of conns) if (conn !== except && conn.id !== except) sendText(conn, text);
    },
    written,
    close,
    closed,
  };
}
