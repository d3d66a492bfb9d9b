// The wire reading of a load run: a capture made of one user's turn (WebSocket frames, the
// provider's request and its chunked SSE answer), cut into segments anywhere, gives the same
// timings; other connections and other turns do not get mixed in.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { segments } from '../../bench/load/pcap.js';
import { bySecond, tailMoments, wireShares, wireTurns } from '../../bench/load/wire.js';

interface Packet {
  at: number;
  src: number;
  dst: number;
  syn?: boolean;
  payload?: Buffer;
}

/** A classic pcap (ns stamps, Ethernet) of IPv4 TCP segments on 127.0.0.1, sequence numbers kept per direction. */
function pcap(packets: readonly Packet[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b23c4d, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  const seq = new Map<string, number>();
  const out = [head];
  for (const p of packets) {
    const payload = p.payload ?? Buffer.alloc(0);
    const key = `${p.src}>${p.dst}`;
    const s = p.syn ? 1000 : (seq.get(key) ?? 1001);
    seq.set(key, p.syn ? 1001 : s + payload.length);
    const frame = Buffer.alloc(14 + 20 + 20 + payload.length);
    frame.writeUInt16BE(0x0800, 12);
    frame[14] = 0x45;
    frame.writeUInt16BE(40 + payload.length, 16);
    frame[23] = 6;
    for (const o of [26, 30]) frame.set([127, 0, 0, 1], o);
    frame.writeUInt16BE(p.src, 34);
    frame.writeUInt16BE(p.dst, 36);
    frame.writeUInt32BE(s, 38);
    frame[46] = 5 << 4;
    frame[47] = p.syn ? 0x02 : 0x18;
    payload.copy(frame, 54);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(p.at / 1000), 0);
    rec.writeUInt32LE(Math.round((p.at % 1000) * 1e6), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    out.push(rec, frame);
  }
  return Buffer.concat(out);
}

/** A WebSocket text frame; masked as a client sends it. */
function wsText(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, len]) : Buffer.from([0x81, 126, len >> 8, len & 0xff]);
  if (!masked) return Buffer.concat([head, payload]);
  head[1] = (head[1] as number) | 0x80;
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.from(payload.map((b, i) => b ^ (mask[i & 3] as number)));
  return Buffer.concat([head, mask, body]);
}

const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
const sse = (content: string): string => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;

const CLIENT = 40000;
const SERVER = 8080;
const UPSTREAM = 41000;
const PROVIDER = 9090;

/** One byte stream's writes: [time, bytes]. */
type Writes = [number, Buffer][];

/** The streams of one turn: user frame at 10, request at 13, first token at 320, reply frame at 322. */
function turn(content: string): { client: Writes; server: Writes; upstream: Writes; provider: Writes } {
  const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'earlier' }, { role: 'assistant', content: 'x' }, { role: 'user', content }] });
  return {
    client: [
      [1, Buffer.from('GET /chatbox/ws?token=t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')],
      [10, wsText(JSON.stringify({ type: 'user_message', content }), true)],
    ],
    server: [
      [2, Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n')],
      [3, wsText(JSON.stringify({ type: 'connection_status', status: 'connected' }), false)],
      [12, wsText(JSON.stringify({ type: 'loading', session_id: 's' }), false)],
      [322, Buffer.concat([wsText(JSON.stringify({ type: 'ai_response', sender: 'ai', content: 'Token' }), false), wsText(JSON.stringify({ type: 'ai_response', sender: 'ai', content: ' more' }), false)])],
    ],
    upstream: [[13, Buffer.from(`POST /openai/v1/chat/completions HTTP/1.1\r\nhost: p\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)]],
    provider: [
      [15, Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${chunk(sse(''))}`)],
      [320, Buffer.from(chunk(sse('Token')))],
      [360, Buffer.from(`${chunk(sse(' more'))}${chunk('data: [DONE]\n\n')}0\r\n\r\n`)],
    ],
  };
}

/** Packets for `writes` on src->dst, each write cut at the given fractions into segments stamped with its time. */
function cutInto(writes: Writes, src: number, dst: number, cuts: readonly number[]): Packet[] {
  const out: Packet[] = [];
  writes.forEach(([at, bytes], w) => {
    const c = Math.floor((cuts[w % cuts.length] ?? 0) * bytes.length);
    for (const part of c > 0 && c < bytes.length ? [bytes.subarray(0, c), bytes.subarray(c)] : [bytes]) out.push({ at, src, dst, payload: part });
  });
  return out;
}

