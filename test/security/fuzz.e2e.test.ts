// Fuzzing below the frame parser, over real sockets on both transports: random bytes as frame
// payloads (text and binary), random bytes on the wire after a handshake, and random HTTP
// request lines and headers. The only answers allowed are typed error frames, WebSocket closes,
// well-formed HTTP answers or a closed connection; the server keeps serving throughout.
// Counts and per-exchange waits are bounded so each run stays within a few seconds.
import fc from 'fast-check';
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { connectClient, type TestClient } from '../support/ws-client.js';
import { rawExchange, wellFormedAnswers } from './support.js';

const WS_CLOSE_CODES = new Set([1002, 1005, 1006, 1007, 1009]);

async function healthy(s: TestServer): Promise<void> {
  expect((await fetch(`${s.app.url}/chatbox/healthz`)).status).toBe(200);
}

describe.each(['uws', 'ws'] as const)('fuzzing over %s', (transport) => {
  let s: TestServer;
  let token: string;
  beforeAll(async () => {
    s = await startTestServer({ transport, env: { MAX_MESSAGE_BYTES: '4096', RATE_LIMIT_PER_MINUTE: '100000' } });
    token = await s.token('fuzzer');
  });
  afterAll(async () => {
    await s.stop();
  });

  it('random frame payloads get an error frame or a close, never a crash', async () => {
    let client: TestClient | undefined;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (bytes, asText) => {
        client ??= await connectClient(`${s.app.wsUrl}?token=${token}`);
        const c = client;
        const from = c.frames.length;
        c.socket.send(Buffer.from(bytes), { binary: !asText });
        const outcome = await Promise.race([
          c.next((f) => f.type === 'error' || f.type === 'connection_status' || f.type === 'typing_indicator', { from, timeoutMs: 3000 }).then((f) => f.type),
          c.closed.then((x) => x.code),
        ]);
        if (typeof outcome === 'number') {
          expect(WS_CLOSE_CODES.has(outcome), `close code ${outcome}`).toBe(true);
          client = undefined;
        }
      }),
      { numRuns: 60 },
    );
    client?.terminate();
    await healthy(s);
  }, 60_000);

  it('random bytes on the wire after the handshake are closed on or ignored, and harm nobody', async () => {
    const bystander = await connectClient(`${s.app.wsUrl}?token=${await s.token('bystander')}`);
    const port = s.app.server.port;
    const path = `/chatbox/ws?token=${token}`;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const handshake = Buffer.from(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.from('0123456789abcdef').toString('base64')}\r\n\r\n`,
        );
        await new Promise<void>((resolve) => {
          const sock = netConnect({ host: '127.0.0.1', port });
          const done = (): void => {
            clearTimeout(timer);
            sock.destroy();
            resolve();
          };
          const timer = setTimeout(done, 300);
          let upgraded = false;
          sock.on('data', (d: Buffer) => {
            if (!upgraded && d.toString('latin1').startsWith('HTTP/1.1 101')) {
              upgraded = true;
              sock.write(bytes);
            }
          });
          sock.on('error', () => {});
          sock.on('close', done);
          sock.write(handshake);
        });
      }),
      { numRuns: 40 },
    );
    bystander.send({ type: 'user_message', content: 'unbothered' });
    expect(await bystander.reply()).toContain('unbothered');
    bystander.terminate();
    await healthy(s);
  }, 60_000);

  const token_ = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
  const anyText = fc.string({ unit: 'binary', maxLength: 80 });
  const requestLine = fc.tuple(
    fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'), token_, anyText),
    fc.oneof(
      fc.constantFrom('/chatbox/healthz', '/metrics', '/chatbox/sessions', '/chatbox/sessions/%ZZ', '/chatbox/ws', '*', '/../../etc/passwd'),
      fc.webPath(),
      anyText,
    ),
    fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 extra', '', 'HTTX/1.1'),
  );
  const header = fc.tuple(fc.oneof(token_, anyText, fc.constantFrom('Content-Length', 'Transfer-Encoding', 'Host', 'Upgrade', 'Authorization', 'X-Forwarded-For')), fc.oneof(anyText, fc.constantFrom('-1', '99999999999', 'chunked', 'websocket', 'Bearer a.b.c', '1.2.3.4, garbage')));

  it('random request lines and headers get a well-formed HTTP answer or a close', async () => {
    await fc.assert(
      fc.asyncProperty(requestLine, fc.array(header, { maxLength: 6 }), fc.boolean(), async ([method, target, version], headers, lf) => {
        const eol = lf ? '\n' : '\r\n';
        const head = [`${method} ${target} ${version}`, 'Host: 127.0.0.1', ...headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close'].join(eol);
        const { data } = await rawExchange(s.app.server.port, Buffer.from(`${head}${eol}${eol}`, 'latin1'), 150);
        expect(wellFormedAnswers(data), JSON.stringify(data.toString('latin1').slice(0, 200))).toBe(true);
      }),
      { numRuns: 60 },
    );
    await healthy(s);
  }, 60_000);
});
