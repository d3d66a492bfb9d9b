// Question: what does one streamed reply cost in CPU at the load run's pacing (a request every
// 1/60 s, 300 ms to the first token, 8 chunks 40 ms apart: `npm run load -- --users 300`), ours
// against the least any client can do with this wire, side by side in one run?
//  - floor (request): undici `request` + eventsource-parser + JSON.parse of each event;
//  - floor (dispatch): undici's dispatch API + eventsource-parser + JSON.parse (no stream object);
//  - ours: the reply source end to end (the OpenAI adapter on undici's dispatch, timeouts, abort
//    handling, llm* events, the metrics subscriber attached).
// At this pacing almost every chunk wakes an idle process, and on a VM that wake-up (cold caches,
// the epoll return, the read) costs more than the parsing: the per-request figure here is several
// times the same work done back to back. This is the floor under issue 16's CPU-per-message target.
//
//   node --import tsx bench/llm/paced.bench.ts          (BENCH_PACED_S=seconds per cell, default 6)
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createParser } from 'eventsource-parser';
import { Pool, type Dispatcher } from 'undici';
import { createBus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import { FAKE_MODEL_IDS, fakeConfig } from '../../test/support/fake-llm/harness.js';
import { formatTable, machine } from '../events/report.js';

const RATE = 60;
const CHUNKS = 8;
const CELL_S = Number(process.env['BENCH_PACED_S'] ?? '6');
const WARMUP_S = 3;
// Alternating cells, medians: within npm run bench's 90 s per file.
const ROUNDS = 3;

interface Urls {
  readonly url: string;
  readonly baseUrls: Record<'openai' | 'anthropic' | 'dify', string>;
}
const child: ChildProcess = fork(fileURLToPath(new URL('./paced-server-child.ts', import.meta.url)), {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const urls = await new Promise<Urls>((resolve, reject) => {
  child.once('message', (m) => resolve(m as Urls));
  child.once('exit', (code) => reject(new Error(`fake server exited (${code})`)));
});

const messages = [{ role: 'user' as const, content: 'Stream me something.' }];
const path = new URL(`${urls.baseUrls.openai}/chat/completions`).pathname;
const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-test', accept: 'text/event-stream' };
const body = JSON.stringify({ model: 'gpt-fake-1', messages, stream: true, stream_options: { include_usage: true } });
const pool = new Pool(urls.url, { keepAliveTimeout: 2_000 });

const counting = () => {
  const state = { n: 0 };
  const parser = createParser({
    onEvent(e) {
      if (e.data === '[DONE]') return;
      const p = JSON.parse(e.data) as { choices?: { delta?: { content?: string } }[] };
      if (p.choices?.[0]?.delta?.content) state.n++;
    },
  });
  return { state, parser };
};

async function viaRequest(): Promise<number> {
  const { state, parser } = counting();
  const res = await pool.request({ method: 'POST', path, headers, body, signal: new AbortController().signal });
  const decoder = new TextDecoder();
  for await (const bytes of res.body) parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
  return state.n;
}

function viaDispatch(): Promise<number> {
  const { state, parser } = counting();
  const decoder = new TextDecoder();
  return new Promise((resolve, reject) => {
    const handler: Dispatcher.DispatchHandler = {
      // Its presence selects undici's current handler API (controller-based callbacks).
      onRequestStart: () => {},
      onResponseData: (_c, chunk) => parser.feed(decoder.decode(chunk, { stream: true })),
      onResponseEnd: () => resolve(state.n),
      onResponseError: (_c, error) => reject(error),
    };
    pool.dispatch({ method: 'POST', path, headers, body }, handler);
  });
}

const bus = createBus();
attachMetrics(bus, createMetricsRegistry(), { defaultMetrics: false });
const replies = createReplySource({ config: fakeConfig(urls, { timeouts: { connectMs: 10_000, firstTokenMs: 10_000, totalMs: 60_000 } }), bus });
async function ours(): Promise<number> {
  let n = 0;
  const stream = replies.stream({ model: FAKE_MODEL_IDS.openai, messages, signal: new AbortController().signal, sessionId: 'bench', userId: 'bench' });
  for await (const c of stream) if (c.type === 'text') n++;
  return n;
}

const VARIANTS = { 'floor (request)': viaRequest, 'floor (dispatch)': viaDispatch, ours } as const;
type Variant = keyof typeof VARIANTS;

/** Starts a request every 1/RATE s for CELL_S seconds; CPU of this process per request (us). */
async function cell(run: () => Promise<number>, seconds = CELL_S): Promise<number> {
  const start = process.cpuUsage();
  const pending: Promise<void>[] = [];
  let done = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    pending.push(
      run().then((n) => {
        if (n !== CHUNKS) throw new Error(`saw ${n} chunks, expected ${CHUNKS}`);
        done++;
      }),
    );
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }
  await Promise.all(pending);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / done;
}

console.log(machine());
console.log(`${RATE} requests/s, ${CHUNKS} chunks 40 ms apart after 300 ms, ${CELL_S} s per cell, ${ROUNDS} rounds (after a ${WARMUP_S} s warm-up cell of each)\n`);
const results: Record<Variant, number[]> = { 'floor (request)': [], 'floor (dispatch)': [], ours: [] };
for (const run of Object.values(VARIANTS)) await cell(run, WARMUP_S);
for (let r = 0; r < ROUNDS; r++) for (const [name, run] of Object.entries(VARIANTS)) results[name as Variant].push(await cell(run));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const floor = median(results['floor (dispatch)']);
console.log(
  formatTable(
    ['variant', 'CPU per request (us)', 'per round', 'x floor (dispatch)'],
    Object.entries(results).map(([name, xs]) => [name, median(xs).toFixed(0), xs.map((x) => x.toFixed(0)).join(' / '), (median(xs) / floor).toFixed(2)]),
  ),
);
await replies.close();
await pool.close();
child.disconnect();
process.exit(0);