function capture(content: string, cuts: readonly number[] = [0]): Buffer {
  const t = turn(content);
  const packets: Packet[] = [
    { at: 0, src: CLIENT, dst: SERVER, syn: true },
    { at: 0, src: SERVER, dst: CLIENT, syn: true },
    { at: 0, src: UPSTREAM, dst: PROVIDER, syn: true },
    { at: 0, src: PROVIDER, dst: UPSTREAM, syn: true },
    ...cutInto(t.client, CLIENT, SERVER, cuts),
    ...cutInto(t.server, SERVER, CLIENT, cuts),
    ...cutInto(t.upstream, UPSTREAM, PROVIDER, cuts),
    ...cutInto(t.provider, PROVIDER, UPSTREAM, cuts),
  ];
  // Capture order is time order (a stable sort keeps each stream's own order).
  return pcap(packets.map((p, i) => ({ p, i })).sort((a, b) => a.p.at - b.p.at || a.i - b.i).map(({ p }) => p));
}

describe('bench/load/wire: the server share from a capture', () => {
  it('reads a turn whole: in = request - user frame, out = reply frame - first token with text', () => {
    const turns = wireTurns(capture('message 1 from user 0'));
    expect(turns.get('message 1 from user 0')).toEqual({ userAt: 10, attempts: 1, requestAt: 13, tokenAt: 320, replyAt: 322 });
    const [share] = wireShares(turns);
    expect(share?.in).toBeCloseTo(3, 6);
    expect(share?.out).toBeCloseTo(2, 6);
  });

  it('gives the same timings however the writes are cut into segments', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }), (cuts) => {
        expect(wireTurns(capture('message 2 from user 1', cuts)).get('message 2 from user 1')).toEqual({
          userAt: 10,
          attempts: 1,
          requestAt: 13,
          tokenAt: 320,
          replyAt: 322,
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps connections on other ports out when told the run’s ports', () => {
    expect(wireTurns(capture('m'), new Set([1234, PROVIDER])).size).toBe(0);
    expect(wireTurns(capture('m'), new Set([SERVER, PROVIDER])).size).toBe(1);
  });

  it('leaves out a message answered by more than one attempt', () => {
    const t = turn('retried');
    const again = t.upstream[0]![1];
    const packets: Packet[] = [
      ...cutInto(t.client, CLIENT, SERVER, [0]),
      ...cutInto(t.server, SERVER, CLIENT, [0]),
      { at: 13, src: UPSTREAM, dst: PROVIDER, payload: again },
      { at: 14, src: PROVIDER, dst: UPSTREAM, payload: Buffer.from('HTTP/1.1 429 Too Many Requests\r\ncontent-length: 2\r\n\r\n{}') },
      { at: 16, src: UPSTREAM, dst: PROVIDER, payload: again },
      ...cutInto(t.provider, PROVIDER, UPSTREAM, [0]).map((p) => ({ ...p, at: p.at + 1 })),
    ];
    const turns = wireTurns(pcap(packets));
    expect(turns.get('retried')?.attempts).toBe(2);
    expect(wireShares(turns)).toEqual([]);
  });

  it('refuses what is not a classic pcap file', () => {
    expect(() => [...segments(Buffer.from('0a0d0d0a'.repeat(8), 'hex'))]).toThrow(/pcap/);
  });
});

describe('bench/load/wire: how bunched the tail is', () => {
  it('counts the quarter-seconds that hold the messages at or above the p99', () => {
    // 200 messages 10 ms apart (2 s, 8 quarter-seconds); the two slowest sit in one of them.
    const shares = Array.from({ length: 200 }, (_, i) => ({ userAt: 1000 + i * 10, in: i === 120 || i === 121 ? 50 : 1, out: 1 }));
    expect(tailMoments(shares)).toEqual({ slow: 2, moments: 1, span: 8 });
    expect(tailMoments([])).toEqual({ slow: 0, moments: 0, span: 0 });
  });
});

describe('bench/load/wire: the shares second by second', () => {
  it('bins by send time and counts, in each second, the messages at or above the whole p99', () => {
    // 300 messages 10 ms apart (3 s); the three slowest (way in 50, 60, 70 ms) all in the second second.
    const slowIn = new Map([[150, 50], [151, 60], [152, 70]]);
    const shares = Array.from({ length: 300 }, (_, i) => ({ userAt: 5000 + i * 10, in: slowIn.get(i) ?? 1, out: i === 250 ? 9 : 1 }));
    const rows = bySecond(shares);
    expect(rows.map((r) => [r.second, r.n, r.slow])).toEqual([
      [0, 100, 0],
      [1, 100, 3],
      [2, 100, 0],
    ]);
    expect(rows[1]).toMatchObject({ p50: 2, p99: 71, inP99: 70, outP99: 1 });
    expect(rows[2]).toMatchObject({ p99: 10, outP99: 9 });
    expect(bySecond([])).toEqual([]);
  });
});
