// Question: per streamed chunk, what does our pipeline (provider adapter — official SDK or
// fetch + eventsource-parser —, the reply source's events with the metrics subscriber attached,
// timeouts and abort handling) cost over reading the same SSE stream with fetch +
// eventsource-parser + JSON.parse alone? And how much latency does it add to the first token?
// Target: at most 1.5x per chunk, well under 1 ms added to the first token.
//
//   node --import tsx bench/llm/stream.bench.ts
//
// The fake providers run in a child process, so their work stays off the measured event loop.
// Two shapes of stream:
//  - paced: one SSE event per packet, 1 ms apart, as a model streams. The figure is this
//    process's CPU time per chunk (process.cpuUsage), ours against the baseline: what each chunk
//    costs us when chunks arrive one by one, as they do in production. Time to first token is
//    measured on these replies too.
//  - burst: the whole reply (200 events) arrives in a few packets; wall time per chunk, measured
//    with mitata. This stresses the SSE decoders on large buffers.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { measure } from 'mitata';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createParser } from 'eventsource-parser';
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

/** Ours and the baseline against one fake server. */
function pipelines(urls: Urls) {
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
    // A fresh session each time keeps Dify's request identical to the baseline's.
    sessionId: `bench-${Math.random()}`,
    userId: 'bench',
  });

  /** Ours: the reply source end to end. Calls onFirst at the first text chunk. */
  async function ours(provider: FakeProvider, onFirst?: () => void): Promise<number> {
    let n = 0;
    for await (const c of replies.stream(req(provider))) {
      if (c.type === 'text' && n++ === 0) onFirst?.();
    }
    return n;
  }

  /** The same HTTP request each adapter sends, and how to pull the text out of one event. */
  function wire(provider: FakeProvider): { url: string; headers: Record<string, string>; body: string; text: (event: string | undefined, data: string) => string | undefined } {
    const spec = specs.get(provider)!;
    if (provider === 'openai') {
      return {
        url: `${urls.baseUrls.openai}/chat/completions`,
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
        body: JSON.stringify({ model: spec.model, messages, stream: true, stream_options: { include_usage: true } }),
        text: (_e, data) => (data === '[DONE]' ? undefined : (JSON.parse(data) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content),
      };
    }
    if (provider === 'anthropic') {
      return {
        url: `${urls.baseUrls.anthropic}/v1/messages`,
        headers: { 'content-type': 'application/json', 'x-api-key': 'ak-test', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: spec.model, max_tokens: 256, system: messages[0]!.content, messages: [messages[1]], stream: true }),
        text: (e, data) => {
          const p = JSON.parse(data) as { delta?: { text?: string } };
          return e === 'content_block_delta' ? p.delta?.text : undefined;
        },
      };
    }
    return {
      url: `${urls.baseUrls.dify}/chat-messages`,
      headers: { 'content-type': 'application/json', authorization: 'Bearer dk-test' },
      body: JSON.stringify({ inputs: {}, query: messages[1]!.content, response_mode: 'streaming', conversation_id: '', user: 'bench' }),
      text: (_e, data) => {
        const p = JSON.parse(data) as { event?: string; answer?: string };
        return p.event === 'message' ? p.answer : undefined;
      },
    };
  }

  /** Baseline: fetch + eventsource-parser + JSON.parse, nothing else. */
  async function baseline(provider: FakeProvider, onFirst?: () => void): Promise<number> {
    const w = wire(provider);
    const response = await fetch(w.url, { method: 'POST', headers: w.headers, body: w.body, signal: new AbortController().signal });
    let n = 0;
    const parser = createParser({
      onEvent(e) {
        const t = w.text(e.event, e.data);
        if (t !== undefined && t !== '' && n++ === 0) onFirst?.();
      },
    });
    const decoder = new TextDecoder();
    for await (const bytes of response.body!) parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
    return n;
  }

  // The official SDK with nothing of ours around it: splits the added first-token latency between
  // the SDK (mandated) and our layer.
  const openai = new OpenAI({ apiKey: 'sk-test', baseURL: urls.baseUrls.openai, maxRetries: 0, logLevel: 'off' });
  const anthropic = new Anthropic({ apiKey: 'ak-test', baseURL: urls.baseUrls.anthropic, maxRetries: 0, logLevel: 'off' });
  async function sdkAlone(provider: FakeProvider, onFirst?: () => void): Promise<number> {
    let n = 0;
    if (provider === 'openai') {
      const stream = await openai.chat.completions.create({ model: 'gpt-fake-1', messages, stream: true, stream_options: { include_usage: true } });
      for await (const c of stream) if (c.choices[0]?.delta?.content && n++ === 0) onFirst?.();
    } else if (provider === 'anthropic') {
      const stream = await anthropic.messages.create({ model: 'claude-fake-1', max_tokens: 256, messages: [{ role: 'user', content: 'hi' }], stream: true });
      for await (const e of stream) if (e.type === 'content_block_delta' && n++ === 0) onFirst?.();
    } else {
      return baseline(provider, onFirst);
    }
    return n;
  }

  return { ours, baseline, sdkAlone, close: () => replies.close() };
}

