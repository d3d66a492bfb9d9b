// Writing a 200 reply, whole or streamed, with the faults a step scripts inside it: a cut, a
// malformed body or event, an in-stream error event. Apart from the server, which resolves the
// step against its defaults and keeps the per-request record and tally.
import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import type { FakeStep, FakeUsage } from '../fake-llm-server.js';
import type { Wire } from './wire.js';

/** A step resolved against the server's defaults: what the reply says and how it is paced. */
export interface Reply {
  readonly chunks: readonly string[];
  readonly usage: FakeUsage | undefined;
  /** The wire's own finish word. */
  readonly finish: string;
  /** Wait before text chunk i (for i = 0, the time to first token). */
  readonly gap: (i: number) => number;
}

/** Where a streamed reply notes when each text chunk was written (the request's record). */
export interface ChunkTimes {
  firstChunkAt: number | undefined;
  readonly chunkAt: readonly number[];
}

/** Drops the connection mid-response, after what was written so far has left (like a proxy dying). */
function cut(res: ServerResponse): void {
  const socket = res.socket;
  if (socket === null) return;
  socket.destroySoon();
}

/** A non-streamed reply: one wait for the whole pacing, then the body (or its fault). */
export async function writeWhole(
  res: ServerResponse,
  wire: Wire,
  step: FakeStep,
  reply: Reply,
  wait: (ms: number) => Promise<boolean>,
  count: (usage: FakeUsage | undefined) => void,
): Promise<void> {
  const { chunks, usage, finish, gap } = reply;
  let whole = 0;
  for (let i = 0; i < chunks.length; i++) whole += gap(i);
  if (!(await wait(whole))) return;
  if (step.malformedAt !== undefined) {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"broken", "choi');
    return;
  }
  const json = JSON.stringify(wire.whole(chunks.join(''), usage, finish));
  if (step.cutAfter !== undefined) {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) });
    res.write(json.slice(0, Math.floor(json.length / 2)));
    cut(res);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(json);
  count(usage);
}

/** A streamed reply: the wire's events, each text chunk after its gap, faults at the chunk they name. */
export async function writeStream(
  res: ServerResponse,
  wire: Wire,
  step: FakeStep,
  reply: Reply,
  wait: (ms: number) => Promise<boolean>,
  record: ChunkTimes,
  count: (usage: FakeUsage | undefined) => void,
): Promise<void> {
  const { chunks, usage, finish, gap } = reply;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  for (const line of wire.start()) res.write(line);
  for (let i = 0; i < chunks.length; i++) {
    if (step.cutAfter === i) {
      cut(res);
      return;
    }
    if (step.errorEventAfter === i) {
      res.end(wire.errorEvent());
      return;
    }
    if (!(await wait(gap(i)))) return;
    if (step.malformedAt === i) res.write(wire.malformed());
    res.write(wire.text(chunks[i]!, i));
    const at = performance.now();
    (record.chunkAt as number[]).push(at);
    if (i === 0) record.firstChunkAt = at;
  }
  if (step.cutAfter !== undefined && step.cutAfter >= chunks.length) {
    cut(res);
    return;
  }
  if (step.errorEventAfter !== undefined && step.errorEventAfter >= chunks.length) {
    res.end(wire.errorEvent());
    return;
  }
  res.end(wire.end(usage, finish).join(''));
  // A reply with a malformed event in it is no good reply, even though it ran to the end. One
  // the client gave up on mid-way (our timeouts) still counts if its last byte was written.
  if (step.malformedAt === undefined && !res.destroyed) count(usage);
}
