// The byte-level readers behind wire.ts: WebSocket frames (masked or not), an HTTP/1.1 body
// (chunked or of known length) as it arrives, and the two bits of JSON the timings need (a chat
// request's last user message, whether an SSE event carries text).

export const HEADER_END = Buffer.from('\r\n\r\n');

/** Where a body reader is: a chunk-size line, a chunk's data, its CRLF, the end; or a body of known length. */
export interface BodyState {
  phase: 'size' | 'data' | 'crlf' | 'trailer' | 'length';
  left: number;
}

/** Frames of a WebSocket byte stream (masked or not); returns the bytes not yet a whole frame. */
export function wsFrames(buf: Buffer, onText: (text: string) => void): Buffer {
  let o = 0;
  for (;;) {
    if (buf.length - o < 2) break;
    const b0 = buf[o] as number;
    const b1 = buf[o + 1] as number;
    let len = b1 & 0x7f;
    let h = o + 2;
    if (len === 126) {
      if (buf.length - h < 2) break;
      len = buf.readUInt16BE(h);
      h += 2;
    } else if (len === 127) {
      if (buf.length - h < 8) break;
      len = Number(buf.readBigUInt64BE(h));
      h += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const mask = h;
    if (masked) h += 4;
    if (buf.length - h < len) break;
    if ((b0 & 0x0f) === 1) {
      const payload = Buffer.from(buf.subarray(h, h + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (buf[mask + (i & 3)] as number);
      onText(payload.toString('utf8'));
    }
    o = h + len;
  }
  return o === 0 ? buf : buf.subarray(o);
}

/** The body bytes of a response that are here (chunked or of known length), and whether it ended. */
export function responseBody(r: BodyState, f: { buf: Buffer }): { body: Buffer; done: boolean } {
  const parts: Buffer[] = [];
  const body = (): Buffer => (parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
  for (;;) {
    if (r.phase === 'size') {
      const eol = f.buf.indexOf('\r\n');
      if (eol < 0) break;
      const size = Number.parseInt(f.buf.subarray(0, eol).toString('latin1'), 16);
      f.buf = f.buf.subarray(eol + 2);
      r.left = size;
      r.phase = size === 0 ? 'trailer' : 'data';
    } else if (r.phase === 'data' || r.phase === 'length') {
      const take = Math.min(r.left, f.buf.length);
      parts.push(f.buf.subarray(0, take));
      f.buf = f.buf.subarray(take);
      r.left -= take;
      if (r.left > 0) break;
      if (r.phase === 'length') return { body: body(), done: true };
      r.phase = 'crlf';
    } else {
      // After a chunk's data its CRLF; after the last chunk an empty trailer's CRLF.
      if (f.buf.length < 2) break;
      f.buf = f.buf.subarray(2);
      if (r.phase === 'trailer') return { body: body(), done: true };
      r.phase = 'size';
    }
  }
  return { body: body(), done: false };
}

/** The last user message of an OpenAI-style request body, if any. */
export function lastUser(body: string): string | undefined {
  try {
    const messages = (JSON.parse(body) as { messages?: { role?: string; content?: unknown }[] }).messages ?? [];
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i];
      if (m?.role === 'user' && typeof m.content === 'string') return m.content;
    }
  } catch {
    // not JSON: not a chat request
  }
  return undefined;
}

/** True when an SSE event's data is a chat chunk with text in it (not the role-only first one, not [DONE]). */
export function hasText(data: string): boolean {
  try {
    const chunk = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[] };
    const content = chunk.choices?.[0]?.delta?.content;
    return typeof content === 'string' && content !== '';
  } catch {
    return false;
  }
}
