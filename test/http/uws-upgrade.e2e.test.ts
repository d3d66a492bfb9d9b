// The asynchronous WebSocket upgrade on uWebSockets.js, with the real server (src/main.ts) as a
// child process. uWS v20.30's HttpResponse.cork(), after its callback has upgraded the socket,
// reads the HTTP response's state from memory that now belongs to the WebSocket (or to the heap
// block freed behind it) and, if those bytes read as "Connection: close", shuts the new socket
// down: the client gets the 101 and then 1006, before any frame (uNetworking/uWebSockets#1929,
// fixed upstream in v20.53). Which bytes are there depends on the allocator's state, so in a plain
// run it happens to an occasional socket. Here glibc is told to fill freed memory with 0x10
// (MALLOC_PERTURB_, with the per-thread cache off so that every free is filled), which reads as
// exactly that flag: with `res.cork(() => res.upgrade(...))` every socket is closed at once.
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../bench/load/server-process.js';
import { connectClient, type TestClient } from '../support/ws-client.js';

const SECRET = 'upgrade-secret-upgrade-secret-0123456789abcdef';
const SOCKETS = 20;
const CORK_WARNING = 'must be made from within a corked callback';

const token = (userId: string): Promise<string> =>
  new SignJWT({ user_id: userId, roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));

describe('WebSocket upgrade on uWS (asynchronous, after authentication)', () => {
  let server: ServerProcess | undefined;
  const clients: TestClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.terminate();
    await server?.stop(2000);
  });

  it('keeps every upgraded socket open, whatever the freed memory holds, without a cork warning per socket', async () => {
    server = await startServerProcess({
      JWT_SECRET: SECRET,
      STORE: 'memory',
      DATABASE_URL: '',
      TRANSPORT: 'uws',
      UPGRADE_RATE_LIMIT_PER_MINUTE: '1000',
      GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0',
      MALLOC_PERTURB_: '16',
    });
    const outcomes: string[] = [];
    // One after the other and all kept open: the first meets a replica with no socket, the
    // others one with sockets (the two ways the server completes an upgrade).
    for (let i = 0; i < SOCKETS; i++) {
      const client = await connectClient(`${server.wsUrl}?token=${await token(`u${i}`)}`);
      clients.push(client);
      const first = await Promise.race([
        client.next((f) => f.type === 'connection_status', { timeoutMs: 5000 }).then(() => 'connection_status'),
        client.closed.then(({ code }) => `closed ${code}`),
      ]);
      outcomes.push(first);
    }
    expect(outcomes).toEqual(Array.from({ length: SOCKETS }, () => 'connection_status'));
    // Every socket still open, and the server still counts them all.
    expect(clients.every((c) => c.socket.readyState === c.socket.OPEN)).toBe(true);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^chatbox_websocket_connections_total ${SOCKETS}$`, 'm'));
    // uWS.js warns on stderr about every upgrade made outside a cork; only one with no other
    // socket to cork is allowed.
    expect(server.logs.filter((line) => line.includes(CORK_WARNING)).length).toBeLessThanOrEqual(1);
  });
});
