// Question: per streamed chunk, and in latency to the first token, what does each way of talking
// to a provider cost, side by side in one run?
//  - floor: undici `request` + eventsource-parser + JSON.parse, nothing else (the least any
//    client can do with this wire);
//  - ours: the reply source end to end (src/llm/providers/* on undici's Pool, the reply source's
//    timeouts, abort handling and llm* events, the metrics subscriber attached);
//  - SDK: the official SDK with its default fetch (openai, @anthropic-ai/sdk, devDependencies
//    now); Dify has no SDK: fetch + eventsource-parser, what our Dify adapter did before.
// Targets (issue 16): ours well under the SDK per chunk and in added first-token latency.
//
//   node --import tsx bench/llm/stream.bench.ts
//
// The fake providers run in a child process, so their work stays off the measured event loop.
//  - paced: one SSE event per packet, 1 ms apart, as a model streams. This process's CPU per
//    chunk (process.cpuUsage) and time to first token, the variants interleaved reply by reply.
//  - burst: the whole reply (200 events) in a few packets; wall time per chunk (mitata p50).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { measure } from 'mitata';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createParser } from 'eventsource-parser';
import { Pool } from 'undici';
import { createBus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import type { ReplyRequest } from '../../src/llm/types.js';
import { FAKE_MODEL_IDS, fakeConfig, fakeModels } from '../../test/support/fake-llm/harness.js';
import type { FakeProvider } from '../../test/support/fake-llm-server.js';
import { formatTable, machine } from '../events/report.js';

const BURST_CHUNKS = 200;
const PACED_CHUNKS = 40;
const PACED_ROUNDS = 30;
const PROVIDERS: readonly FakeProvider[] = ['openai', 'anthropic', 'dify'];
const VARIANTS = ['floor', 'ours', 'sdk'] as const;
type Variant = (typeof VARIANTS)[number];

interface Urls {
  readonly url: string;
  readonly baseUrls: Record<FakeProvider, string>;
}

function startChild(): Promise<{ child: ChildProcess; servers: { burst: Urls; paced: Urls } }> {
  const child = fork(fileURLToPath(new URL('./fake-server-child.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, FAKE_BURST_CHUNKS: String(BURST_CHUNKS), FAKE_PACED_CHUNKS: String(PACED_CHUNKS) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (servers) => resolve({ child, servers: servers as { burst: Urls; paced: Urls } }));
    child.once('exit', (code) => reject(new Error(`fake server exited (${code})`)));
  });
}

const { child, servers } = await startChild();

const messages = [
  { role: 'system' as const, content: 'You are a benchmark.' },
  { role: 'user' as const, content: 'Stream me something.' },
];

type Run = (provider: FakeProvider, onFirst?: () => void) => Promise<number>;

/** The three variants against one fake server. */
function pipelines(urls: Urls): Record<Variant, Run> & { close(): Promise<void> } {
  const bus = createBus();
  const registry = createMetricsRegistry();
  attachMetrics(bus, registry, { defaultMetrics: false });
  const config = fakeConfig(urls, { timeouts: { connectMs: 10_000, firstTokenMs: 10_000, totalMs: 60_000 } });
  const replies = createReplySource({ config, bus });
  const specs = new Map(fakeModels(urls).map((m) => [m.provider, m]));

  const req = (provider: FakeProvider): ReplyRequest => ({
    model: FAKE_MODEL_IDS[provider],
    messages,
    signal: new AbortController().signal,
    // A fresh session each time keeps Dify's request identical to the floor's.
    sessionId: `bench-${Math.random()}`,
    userId: 'bench',
  });

  const ours: Run = async (provider, onFirst) => {
    let n = 0;
    for await (const c of replies.stream(req(provider))) {
      if (c.type === 'text' && n++ === 0) onFirst?.();
    }
    return n;
  };

  /** The request each adapter sends, and how to pull the text out of one event. */
  function wire(provider: FakeProvider): { url: URL; headers: Record<string, string>; body: string; text: (event: string | undefined, data: string) => string | undefined } {
    const spec = specs.get(provider)!;
    if (provider === 'openai') {
      return {
        url: new URL(`${urls.baseUrls.openai}/chat/completions`),
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
        body: JSON.stringify({ model: spec.model, messages, stream: true, stream_options: { include_usage: true } }),
        text: (_e, data) => (data === '[DONE]' ? undefined : (JSON.parse(data) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content),
      };
    }
    if (provider === 'anthropic') {
      return {
        url: new URL(`${urls.baseUrls.anthropic}/v1/messages`),
        headers: { 'content-type': 'application/json', 'x-api-key': 'ak-test', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: spec.model, max_tokens: 256, system: messages[0]!.content, messages: [messages[1]], stream: true }),
        text: (e, data) => {
          const p = JSON.parse(data) as { delta?: { text?: string } };
          return e === 'content_block_delta' ? p.delta?.text : undefined;
        },
      };
    }
    return {
      url: new URL(`${urls.baseUrls.dify}/chat-messages`),
      headers: { 'content-type': 'application/json', authorization: 'Bearer dk-test' },
      body: JSON.stringify({ inputs: {}, query: messages[1]!.content, response_mode: 'streaming', conversation_id: '', user: 'bench' }),
      text: (_e, data) => {
        const p = JSON.parse(data) as { event?: string; answer?: string };
        return p.event === 'message' ? p.answer : undefined;
      },
    };
  }

  const counter = (provider: FakeProvider, onFirst?: () => void) => {
    const w = wire(provider);
    const state = { n: 0 };
    const parser = createParser({
      onEvent(e) {
        const t = w.text(e.event, e.data);
        if (t !== undefined && t !== '' && state.n++ === 0) onFirst?.();
      },
    });
    return { w, state, parser };
  };

  const pool = new Pool(urls.url);
  const floor: Run = async (provider, onFirst) => {
    const { w, state, parser } = counter(provider, onFirst);
    const res = await pool.request({ method: 'POST', path: w.url.pathname, headers: w.headers, body: w.body, signal: new AbortController().signal });
    const decoder = new TextDecoder();
    for await (const bytes of res.body) parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
    return state.n;
  };

  /** fetch + eventsource-parser: Dify's "SDK" (our adapter before undici). */
  const fetched: Run = async (provider, onFirst) => {
    const { w, state, parser } = counter(provider, onFirst);
    const response = await fetch(w.url, { method: 'POST', headers: w.headers, body: w.body, signal: new AbortController().signal });
    const decoder = new TextDecoder();
    for await (const bytes of response.body!) parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
    return state.n;
  };

  const openai = new OpenAI({ apiKey: 'sk-test', baseURL: urls.baseUrls.openai, maxRetries: 0, logLevel: 'off' });
  const anthropic = new Anthropic({ apiKey: 'ak-test', baseURL: urls.baseUrls.anthropic, maxRetries: 0, logLevel: 'off' });
  const sdk: Run = async (provider, onFirst) => {
    let n = 0;
    if (provider === 'openai') {
      const stream = await openai.chat.completions.create({ model: 'gpt-fake-1', messages, stream: true, stream_options: { include_usage: true } }, { signal: new AbortController().signal });
      for await (const c of stream) if (c.choices[0]?.delta?.content && n++ === 0) onFirst?.();
    } else if (provider === 'anthropic') {
      const stream = await anthropic.messages.create(
        { model: 'claude-fake-1', max_tokens: 256, system: messages[0]!.content, messages: [messages[1]!], stream: true },
        { signal: new AbortController().signal },
      );
      for await (const e of stream) if (e.type === 'content_block_delta' && n++ === 0) onFirst?.();
    } else {
      return fetched(provider, onFirst);
    }
    return n;
  };

  return {
    floor,
    ours,
    sdk,
    async close() {
      await replies.close();
      await pool.close();
    },
  };
}

const burst = pipelines(servers.burst);
const paced = pipelines(servers.paced);

// Every variant must see every chunk, or the comparison means nothing.
for (const p of PROVIDERS) {
  for (const [pipes, want] of [[burst, BURST_CHUNKS], [paced, PACED_CHUNKS]] as const) {
    for (const v of VARIANTS) {
      const n = await pipes[v](p);
      if (n !== want) throw new Error(`${p}/${v}: saw ${n} chunks, expected ${want}`);
    }
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1] ?? Number.NaN;
};
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const us = (x: number): string => `${x.toFixed(1)} us`;
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

const pacedRows: string[][] = [];
const burstRows: string[][] = [];
const ttftRows: string[][] = [];
for (const p of PROVIDERS) {
  const cpu: Record<Variant, number[]> = { floor: [], ours: [], sdk: [] };
  const ttft: Record<Variant, number[]> = { floor: [], ours: [], sdk: [] };
  for (let i = 0; i < PACED_ROUNDS; i++) {
    for (const v of VARIANTS) {
      const c0 = cpuMicros();
      const t0 = performance.now();
      let first = 0;
      await paced[v](p, () => (first = performance.now()));
      cpu[v].push((cpuMicros() - c0) / PACED_CHUNKS);
      ttft[v].push((first - t0) * 1000);
    }
  }
  const [cf, co, cs] = VARIANTS.map((v) => median(cpu[v])) as [number, number, number];
  pacedRows.push([p, us(cf), us(co), us(cs), ratio(co, cf), ratio(cs, cf), ratio(cs, co)]);
  const [tf, to, ts] = VARIANTS.map((v) => median(ttft[v])) as [number, number, number];
  ttftRows.push([p, `${tf.toFixed(0)} us`, `${to.toFixed(0)} us`, `${ts.toFixed(0)} us`, `${(to - tf).toFixed(0)} us`, `${(ts - tf).toFixed(0)} us`]);

  const opts = { min_cpu_time: 500 * 1e6, max_samples: 1_000 };
  const b: Record<Variant, number> = { floor: 0, ours: 0, sdk: 0 };
  for (const v of VARIANTS) b[v] = (await measure(() => burst[v](p), opts)).p50 / BURST_CHUNKS / 1000;
  burstRows.push([p, us(b.floor), us(b.ours), us(b.sdk), ratio(b.ours, b.floor), ratio(b.sdk, b.floor), ratio(b.sdk, b.ours)]);
}

const sdkName = 'SDK (Dify: fetch)';
console.log('\nLLM client per provider: floor (undici.request + eventsource-parser + JSON.parse) vs ours (reply source on undici) vs the official SDK with its default fetch');
console.log(machine());
console.log(`\npaced: ${PACED_CHUNKS} events per reply, one per packet, 1 ms apart; this process's CPU per chunk, median of ${PACED_ROUNDS} replies`);
console.log(formatTable(['provider', 'floor', 'ours', sdkName, 'ours/floor', 'SDK/floor', 'SDK/ours'], pacedRows));
console.log(`\ntime to first token on the paced replies (first event right after the headers), median of ${PACED_ROUNDS}`);
console.log(formatTable(['provider', 'floor', 'ours', sdkName, 'ours added', 'SDK added'], ttftRows));
console.log(`\nburst: ${BURST_CHUNKS} events per reply arriving in a few packets; wall time per chunk (mitata p50)`);
console.log(formatTable(['provider', 'floor', 'ours', sdkName, 'ours/floor', 'SDK/floor', 'SDK/ours'], burstRows));
console.log('\n"ours" includes the reply source (timeouts, abort, events, metrics subscriber); floor and SDK do not.');

await burst.close();
await paced.close();
child.disconnect();
