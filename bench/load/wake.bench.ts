// What one small write to a loopback peer costs the writer, when the peer sleeps in epoll and when
// it is awake. On loopback the writer's send() also runs the receive path and wakes the reader; on
// a VM whose idle vCPUs halt (Firecracker with haltpoll here) waking a sleeping process is costly,
// and the cost lands on the writer. The server pays it for every frame to a client and every
// query to PostgreSQL: at the chat's pacing (a chunk every 40 ms) most peers are asleep.
//
// Two cells, alternating round after round (after one round to warm up), each WRITES writes paced
// INTERVAL_MS apart: to a reader that sleeps between them, and to a reader kept awake (it spins
// 5 ms, then yields). The writer's CPU is read around each write() alone, from the scheduler's own
// run time (/proc/thread-self/schedstat, in ns: getrusage here counts 4 ms ticks), less the cost
// of reading it (an empty bracket just before each write).
// `node --import tsx bench/load/wake.bench.ts` (BENCH_WRITES, default 400, for `npm run bench`;
// the figures in bench/README.md used BENCH_WRITES=2000; BENCH_ROUNDS, default 2).
import { fork, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const WRITES = Number(process.env['BENCH_WRITES'] ?? 400);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const INTERVAL_MS = 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** This thread's time on a CPU (us), as the scheduler counts it. */
const cpuUs = (): number => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;

if (process.argv[2] === 'reader') {
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('data', () => {});
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.(typeof address === 'object' && address !== null ? address.port : 0);
  });
  if (process.argv[3] === 'awake') {
    const spin = (): void => {
      const until = Date.now() + 5;
      while (Date.now() < until);
      setImmediate(spin);
    };
    spin();
  }
} else {
  const reader = async (mode: 'asleep' | 'awake'): Promise<{ child: ChildProcess; socket: Socket }> => {
    const child = fork(fileURLToPath(import.meta.url), ['reader', mode], { execArgv: ['--import', 'tsx'] });
    const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve) => socket.once('connect', resolve));
    return { child, socket };
  };
  /** Mean writer CPU (us) inside write() over WRITES paced writes. */
  const cell = async (socket: Socket): Promise<number> => {
    const frame = Buffer.alloc(200, 0x61);
    await sleep(200);
    let used = 0;
    for (let i = 0; i < WRITES; i++) {
      await sleep(INTERVAL_MS);
      const a = cpuUs();
      const b = cpuUs();
      socket.write(frame);
      const c = cpuUs();
      used += c - b - (b - a);
    }
    return used / WRITES;
  };
  const asleep: number[] = [];
  const awake: number[] = [];
  for (let r = 0; r <= ROUNDS; r++) {
    for (const mode of ['asleep', 'awake'] as const) {
      const { child, socket } = await reader(mode);
      const perWrite = await cell(socket);
      if (r > 0) (mode === 'asleep' ? asleep : awake).push(perWrite);
      socket.destroy();
      child.kill();
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log(`writer CPU per 200-byte loopback write, reader asleep   ${median(asleep).toFixed(1)} us   (rounds: ${asleep.map((x) => x.toFixed(1)).join(', ')})`);
  console.log(`writer CPU per 200-byte loopback write, reader awake    ${median(awake).toFixed(1)} us   (rounds: ${awake.map((x) => x.toFixed(1)).join(', ')})`);
  console.log(`asleep / awake                                          ${(median(asleep) / median(awake)).toFixed(2)} x`);
}
