// The browser app's pure parts, run in Node: error wording for every code, message checks, the
// console's merge of overlapping metric pushes, its filters and sort, and reply assembly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/events/catalog.js';
import type { LiveMetricsJson, SessionJson } from '../../src/protocol/wire.js';
import { matches, NO_FILTERS, query, sorted } from '../../src/web/console/filters.js';
import { emptyBuffer, merge } from '../../src/web/console/metrics-buffer.js';
import { checkMessage, describeError, MAX_MESSAGE_BYTES } from '../../src/web/lib/errors.js';
import { applyReply } from '../../src/web/lib/transcript.js';

describe('error wording', () => {
  it.each(ERROR_CODES)('says something a person can act on for %s', (code) => {
    const text = describeError({ code: code as ErrorCode, message: 'detail', recoverable: true });
    expect(text.length).toBeGreaterThan(10);
  });
  it('tells when to retry after RATE_LIMITED', () => {
    expect(describeError({ code: 'RATE_LIMITED', message: 'x', recoverable: true, retry_after: 2500 })).toContain('Try again in 3 seconds');
    expect(describeError({ code: 'RATE_LIMITED', message: 'x', recoverable: true, retry_after: 10 })).toContain('Try again in 1 second.');
  });
  it('refuses empty and over-long messages before sending', () => {
    expect(checkMessage('  \n')).toBe('Type a message first.');
    expect(checkMessage('é'.repeat(MAX_MESSAGE_BYTES / 2 + 1))).toContain('too long');
    expect(checkMessage('hello')).toBeUndefined();
  });
});

function push(t: readonly number[]): LiveMetricsJson {
  const v = t.map((x) => x % 7);
  return {
    interval_seconds: 1,
    providers: ['demo'],
    points: {
      t,
      connections: v,
      sessions: v,
      frames_in: v,
      frames_out: v,
      llm_attempts: { demo: v },
      llm_errors: { demo: v },
      ttft_p50: v.map(() => null),
      ttft_p95: v,
    },
    current: { connections: 1, sessions: 1, frames_in_total: 0, frames_out_total: 0, llm_attempts_total: {}, llm_errors_total: {}, ttft_p50: null, ttft_p95: null },
  };
}

describe('console metrics buffer', () => {
  it('keeps each second once, in order, at most 15 minutes, whatever the pushes overlap', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 40 })), { maxLength: 30 }), (pushes) => {
        let buf = emptyBuffer();
        for (const [start, length] of pushes) buf = merge(buf, push(Array.from({ length }, (_, i) => start + i)));
        for (let i = 1; i < buf.t.length; i++) expect(buf.t[i]!).toBeGreaterThan(buf.t[i - 1]!);
        expect(buf.t.length).toBeLessThanOrEqual(900);
        for (const values of Object.values(buf.series)) expect(values.length).toBe(buf.t.length);
        buf.t.forEach((t, i) => expect(buf.series['frames_in']![i]).toBe(t % 7));
      }),
    );
  });
});

const session = (over: Partial<SessionJson>): SessionJson => ({
  id: 's',
  name: null,
  model_id: 'm',
  is_active: true,
  started_at: '2026-01-01T00:00:00.000Z',
  ended_at: null,
  message_count: 0,
  admin_assisted: false,
  user_id: 'u',
  last_activity: '2026-01-01T00:00:00.000Z',
  duration_seconds: 0,
  tokens: 0,
  admin_name: null,
  help_requested: false,
  ...over,
});

describe('console filters', () => {
  it('builds the admin listing query and applies the same test to pushed rows', () => {
    const f = { ...NO_FILTERS, active: 'true' as const, user: ' bob ', sort: 'tokens' as const, order: 'asc' as const };
    expect(new URLSearchParams(query(f)).get('user_id')).toBe('bob');
    expect(query(f)).toContain('sort=tokens');
    expect(matches(f, session({ user_id: 'bob' }))).toBe(true);
    expect(matches(f, session({ user_id: 'bob', is_active: false }))).toBe(false);
    expect(matches(f, session({ user_id: 'ann' }))).toBe(false);
    const rows = sorted([session({ id: 'a', tokens: 5 }), session({ id: 'b', tokens: 1 })], f);
    expect(rows.map((r) => r.id)).toEqual(['b', 'a']);
  });
});

describe('reply assembly', () => {
  it('joins streamed chunks into one line and closes it on done', () => {
    const frame = (content: string, done: string) => ({ type: 'ai_response' as const, sender: 'ai' as const, timestamp: 't', content, metadata: { streaming: 'true', done } });
    let lines = applyReply([], frame('Hel', 'false'));
    lines = applyReply(lines, frame('lo', 'false'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ text: 'Hello', streaming: true });
    lines = applyReply(lines, frame('', 'true'));
    expect(lines[0]).toMatchObject({ text: 'Hello', streaming: false });
    // An admin's whole message is a line of its own.
    lines = applyReply(lines, { type: 'ai_response', sender: 'admin', timestamp: 't', content: 'Hi', metadata: { streaming: 'false', done: 'true', admin_name: 'Rita' } });
    expect(lines[1]).toMatchObject({ who: 'Rita', text: 'Hi', streaming: false });
  });
});
