// Server memory per idle connection with 10,000 open sockets, uWS vs the `ws` transport.
// RSS of the server process is read from /proc before and after the sockets open.
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { spawnServer } from './spawn.js';

const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const SOCKETS = Number(process.env['BENCH_SOCKETS'] ?? 10_000);
const BATCH = 500;
const PER_USER = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reading {
  perConnection: number;
  heapPerConnection: number;
  before: number;
  after: number;
}

async function measure(transport: 'uws' | 'ws'): Promise<Reading> {
  // One user holds at most MAX_SOCKETS_PER_USER sockets (at most 10,000): one user per 10,000.
  const server = await spawnServer({ TRANSPORT: transport, JWT_SECRET: SECRET, SOCKET_IDLE_TIMEOUT_S: '960', MAX_SOCKETS_PER_USER: String(PER_USER) });
  const tokens = await Promise.all(
    Array.from({ length: Math.ceil(SOCKETS / PER_USER) }, (_, u) =>
      new SignJWT({ user_id: `idle-${u}`, roles: ['user'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(SECRET)),
    ),
  );
  const sockets: WebSocket[] = [];
  try {
    await sleep(500);
    const heapBefore = await server.memory();
    const before = server.rss();
    for (let i = 0; i < SOCKETS; i += BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(BATCH, SOCKETS - i) }, () => {
          const ws = new WebSocket(`${server.wsUrl}?token=${tokens[Math.floor(sockets.length / PER_USER)]}`, { perMessageDeflate: false });
          sockets.push(ws);
          return new Promise<void>((resolve, reject) => {
            ws.once('message', () => resolve());
            ws.once('error', reject);
          });
        }),
      );
    }
    await sleep(1500);
    const heapAfter = await server.memory();
    const after = server.rss();
    const retained = (m: typeof heapAfter): number => m.heapUsed + m.external;
    return {
      perConnection: (after - before) / SOCKETS,
      heapPerConnection: (retained(heapAfter) - retained(heapBefore)) / SOCKETS,
      before,
      after,
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
}

const results: Record<string, number> = {};
for (const transport of ['uws', 'ws'] as const) {
  const r = await measure(transport);
  results[transport] = r.perConnection;
  console.log(
    `${transport.padEnd(4)} ${SOCKETS} idle sockets: RSS ${(r.before / 2 ** 20).toFixed(1)} MiB -> ${(r.after / 2 ** 20).toFixed(1)} MiB, ` +
      `${(r.perConnection / 1024).toFixed(2)} KiB RSS per connection (target < 8 KiB on uWS), ` +
      `${(r.heapPerConnection / 1024).toFixed(2)} KiB JS heap + external retained after GC`,
  );
}
console.log(`\nws / uWS memory per connection: ${((results['ws'] ?? NaN) / (results['uws'] ?? NaN)).toFixed(2)} x`);
