// How delivery counts a frame from what the transport says became of it, at once (the `ws`
// transport) or when the transport wrote it (uWS, SEND_QUEUED then written()): sent and buffered
// are sends; dropped is backpressure on an open socket and counts towards closing it; closed, or
// any outcome for a socket already gone, is a drop for a closed socket and never a send.
import { describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachRecorder } from '../../src/events/recorder.js';
import { createDelivery } from '../../src/ws/delivery.js';
import { ConnectionRegistry } from '../../src/ws/connections.js';
import { SEND_BUFFERED, SEND_CLOSED, SEND_DROPPED, SEND_QUEUED, SEND_SENT, type SendStatus, type SocketPort } from '../../src/ws/port.js';
import { sessionFrame } from '../../src/router/server-frames.js';

const principal = { userId: 'u', name: 'u', roles: [], isAdmin: false };

function setup(answer: () => SendStatus) {
  const bus = createBus();
  const recorder = attachRecorder(bus, { only: ['messageSent', 'messageDropped', 'messageFailed', 'connectionClosed'] });
  const registry = new ConnectionRegistry();
  const ended: number[] = [];
  const port: SocketPort = {
    send: answer,
    bufferedAmount: () => 0,
    end: (code) => ended.push(code),
    terminate: () => {},
  };
  const conn = registry.add(port, principal, 0, 'demo');
  const delivery = createDelivery({ bus, registry, transport: 'uws', maxBackpressureBytes: 1 << 20, now: () => 0 });
  return { recorder, registry, conn, delivery, ended };
}

const frame = sessionFrame('s', { type: 'ai_response', sender: 'ai', content: 'hi', metadata: { streaming: 'true', done: 'false' } });

describe('delivery counts what became of a frame', () => {
  it('counts a queued frame only when the transport reports it', () => {
    const { recorder, conn, delivery } = setup(() => SEND_QUEUED);
    delivery.send(conn, frame);
    expect(recorder.of('messageSent')).toHaveLength(0);
    delivery.written(conn, SEND_SENT, 10);
    expect(recorder.of('messageSent')).toEqual([{ bytes: 10 }]);
    delivery.written(conn, SEND_BUFFERED, 12);
    expect(recorder.of('messageSent')).toHaveLength(2);
    expect(recorder.of('messageDropped')).toHaveLength(0);
  });

  it('a frame for a closed socket is a drop (closed) and a SEND_FAILED, never a send', () => {
    const { recorder, registry, conn, delivery } = setup(() => SEND_CLOSED);
    delivery.send(conn, frame); // the `ws` transport: closing, refused at once
    registry.remove(conn);
    delivery.written(undefined, SEND_CLOSED, 5); // uWS: lost at the close, reported after it
    delivery.written(undefined, SEND_DROPPED, 5); // an outcome for a socket already gone
    expect(recorder.of('messageSent')).toHaveLength(0);
    expect(recorder.of('messageDropped')).toEqual([{ reason: 'closed' }, { reason: 'closed' }, { reason: 'closed' }]);
    expect(recorder.of('messageFailed')).toEqual(Array(3).fill({ code: 'SEND_FAILED' }));
    expect(conn.drops).toBe(0);
  });

  it('dropped on an open socket is backpressure; 64 in a row close it, a send in between resets the count', () => {
    const { recorder, conn, delivery, ended } = setup(() => SEND_QUEUED);
    for (let i = 0; i < 63; i++) delivery.written(conn, SEND_DROPPED, 5);
    expect(conn.drops).toBe(63);
    delivery.written(conn, SEND_SENT, 5);
    expect(conn.drops).toBe(0);
    for (let i = 0; i < 64; i++) delivery.written(conn, SEND_DROPPED, 5);
    expect(recorder.of('messageDropped').every((d) => d.reason === 'backpressure')).toBe(true);
    expect(ended).toEqual([1013]);
    expect(recorder.of('connectionClosed').map((c) => c.reason)).toEqual(['backpressure']);
  });
});
