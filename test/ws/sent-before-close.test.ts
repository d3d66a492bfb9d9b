// chatbox_messages_sent_total counts frames handed to a client socket. A socket can close between
// the moment the chat layer sends a frame and the moment the transport writes it (uWS queues a
// turn's frames and writes them at its end): such a frame never reached the client and must count
// as dropped (reason closed), never as sent. Here a raw client sends a bad frame and its close
// frame in one write, so the server reads both in one go: the error frame it answers with is for a
// socket that is closing.
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { eventually, startTestServer } from '../support/server.js';

/** One masked client frame (RFC 6455 5.2), payload under 126 bytes. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** Server frames in `data` (unmasked), by opcode, up to and including a close frame. */
function serverOpcodes(data: Buffer): number[] {
  const codes: number[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const opcode = (data[at] as number) & 0x0f;
    let len = (data[at + 1] as number) & 0x7f;
    let head = 2;
    if (len === 126) {
      len = data.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      len = Number(data.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (at + head + len > data.length) break;
    codes.push(opcode);
    at += head + len;
    if (opcode === 8) break;
  }
  return codes;
}

/** Opens a WebSocket by hand; resolves with the socket and whatever came after the 101. */
function handshake(url: URL): Promise<{ socket: Socket; received: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const received: Buffer[] = [];
    let head: Buffer | undefined = Buffer.alloc(0);
    socket.once('error', reject);
    socket.on('data', (d: Buffer) => {
      if (head === undefined) {
        received.push(d);
        return;
      }
      const all: Buffer = Buffer.concat([head, d]);
      const end = all.indexOf('\r\n\r\n');
      head = all;
      if (end < 0) return;
      head = undefined;
      const status = all.subarray(0, end).toString('latin1');
      if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(status));
      received.push(all.subarray(end + 4));
      resolve({ socket, received });
    });
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

describe.each(['uws', 'ws'] as const)('a frame for a socket closing in the same read, over %s', (transport) => {
  it('counts as dropped (closed), not sent: the sent counter equals the frames the client got', async () => {
    const s = await startTestServer({ transport });
    try {
      const token = await s.token('closer');
      // Two sockets: the first keeps the server's upgrade path corked (see completeUpgrade).
      const other = await handshake(new URL(`${s.app.wsUrl}?token=${token}`));
      for (let round = 0; round < 5; round++) {
        const { socket, received } = await handshake(new URL(`${s.app.wsUrl}?token=${token}`));
        const closed = new Promise((r) => socket.once('close', r));
        // The server greets with connection_status; once it is here, the socket is registered.
        await eventually(() => expect(serverOpcodes(Buffer.concat(received))).toContain(1));
        const close = Buffer.alloc(2);
        close.writeUInt16BE(1000);
        // Not JSON: the server answers with an error frame, which the closing socket never reads.
        socket.write(Buffer.concat([clientFrame(1, Buffer.from('{not json')), clientFrame(8, close)]));
        await closed;
      }
      other.socket.destroy();
      await eventually(async () => expect(await s.metric('chatbox_websocket_connections_total')).toBe(0));
      // Five greetings reached the five closing sockets (and one the other); the five error
      // frames did not.
      expect(await s.metric('chatbox_messages_sent_total')).toBe(6);
      expect(await s.metric('chatbox_messages_dropped_total', { reason: 'closed' })).toBe(5);
      expect(await s.metric('chatbox_message_errors_total')).toBe(10); // five malformed, five SEND_FAILED
    } finally {
      await s.stop();
    }
  }, 30_000);
});
