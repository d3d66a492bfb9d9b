// The server's share of first-chunk latency as the wire saw it: from a loopback capture of a
// load run, each user message's way in (its WebSocket frame written by the client -> the
// provider request written by the server) and way out (the provider's first token written ->
// the first reply frame written by the server). Packet times are taken in the writer's send(),
// so neither the clients' nor the fake provider's event loop (the harness's GC pauses, its
// 2,000 sockets' callbacks) is in them: what is left is the server, the kernel and the CPU the
// server had to wait for.
//
//   node --import tsx bench/load/wire.ts capture.pcap
import { readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { quantile, q3 } from './latency.js';
import { segments } from './pcap.js';
import { HEADER_END, hasText, lastUser, responseBody, wsFrames, type BodyState } from './wire-decode.js';

/** What the wire showed of one user message, Unix-epoch ms. */
export interface WireTurn {
  /** The client's frame carrying it. */
  userAt: number;
  /** Provider attempts whose last user message it is. */
  attempts: number;
  /** The first attempt's request, written whole; its first non-empty token. */
  requestAt?: number;
  tokenAt?: number;
  /** The first AI reply frame to the socket that sent the message. */
  replyAt?: number;
}

type Kind = 'unknown' | 'other' | 'ws-client' | 'ws-server' | 'http-client' | 'http-server';

interface Flow {
  kind: Kind;
  buf: Buffer;
  /** HTTP header of this direction still to come (WebSocket handshake, or a request/response). */
  inHeader: boolean;
  /** ws-server: the message whose first reply frame is awaited. */
  awaiting?: WireTurn;
  /** http-client: requests in order, for the responses on the reverse direction. */
  requests?: (WireTurn | undefined)[];
  /** http-server: the response being read. */
  response?: Response;
}

interface Response extends BodyState {
  /** The message it answers, when it is its only attempt and the status is 200. */
  turn: WireTurn | undefined;
  /** Its events, until the first with text: eventsource-parser, fed the body as it arrives. */
  sse: EventSourceParser | undefined;
  text: StringDecoder;
}

const COMPLETIONS = /^POST [^ ]*\/chat\/completions /;

function newFlow(kind: Kind = 'unknown'): Flow {
  return { kind, buf: Buffer.alloc(0), inHeader: true };
}

/**
 * Reads every user message's timings out of a capture. `ports` (the server's and the provider's)
 * keeps other connections out: another run's messages can have the same texts.
 */
export function wireTurns(capture: Buffer, ports?: ReadonlySet<number>): Map<string, WireTurn> {
  const turns = new Map<string, WireTurn>();
  const flows = new Map<string, Flow>();

  /** The time of the segment being read: an event or a frame completed by it happened then. */
  let now = 0;

  const readResponse = (f: Flow, requests: (WireTurn | undefined)[]): void => {
    for (;;) {
      if (f.response === undefined) {
        const end = f.buf.indexOf(HEADER_END);
        if (end < 0) return;
        const head = f.buf.subarray(0, end).toString('latin1');
        f.buf = f.buf.subarray(end + 4);
        const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const answered = requests.shift();
        const turn = / 200 /.test(head.slice(0, 16)) ? answered : undefined;
        const r: Response = { turn, phase: chunked ? 'size' : 'length', left: length, sse: undefined, text: new StringDecoder('utf8') };
        if (turn !== undefined) {
          r.sse = createParser({
            onEvent: (event) => {
              if (r.sse === undefined || !hasText(event.data)) return;
              turn.tokenAt = now;
              r.sse = undefined;
            },
          });
        }
        f.response = r;
      }
      const r = f.response;
      const { body, done } = responseBody(r, f);
      if (r.sse !== undefined && body.length > 0) r.sse.feed(r.text.write(body));
      if (!done) return;
      f.response = undefined;
    }
  };

  for (const s of segments(capture)) {
    now = s.at;
    if (ports !== undefined && !ports.has(s.srcPort) && !ports.has(s.dstPort)) continue;
    if (s.syn) flows.set(s.flow, newFlow());
    if (s.payload.length === 0) continue;
    let f = flows.get(s.flow);
    if (f === undefined) flows.set(s.flow, (f = newFlow()));
    if (f.kind === 'other') continue;
    f.buf = f.buf.length === 0 ? s.payload : Buffer.concat([f.buf, s.payload]);
    if (f.kind === 'unknown') {
      // Told apart by the first request line, once the whole header is here.
      const end = f.buf.indexOf(HEADER_END);
      if (end < 0) {
        if (f.buf.length > 16384) f.kind = 'other';
        continue;
      }
      const head = f.buf.subarray(0, end).toString('latin1');
      if (head.startsWith('GET ') && /\r\nupgrade: *websocket/i.test(head)) {
        f.kind = 'ws-client';
        flows.set(s.reverse, newFlow('ws-server'));
      } else if (COMPLETIONS.test(head)) {
        f.kind = 'http-client';
        f.requests = [];
        flows.set(s.reverse, newFlow('http-server'));
      } else {
        f.kind = 'other';
        continue;
      }
    }
    if (f.kind === 'ws-client' || f.kind === 'ws-server') {
      if (f.inHeader) {
        const end = f.buf.indexOf(HEADER_END);
        if (end < 0) continue;
        f.buf = f.buf.subarray(end + 4);
        f.inHeader = false;
      }
      const at = s.at;
      if (f.kind === 'ws-client') {
        const server = flows.get(s.reverse);
        f.buf = wsFrames(f.buf, (text) => {
          if (!text.includes('"user_message"')) return;
          let frame: { type?: unknown; content?: unknown; session_id?: unknown };
          try {
            frame = JSON.parse(text) as typeof frame;
          } catch {
            return;
          }
          if (frame.type !== 'user_message' || typeof frame.content !== 'string' || frame.session_id !== undefined) return;
          if (turns.has(frame.content)) return;
          const turn: WireTurn = { userAt: at, attempts: 0 };
          turns.set(frame.content, turn);
          if (server !== undefined) server.awaiting = turn;
        });
      } else {
        f.buf = wsFrames(f.buf, (text) => {
          const turn = f.awaiting;
          if (turn === undefined || !text.includes('"ai_response"')) return;
          let frame: { type?: unknown; sender?: unknown };
          try {
            frame = JSON.parse(text) as typeof frame;
          } catch {
            return;
          }
          if (frame.type !== 'ai_response' || frame.sender !== 'ai') return;
          turn.replyAt = at;
          f.awaiting = undefined;
        });
      }
    } else if (f.kind === 'http-client') {
      for (;;) {
        const end = f.buf.indexOf(HEADER_END);
        if (end < 0) break;
        const head = f.buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (f.buf.length < end + 4 + length) break;
        const content = lastUser(f.buf.subarray(end + 4, end + 4 + length).toString('utf8'));
        f.buf = f.buf.subarray(end + 4 + length);
        const turn = content === undefined ? undefined : turns.get(content);
        if (turn !== undefined) {
          turn.attempts++;
          turn.requestAt ??= s.at;
        }
        f.requests!.push(turn?.attempts === 1 ? turn : undefined);
      }
    } else if (f.kind === 'http-server') {
      const client = flows.get(s.reverse);
      readResponse(f, client?.requests ?? []);
    }
  }
  return turns;
}

/** The server's share on the wire (ms) of each message one attempt answered, with its legs. */
/** A message answered by one attempt whose four moments are all on the wire: the only ones with a share. */
export const wholeOnWire = (t: WireTurn): t is Required<WireTurn> =>
  t.attempts === 1 && t.requestAt !== undefined && t.tokenAt !== undefined && t.replyAt !== undefined;

export function wireShares(turns: ReadonlyMap<string, WireTurn>): { content: string; userAt: number; in: number; out: number }[] {
  const out: { content: string; userAt: number; in: number; out: number }[] = [];
  for (const [content, t] of turns) {
    if (!wholeOnWire(t)) continue;
    out.push({ content, userAt: t.userAt, in: t.requestAt - t.userAt, out: t.replyAt - t.tokenAt });
  }
  return out;
}

type Share = { readonly userAt: number; readonly in: number; readonly out: number };

/** The p99 of the shares (in + out). */
function shareP99(shares: readonly Share[]): number {
  return quantile(
    shares.map((s) => s.in + s.out).sort((a, b) => a - b),
    0.99,
  );
}

/**
 * How bunched the tail is: the quarter-seconds (by the message's send time) that hold the
 * messages at or above the p99, and the quarter-seconds the messages span.
 */
export function tailMoments(shares: readonly Share[]): { slow: number; moments: number; span: number } {
  if (shares.length === 0) return { slow: 0, moments: 0, span: 0 };
  const p99 = shareP99(shares);
  let first = Infinity;
  let last = -Infinity;
  for (const s of shares) {
    first = Math.min(first, s.userAt);
    last = Math.max(last, s.userAt);
  }
  const slow = shares.filter((s) => s.in + s.out >= p99);
  return { slow: slow.length, moments: new Set(slow.map((s) => Math.floor((s.userAt - first) / 250))).size, span: Math.floor((last - first) / 250) + 1 };
}

export interface SecondRow {
  /** Whole seconds since the first message was sent. */
  readonly second: number;
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly inP99: number;
  readonly outP99: number;
  /** Messages of this second at or above the whole run's p99. */
  readonly slow: number;
}

/** The shares second by second (by send time): where in the run the tail falls (`--by-second`). */
export function bySecond(shares: readonly Share[]): SecondRow[] {
  if (shares.length === 0) return [];
  const whole = shareP99(shares);
  const first = Math.min(...shares.map((s) => s.userAt));
  const bins = new Map<number, Share[]>();
  for (const s of shares) {
    const second = Math.floor((s.userAt - first) / 1000);
    const bin = bins.get(second);
    if (bin === undefined) bins.set(second, [s]);
    else bin.push(s);
  }
  const q = (values: number[], p: number): number => quantile(values.sort((a, b) => a - b), p);
  return [...bins]
    .sort((a, b) => a[0] - b[0])
    .map(([second, bin]) => ({
      second,
      n: bin.length,
      p50: q(bin.map((s) => s.in + s.out), 0.5),
      p99: q(bin.map((s) => s.in + s.out), 0.99),
      inP99: q(bin.map((s) => s.in), 0.99),
      outP99: q(bin.map((s) => s.out), 0.99),
      slow: bin.filter((s) => s.in + s.out >= whole).length,
    }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const perSecond = args.includes('--by-second');
  const [file, portList] = args.filter((a) => a !== '--by-second');
  if (file === undefined) {
    console.error('usage: node --import tsx bench/load/wire.ts capture.pcap [serverPort,providerPort] [--by-second]');
    process.exit(2);
  }
  const turns = wireTurns(readFileSync(file), portList === undefined ? undefined : new Set(portList.split(',').map(Number)));
  const shares = wireShares(turns);
  const first = Math.min(...shares.map((s) => s.userAt));
  const last = Math.max(...shares.map((s) => s.userAt));
  const steady = shares.filter((s) => s.userAt >= first + (last - first) / 4);
  console.log(`user messages seen: ${turns.size}; answered by one attempt, whole on the wire: ${shares.length}`);
  console.log(`server share on the wire p50/p95/p99 ms: ${q3(shares.map((s) => s.in + s.out))}`);
  console.log(`  way in: ${q3(shares.map((s) => s.in))}; way out: ${q3(shares.map((s) => s.out))}`);
  console.log(`  after the first quarter (${steady.length}): ${q3(steady.map((s) => s.in + s.out))}`);
  if (perSecond) {
    console.log('second  messages  p50 ms  p99 ms  way in p99  way out p99  at or above the whole p99');
    for (const r of bySecond(shares)) {
      const f = (v: number): string => v.toFixed(1);
      console.log(`${r.second}`.padStart(6), `${r.n}`.padStart(9), f(r.p50).padStart(7), f(r.p99).padStart(7), f(r.inP99).padStart(11), f(r.outP99).padStart(12), `${r.slow}`.padStart(26));
    }
  }
}
