// frameText writes a reply's frames by hand: the text must be JSON.stringify's, byte for byte,
// whatever the strings hold (quotes, backslashes, control characters, non-ASCII, lone surrogates).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameText, quote, SessionFrame } from '../../src/protocol/frame-text.js';
import type { Sender, ServerFrameType } from '../../src/protocol/wire.js';
import { sessionFrame } from '../../src/router/server-frames.js';

const TYPES: ServerFrameType[] = ['loading', 'ai_response', 'user_message', 'admin_join', 'admin_leave', 'notification', 'typing_indicator', 'error'];
const SENDERS: Sender[] = ['user', 'ai', 'admin', 'system'];
// Any UTF-16 code unit: lone surrogates and control characters included.
const anyText = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const someText = fc.oneof(anyText, fc.string({ maxLength: 40 }), fc.constantFrom('', 'ok', '"', '\\', '\n', 'é', '😀', '\ud800', '1', '__proto__'));
const record = fc.dictionary(someText, someText, { maxKeys: 5 });

describe('frameText', () => {
  it('writes every session frame exactly as JSON.stringify does', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TYPES),
        fc.constantFrom(...SENDERS),
        fc.option(someText, { nil: undefined }),
        fc.option(someText, { nil: undefined }),
        fc.option(record, { nil: undefined }),
        someText,
        someText,
        (type, sender, content, modelId, metadata, sessionId, timestamp) => {
          const frame = new SessionFrame(type, sender, content, modelId, metadata, sessionId, timestamp);
          expect(frameText(frame)).toBe(JSON.stringify(frame));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('leaves metadata values that are not strings to JSON.stringify', () => {
    const metadata = { a: 'x', b: undefined, c: 3 } as unknown as Record<string, string>;
    const frame = new SessionFrame('ai_response', 'ai', 'hi', undefined, metadata, 's1', 't');
    expect(frameText(frame)).toBe(JSON.stringify(frame));
    expect(frameText(frame)).toContain('"metadata":{"a":"x","c":3}');
  });

  it('serialises the router frames (loading, chunk, done) and every other frame as JSON.stringify does', () => {
    const frames = [
      sessionFrame('s-1', { type: 'loading', sender: 'ai', model_id: 'gpt-4o' }),
      sessionFrame('s-1', { type: 'ai_response', sender: 'ai', content: 'Hé "quoted"\n', metadata: { streaming: 'true', done: 'false' } }),
      sessionFrame('s-1', { type: 'ai_response', sender: 'ai', content: '', metadata: { streaming: 'true', done: 'true', model_id: 'm' } }),
      { type: 'connection_status', sender: 'system', timestamp: 't', user_id: 'u', models: [{ id: 'a', name: 'A' }] } as const,
    ];
    for (const frame of frames) expect(frameText(frame)).toBe(JSON.stringify(frame));
    expect(frames[0]).toBeInstanceOf(SessionFrame);
  });

  it('quotes strings as JSON.stringify does', () => {
    fc.assert(fc.property(someText, (s) => {
        expect(quote(s)).toBe(JSON.stringify(s));
      }), { numRuns: 2000 });
  });
});
