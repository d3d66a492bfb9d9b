// The chat layer's SocketPort on a uWS WebSocket: frames are queued and written at the end of the
// event-loop turn, all of one socket's in one cork (one write syscall instead of one per frame: a
// reply's loading, chunk and done frames often come in the same turn). Sends happen after awaits,
// outside any uWS callback, so the flush is corked either way.
//
// What the chat layer counts stays exact. send() answers SEND_QUEUED and each frame's real outcome
// is reported when it is written (SocketHandler.written): a socket can close between a send and the
// end of its turn (the client's close frame or reset read in the same loop iteration), and a frame
// it never got is a drop, not a send. bufferedAmount counts the queued bytes, so the chat layer's
// backpressure check sees them.
import type { WebSocket } from 'uWebSockets.js';
import { SEND_CLOSED, SEND_QUEUED, type SendOutcome, type SendStatus, type SocketPort } from '../ws/port.js';

/** A queued frame's outcome: sent, buffered or dropped when written; closed when the socket closed first. */
export type Written = (port: SocketPort, status: SendOutcome, bytes: number) => void;

/**
 * Runs the queued flushes once, at the end of this event-loop turn (setImmediate: after the
 * I/O callbacks and the promise jobs they started, so the frames of one turn go together).
 */
export function flushScheduler(report: (error: unknown) => void): (flush: () => void) => void {
  let pending: (() => void)[] = [];
  let spare: (() => void)[] = [];
  const run = (): void => {
    const now = pending;
    pending = spare;
    for (let i = 0; i < now.length; i++) {
      try {
        (now[i] as () => void)();
      } catch (error) {
        report(error);
      }
    }
    now.length = 0;
    spare = now;
  };
  return (flush) => {
    if (pending.length === 0) setImmediate(run);
    pending.push(flush);
  };
}

export interface QueuedPort {
  readonly port: SocketPort;
  /** The socket closed (uWS's close handler ran): whatever is still queued is reported closed. */
  lost(): void;
}

/** `isClosed` reads the flag uWS's close handler sets before anything else runs. */
export function queuedPort(ws: WebSocket<unknown>, isClosed: () => boolean, later: (flush: () => void) => void, written: Written): QueuedPort {
  let queue: string[] = [];
  // The array a finished flush gives back, so a socket's turns reuse two arrays.
  let spare: string[] | undefined = [];
  let queuedBytes = 0;
  let port: SocketPort;

  /** Takes the queue; a new one takes its place. */
  const take = (): string[] => {
    const frames = queue;
    queue = spare ?? [];
    spare = undefined;
    queuedBytes = 0;
    return frames;
  };
  const recycle = (frames: string[]): void => {
    frames.length = 0;
    spare ??= frames;
  };
  const dropAll = (frames: string[]): void => {
    for (let i = 0; i < frames.length; i++) written(port, SEND_CLOSED, (frames[i] as string).length);
    recycle(frames);
  };

  const flush = (): void => {
    if (queue.length === 0) return;
    const frames = take();
    // Each frame is reported as soon as uWS took it (or not). A report can close the socket (a
    // congested one, after its drops): the frames after that are lost, and so reported.
    let done = 0;
    try {
      if (!isClosed()) {
        ws.cork(() => {
          while (done < frames.length && !isClosed()) {
            const text = frames[done++] as string;
            written(port, ws.send(text, false, false) as SendOutcome, text.length);
          }
        });
      }
    } finally {
      for (; done < frames.length; done++) written(port, SEND_CLOSED, (frames[done] as string).length);
      recycle(frames);
    }
  };

  port = {
    send(message: string): SendStatus {
      if (isClosed()) return SEND_CLOSED;
      if (queue.length === 0) later(flush);
      queue.push(message);
      queuedBytes += message.length;
      return SEND_QUEUED;
    },
    bufferedAmount: () => (isClosed() ? 0 : ws.getBufferedAmount() + queuedBytes),
    end(code, reason) {
      if (isClosed()) return;
      // The frames sent before the close go out before it.
      flush();
      if (!isClosed()) ws.end(code, reason);
    },
    terminate() {
      dropAll(take());
      if (!isClosed()) ws.close();
    },
  };
  return { port, lost: () => dropAll(take()) };
}
