// The load report's latency rows: the server's share is the client's wait minus the provider's
// own time, and the after-warm-up row holds exactly the messages sent after it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { latencyRows, quantile, type Turn } from '../../bench/load/latency.js';

const value = (rows: [string, string][], label: string): string => rows.find(([k]) => k.startsWith(label))?.[1] ?? '';
const label = (rows: [string, string][], start: string): string => rows.find(([k]) => k.startsWith(start))?.[0] ?? '';

describe('latencyRows', () => {
  it('subtracts the provider time, splits the legs and keeps the after-warm-up messages apart', () => {
    const turns = new Map<string, Turn>([
      ['a', { sentAt: 0, firstAt: 110, opensSession: true }],
      ['b', { sentAt: 100, firstAt: 203, opensSession: false }],
      ['c', { sentAt: 200, firstAt: 350, opensSession: false }],
      ['retried', { sentAt: 300, firstAt: 900, opensSession: false }],
    ]);
    // The provider took 100 ms for each; 'retried' took several attempts (no timing).
    const timing = (content: string) =>
      ({ a: { receivedAt: 4, firstChunkAt: 104 }, b: { receivedAt: 101, firstChunkAt: 201 }, c: { receivedAt: 230, firstChunkAt: 330 } })[
        content as 'a' | 'b' | 'c'
      ];
    const rows = latencyRows(turns, timing, 100, 'the first 100 ms');
    // shares: a 10, b 3, c 50; inbound 4, 1, 30; outbound 6, 2, 20
    expect(label(rows, 'server share')).toContain('3 single-attempt replies');
    expect(value(rows, 'server share')).toBe('10.0 / 50.0 / 50.0');
    expect(value(rows, '  of which: client send')).toBe('4.0 / 30.0 / 30.0');
    expect(value(rows, '  of which: provider first token')).toBe('6.0 / 20.0 / 20.0');
    expect(label(rows, '  messages that continue')).toContain('(2;');
    expect(value(rows, '  messages that continue')).toBe('50.0 / 50.0 / 50.0');
    expect(label(rows, '  messages sent after warm-up')).toBe('  messages sent after warm-up (the first 100 ms; 2)');
    expect(value(rows, '  messages sent after warm-up')).toBe('50.0 / 50.0 / 50.0');
  });

  it('counts every message sent at or after the end of warm-up, whatever the times', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), fc.nat(500)), { maxLength: 50 }), fc.nat(1000), (xs, from) => {
        const turns = new Map<string, Turn>(xs.map(([sent, wait], i) => [`m${i}`, { sentAt: sent, firstAt: sent + wait, opensSession: i === 0 }]));
        const rows = latencyRows(turns, () => ({ receivedAt: 0, firstChunkAt: 0 }), from, 'w');
        const expected = xs.filter(([sent]) => sent >= from).length;
        expect(label(rows, '  messages sent after warm-up')).toBe(`  messages sent after warm-up (w; ${expected})`);
      }),
    );
  });

  it('quantile takes the value at the rank below q of a sorted list', () => {
    expect(quantile([], 0.5)).toBeNaN();
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
  });
});
