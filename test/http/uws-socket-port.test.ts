// The uWS socket port against a model: whatever the order of sends, ends of turn, closes by either
// side and uWS's answers, every queued frame is reported exactly once, in order; a frame is
// reported sent, buffered or dropped exactly when uWS's send() took it, and closed when it never
// reached uWS; and nothing touches the socket after it closed (uWS.js throws then).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'uWebSockets.js';
import { queuedPort } from '../../src/http/uws-socket-port.js';
import { SEND_BUFFERED, SEND_CLOSED, SEND_DROPPED, SEND_QUEUED, SEND_SENT, type SendOutcome } from '../../src/ws/port.js';

/** What the port may call on a uWS socket; every call after the close throws, as in uWS.js. */
class FakeSocket {
  closed = false;
  readonly taken: string[] = [];
  /** What send() answers next (then SENT). */
  readonly answers: SendOutcome[] = [];
  onClose: () => void = () => {};
  private live(): void {
    if (this.closed) throw new Error('Invalid access of closed uWS.WebSocket/SSLWebSocket.');
  }
  send(text: string): number {
    this.live();
    this.taken.push(text);
    return this.answers.shift() ?? SEND_SENT;
  }
  cork(cb: () => void): void {
    this.live();
    cb();
  }
  getBufferedAmount(): number {
    this.live();
    return 0;
  }
  /** uWS runs the close handler inside end() and close(). */
  end(): void {
    this.live();
    this.shut();
  }
  close(): void {
    this.live();
    this.shut();
  }
  shut(): void {
    this.closed = true;
    this.onClose();
  }
}

type Op =
  | { readonly op: 'send' }
  | { readonly op: 'turn' }
  | { readonly op: 'peer-close' }
  | { readonly op: 'end' }
  | { readonly op: 'terminate' }
  | { readonly op: 'answer'; readonly status: SendOutcome };

const ops: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.constant<Op>({ op: 'send' }) },
    { weight: 3, arbitrary: fc.constant<Op>({ op: 'turn' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'peer-close' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'end' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'terminate' }) },
    { weight: 2, arbitrary: fc.constantFrom(SEND_SENT, SEND_BUFFERED, SEND_DROPPED).map((status): Op => ({ op: 'answer', status })) },
  ),
  { maxLength: 60 },
);

describe('the uWS socket port', () => {
  it('reports every queued frame once, in order, as what became of it', () => {
    fc.assert(
      fc.property(ops, fc.boolean(), (script, endOnDrop) => {
        const ws = new FakeSocket();
        let closed = false;
        const flushes: (() => void)[] = [];
        const reports: { status: SendOutcome }[] = [];
        const accepted: string[] = [];
        let n = 0;
        const q = queuedPort(
          ws as unknown as WebSocket<unknown>,
          () => closed,
          (flush) => flushes.push(flush),
          (port, status, bytes) => {
            reports.push({ status });
            expect(bytes).toBeGreaterThan(0);
            // The chat layer closes a congested socket from inside a report.
            if (endOnDrop && status === SEND_DROPPED) port.end(1013, 'send buffer full');
          },
        );
        // uWS's close handler: the flag first, then the chat layer, then the queue is lost.
        ws.onClose = () => {
          closed = true;
          q.lost();
        };
        const runTurn = (): void => {
          for (const f of flushes.splice(0)) f();
        };
        for (const step of script) {
          switch (step.op) {
            case 'send': {
              const text = `frame ${n++}`;
              const status = q.port.send(text);
              if (closed) expect(status).toBe(SEND_CLOSED);
              else {
                expect(status).toBe(SEND_QUEUED);
                accepted.push(text);
              }
              break;
            }
            case 'turn':
              runTurn();
              break;
            case 'peer-close':
              if (!closed) ws.shut();
              break;
            case 'end':
              q.port.end(1000, 'bye');
              break;
            case 'terminate':
              q.port.terminate();
              break;
            case 'answer':
              ws.answers.push(step.status);
              break;
          }
        }
        runTurn();
        if (!closed) ws.shut();
        runTurn();
        // Once each, in order: the nth report is the nth accepted frame.
        expect(reports).toHaveLength(accepted.length);
        // Taken by uWS: exactly the frames reported sent, buffered or dropped, in send order.
        const handed = reports.flatMap((r, i) => (r.status === SEND_CLOSED ? [] : [accepted[i]]));
        expect(ws.taken).toEqual(handed);
        // After the first frame lost to the close, none reached uWS.
        const firstClosed = reports.findIndex((r) => r.status === SEND_CLOSED);
        if (firstClosed >= 0) expect(reports.slice(firstClosed).every((r) => r.status === SEND_CLOSED)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('writes a turn of frames in one cork and counts the queued bytes as buffered', () => {
    const ws = new FakeSocket();
    let corks = 0;
    const cork = ws.cork.bind(ws);
    ws.cork = (cb) => {
      corks++;
      cork(cb);
    };
    const flushes: (() => void)[] = [];
    const statuses: SendOutcome[] = [];
    const q = queuedPort(ws as unknown as WebSocket<unknown>, () => ws.closed, (f) => flushes.push(f), (_p, s) => statuses.push(s));
    for (const t of ['a', 'bb', 'ccc']) expect(q.port.send(t)).toBe(SEND_QUEUED);
    // One flush per socket per turn, whatever the number of frames.
    expect(flushes).toHaveLength(1);
    expect(q.port.bufferedAmount()).toBe(6);
    expect(statuses).toEqual([]);
    flushes[0]?.();
    expect(corks).toBe(1);
    expect(ws.taken).toEqual(['a', 'bb', 'ccc']);
    expect(statuses).toEqual([SEND_SENT, SEND_SENT, SEND_SENT]);
    expect(q.port.bufferedAmount()).toBe(0);
  });
});