const burst = pipelines(servers.burst);
const paced = pipelines(servers.paced);

// Both must see every chunk, or the comparison means nothing.
for (const p of PROVIDERS) {
  for (const [pipes, want] of [[burst, BURST_CHUNKS], [paced, PACED_CHUNKS]] as const) {
    const [a, b] = [await pipes.ours(p), await pipes.baseline(p)];
    if (a !== want || b !== want) throw new Error(`${p}: ours saw ${a} chunks, baseline ${b}; expected ${want}`);
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

const pacedRows: string[][] = [];
const burstRows: string[][] = [];
const ttftRows: string[][] = [];
for (const p of PROVIDERS) {
  // Paced: CPU per chunk and time to first token, interleaved so both see the same load.
  const cpu = { baseline: [] as number[], ours: [] as number[] };
  const ttft = { baseline: [] as number[], ours: [] as number[], sdkAlone: [] as number[] };
  for (let i = 0; i < PACED_ROUNDS; i++) {
    for (const which of ['baseline', 'ours', 'sdkAlone'] as const) {
      const c0 = cpuMicros();
      const t0 = performance.now();
      let first = 0;
      await paced[which](p, () => (first = performance.now()));
      if (which !== 'sdkAlone') cpu[which].push((cpuMicros() - c0) / PACED_CHUNKS);
      ttft[which].push((first - t0) * 1000);
    }
  }
  const cb = median(cpu.baseline);
  const co = median(cpu.ours);
  pacedRows.push([p, `${cb.toFixed(1)} us`, `${co.toFixed(1)} us`, `${(co / cb).toFixed(2)}x`]);
  const tb = median(ttft.baseline);
  const to = median(ttft.ours);
  const ts = median(ttft.sdkAlone);
  ttftRows.push([
    p,
    `${tb.toFixed(0)} us`,
    p === 'dify' ? '-' : `${ts.toFixed(0)} us`,
    `${to.toFixed(0)} us`,
    `${(to - tb).toFixed(0)} us`,
    p === 'dify' ? `${(to - tb).toFixed(0)} us` : `${(to - ts).toFixed(0)} us`,
  ]);

  // Burst: wall time per chunk with mitata.
  const opts = { min_cpu_time: 700 * 1e6, max_samples: 1_000 };
  const b = await measure(() => burst.baseline(p), opts);
  const o = await measure(() => burst.ours(p), opts);
  burstRows.push([p, `${(b.p50 / BURST_CHUNKS / 1000).toFixed(1)} us`, `${(o.p50 / BURST_CHUNKS / 1000).toFixed(1)} us`, `${(o.p50 / b.p50).toFixed(2)}x`]);
}

console.log('\nLLM stream pipeline (adapter + events + metrics subscriber + timeouts/abort) vs fetch + eventsource-parser + JSON.parse');
console.log(machine());
console.log(`\npaced: ${PACED_CHUNKS} events per reply, one per packet, 1 ms apart; this process's CPU per chunk, median of ${PACED_ROUNDS} replies`);
console.log(formatTable(['provider', 'baseline', 'ours', 'ratio'], pacedRows));
console.log(`\ntime to first token on the paced replies (first event right after the headers), median of ${PACED_ROUNDS}`);
console.log(formatTable(['provider', 'baseline', 'SDK alone', 'ours', 'added (vs baseline)', 'added by our layer'], ttftRows));
console.log(`\nburst: ${BURST_CHUNKS} events per reply arriving in a few packets; wall time per chunk (mitata p50)`);
console.log(formatTable(['provider', 'baseline', 'ours', 'ratio'], burstRows));
console.log('\ntargets: ratio <= 1.5x per chunk; added time to first token well under 1 ms (1000 us)');

await burst.close();
await paced.close();
child.disconnect();
