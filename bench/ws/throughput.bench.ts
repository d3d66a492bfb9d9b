// Frames per second through the real server (instant model, memory store): uWS vs the `ws`
// transport, and with vs without the metrics subscriber. Each cell is a fixed-time run of
// CLIENTS sockets each sending a user_message and waiting for the whole reply, over and over.
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { spawnServer } from './spawn.js';

const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 32);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);

async function token(i: number): Promise<string> {
  return new SignJWT({ user_id: `u${i}`, roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
}

async function run(transport: 'uws' | 'ws', metrics: boolean): Promise<{ framesPerSecond: number; roundTrips: number }> {
  const server = await spawnServer({ TRANSPORT: transport, BENCH_METRICS: metrics ? '1' : '0', JWT_SECRET: SECRET });
  let frames = 0;
  let roundTrips = 0;
  let stopAt = 0;
  const sockets: WebSocket[] = [];
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const ws = new WebSocket(`${server.wsUrl}?token=${await token(i)}`);
        sockets.push(ws);
        await new Promise((r, j) => {
          ws.once('open', r);
          ws.once('error', j);
        });
      }),
    );
    const message = JSON.stringify({ type: 'user_message', content: 'ping' });
    // Warm-up, then the measured window.
    const measure = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        stopAt = Date.now() + ms;
        let running = sockets.length;
        for (const ws of sockets) {
          const onMessage = (data: WebSocket.RawData): void => {
            frames++;
            if (!String(data).includes('"done":"true"')) return;
            roundTrips++;
            if (Date.now() < stopAt) ws.send(message);
            else {
              ws.off('message', onMessage);
              if (--running === 0) resolve();
            }
          };
          ws.on('message', onMessage);
          ws.send(message);
        }
      });
    await measure(500);
    frames = 0;
    roundTrips = 0;
    const t0 = performance.now();
    await measure(SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    return { framesPerSecond: frames / elapsed, roundTrips };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
}

const cells = [
  ['uws', true],
  ['uws', false],
  ['ws', true],
  ['ws', false],
] as const;
// Cells alternate round after round, and each cell's figure is its median over rounds, so a
// burst of noise on the shared machine hits every cell alike instead of one.
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const samples = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [transport, metrics] of cells) {
    const key = `${transport}/${metrics ? 'metrics' : 'none'}`;
    const r = await run(transport, metrics);
    samples.set(key, [...(samples.get(key) ?? []), r.framesPerSecond]);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const get = (k: string): number => median(samples.get(k) ?? []);
console.log(`${CLIENTS} clients, ${SECONDS}s per cell, median of ${ROUNDS} alternating rounds; instant model, memory store`);
for (const [transport, metrics] of cells) {
  const key = `${transport}/${metrics ? 'metrics' : 'none'}`;
  const all = (samples.get(key) ?? []).map((x) => x.toFixed(0)).join(', ');
  console.log(`${transport.padEnd(4)} ${metrics ? 'metrics subscriber' : 'no subscriber     '}  ${get(key).toFixed(0).padStart(8)} frames/s   (rounds: ${all})`);
}
console.log('');
console.log('question                                         ratio     target');
console.log(`metrics subscriber cost on uWS throughput        ${((1 - get('uws/metrics') / get('uws/none')) * 100).toFixed(1).padStart(5)} %   < 2 %`);
console.log(`metrics subscriber cost on ws throughput         ${((1 - get('ws/metrics') / get('ws/none')) * 100).toFixed(1).padStart(5)} %   < 2 %`);
console.log(`uWS vs ws transport (metrics on)                 ${(get('uws/metrics') / get('ws/metrics')).toFixed(2).padStart(5)} x   >= 3 x`);
console.log('(frames counted at the clients: loading + reply chunk + done per round trip)');
