// The JSON text of a server frame, byte for byte what JSON.stringify gives. A reply's frames
// (loading, every chunk, done) are written by hand: V8's JSON.stringify of a small object costs
// ~0.8 us here, most of it fixed cost per call, against ~0.3 us for the same text built from
// quoted fields (bench/protocol/frame-text.bench.ts). Every other frame goes through
// JSON.stringify. test/protocol/frame-text.test.ts holds the two to the same output.
import type { Sender, ServerFrame, ServerFrameType } from './wire.js';

/**
 * A frame about one session (router/server-frames.ts builds every one): always these fields in
 * this order, the ones left undefined not serialised, as JSON.stringify does.
 */
export class SessionFrame implements ServerFrame {
  constructor(
    readonly type: ServerFrameType,
    readonly sender: Sender,
    readonly content: string | undefined,
    readonly model_id: string | undefined,
    readonly metadata: Readonly<Record<string, string>> | undefined,
    readonly session_id: string,
    readonly timestamp: string,
  ) {}
}

/**
 * `s` as a JSON string literal. Printable ASCII without `"` or `\` stands as it is (ids,
 * timestamps, most chunks); anything else is JSON.stringify's (escapes, lone surrogates).
 */
export function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s);
  }
  return `"${s}"`;
}

function recordText(record: Readonly<Record<string, string>>): string {
  let text = '{';
  for (const key in record) {
    const value: unknown = record[key];
    // Typed string; anything else (undefined, left out) is JSON.stringify's to write.
    if (typeof value !== 'string') return JSON.stringify(record);
    text += `${text.length === 1 ? '' : ','}${quote(key)}:${quote(value)}`;
  }
  return `${text}}`;
}

// A reply's frames come one after another for one session, within the same millisecond more
// often than not, and share one frozen metadata object for all chunks but the last: one-entry
// caches for the first two and a weak map for the third save a few string allocations per frame
// (garbage the server pays for in GC).
let lastSession = '';
let lastSessionText = '""';
let lastTimestamp = '';
let lastTimestampText = '""';
const recordTexts = new WeakMap<object, string>();

function sessionText(id: string): string {
  if (id !== lastSession) {
    lastSession = id;
    lastSessionText = quote(id);
  }
  return lastSessionText;
}

function timestampText(ts: string): string {
  if (ts !== lastTimestamp) {
    lastTimestamp = ts;
    lastTimestampText = quote(ts);
  }
  return lastTimestampText;
}

/** Frozen records (the chunks' shared metadata, the done frame's per model) cannot change: their text is kept. */
function metadataText(record: Readonly<Record<string, string>>): string {
  const known = recordTexts.get(record);
  if (known !== undefined) return known;
  const text = recordText(record);
  if (Object.isFrozen(record)) recordTexts.set(record, text);
  return text;
}

export function frameText(frame: ServerFrame): string {
  if (!(frame instanceof SessionFrame)) return JSON.stringify(frame);
  // type and sender are the protocol's own words: nothing to escape.
  let text = `{"type":"${frame.type}","sender":"${frame.sender}"`;
  if (frame.content !== undefined) text += `,"content":${quote(frame.content)}`;
  if (frame.model_id !== undefined) text += `,"model_id":${quote(frame.model_id)}`;
  if (frame.metadata !== undefined) text += `,"metadata":${metadataText(frame.metadata)}`;
  return `${text},"session_id":${sessionText(frame.session_id)},"timestamp":${timestampText(frame.timestamp)}}`;
}
