// Frames per second through the real server (instant model, memory store): uWS vs the `ws`
// transport, and with vs without the metrics subscriber. Each cell is a fixed-time run of
// CLIENTS sockets each sending a user_message and waiting for the whole reply, over and over.
// Beside them, the stack's limit, driven by the same clients: a bare uWS echo (one frame back)
// and a bare uWS server answering with 3 JSON frames (bench/ws/echo-child.ts); every run prints
// the chat round trip's server CPU as a multiple of both (issue 16: <= 3x the raw echo).
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { pairedRatio } from '../events/measure.js';
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

type Transport = 'uws' | 'ws' | 'echo-raw' | 'echo-3json';
const ECHO_SCRIPT = fileURLToPath(new URL('./echo-child.ts', import.meta.url));

async function run(
  transport: Transport,
  metrics: boolean,
): Promise<{ framesPerSecond: number; roundTrips: number; cpuUsPerRoundTrip: number }> {
  const server =
    transport === 'echo-raw' || transport === 'echo-3json'
      ? await spawnServer({ ECHO: transport === 'echo-raw' ? 'raw' : 'frames3' }, ECHO_SCRIPT)
      : await spawnServer({ TRANSPORT: transport, BENCH_METRICS: metrics ? '1' : '0', JWT_SECRET: SECRET });
  // The raw echo answers every message with one frame; the others end a reply with done "true".
  const last = transport === 'echo-raw' ? () => true : (data: WebSocket.RawData) => String(data).includes('"done":"true"');
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
            if (!last(data)) return;
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
    const cpu0 = server.cpuMs();
    // The bare echoes are steadier and cheap: a shorter window keeps the file inside its 90 s.
    await measure(transport.startsWith('echo') ? Math.min(SECONDS, 2) * 1000 : SECONDS * 1000);
    const cpu = server.cpuMs() - cpu0;
    const elapsed = (performance.now() - t0) / 1000;
    return { framesPerSecond: frames / elapsed, roundTrips, cpuUsPerRoundTrip: (cpu * 1000) / roundTrips };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
}

// The chat cell sits between its two baselines, so each round's ratios compare runs seconds apart.
const cells: readonly (readonly [Transport, boolean])[] = [
  ['echo-raw', false],
  ['uws', true],
  ['echo-3json', false],
  ['uws', false],
  ['ws', true],
  ['ws', false],
];
// Cells alternate round after round, and each cell's figure is its median over rounds, so a
// burst of noise on the shared machine hits every cell alike instead of one. The ratios to the
// baselines are medians of each round's own ratio: this machine's speed drifts by up to 30 %
// over minutes, which cancels within a round but not between the medians of different rounds.
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const samples = new Map<string, number[]>();
const cpuSamples = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [transport, metrics] of cells) {
    const key = `${transport}/${metrics ? 'metrics' : 'none'}`;
    const r = await run(transport, metrics);
    samples.set(key, [...(samples.get(key) ?? []), r.framesPerSecond]);
    cpuSamples.set(key, [...(cpuSamples.get(key) ?? []), r.cpuUsPerRoundTrip]);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const get = (k: string): number => median(samples.get(k) ?? []);
const cpu = (k: string): number => median(cpuSamples.get(k) ?? []);
/** Median over rounds of a's CPU per round trip over b's in the same round (the events benches'
 * pairedRatio), and each round's ratio for the reader. */
const paired = (a: string, b: string): { median: number; rounds: string } => {
  const ys = cpuSamples.get(b) ?? [];
  const rounds = (cpuSamples.get(a) ?? []).map((x, i) => (x / (ys[i] ?? Number.NaN)).toFixed(2)).join(', ');
  return { median: pairedRatio({ perRound: cpuSamples, rounds: ROUNDS }, a, b), rounds };
};
const toRaw = paired('uws/metrics', 'echo-raw/none');
const to3json = paired('uws/metrics', 'echo-3json/none');
const echoes = paired('echo-3json/none', 'echo-raw/none');
console.log(`${CLIENTS} clients, ${SECONDS}s per cell (echo cells ${Math.min(SECONDS, 2)}s), median of ${ROUNDS} alternating rounds; instant model, memory store`);
for (const [transport, metrics] of cells) {
  const key = `${transport}/${metrics ? 'metrics' : 'none'}`;
  const all = (samples.get(key) ?? []).map((x) => x.toFixed(0)).join(', ');
  const what = transport.startsWith('echo') ? 'bare uWS, none of ours' : metrics ? 'metrics subscriber' : 'no subscriber';
  console.log(
    `${transport.padEnd(10)} ${what.padEnd(22)}  ${get(key).toFixed(0).padStart(8)} frames/s  ` +
      `${cpu(key).toFixed(1).padStart(6)} µs server CPU per round trip   (rounds: ${all})`,
  );
}
console.log('');
console.log('question                                                   measured   target');
console.log(`metrics subscriber: server CPU per round trip, uWS           ${((cpu('uws/metrics') / cpu('uws/none') - 1) * 100).toFixed(1).padStart(6)} %   < 2 %`);
console.log(`metrics subscriber: server CPU per round trip, ws            ${((cpu('ws/metrics') / cpu('ws/none') - 1) * 100).toFixed(1).padStart(6)} %   < 2 %`);
console.log(`metrics subscriber: throughput change, uWS                   ${((get('uws/metrics') / get('uws/none') - 1) * 100).toFixed(1).padStart(6)} %   (noisy: client-bound)`);
console.log(`uWS vs ws: server CPU per round trip (ws / uWS)              ${(cpu('ws/metrics') / cpu('uws/metrics')).toFixed(2).padStart(6)} x   >= 3 x`);
console.log(`uWS vs ws: throughput (uWS / ws)                             ${(get('uws/metrics') / get('ws/metrics')).toFixed(2).padStart(6)} x   >= 3 x`);
console.log(`chat round trip (uWS, metrics) / raw uWS echo: server CPU     ${toRaw.median.toFixed(2).padStart(6)} x   <= 3 x   (rounds: ${toRaw.rounds})`);
console.log(`chat round trip (uWS, metrics) / 3-JSON-frame echo            ${to3json.median.toFixed(2).padStart(6)} x   (the protocol's floor; rounds: ${to3json.rounds})`);
console.log(`3-JSON-frame echo / raw echo                                  ${echoes.median.toFixed(2).padStart(6)} x   (rounds: ${echoes.rounds})`);
console.log('(ratios: median of each round\'s own ratio; the cells above: median of each cell over rounds)');
console.log('(frames counted at the clients: loading + reply chunk + done per round trip; one client process drives');
console.log(' all sockets, so throughput is partly client-bound on 2 cores; server CPU per round trip is the server-side figure)');
