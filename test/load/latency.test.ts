// The load report's latency rows: the server's share is the client's wait minus the provider's
// own time, and the after-warm-up row holds exactly the messages sent after it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { latencyRows, quantile, touched, type Turn } from '../../bench/load/latency.js';
import type { Pause } from '../../bench/load/harness-self.js';

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

  it('keeps apart the after-warm-up messages whose way in and out no harness GC pause touched', () => {
    const turns = new Map<string, Turn>([
      ['early', { sentAt: 0, firstAt: 110, opensSession: true }],
      ['clean', { sentAt: 200, firstAt: 305, opensSession: false }],
      ['thinking', { sentAt: 400, firstAt: 503, opensSession: false }],
      ['in', { sentAt: 600, firstAt: 720, opensSession: false }],
      ['out', { sentAt: 800, firstAt: 920, opensSession: false }],
    ]);
    // The provider takes 100 ms each, received 1 ms after the send.
    const timing = (c: string) => {
      const t = turns.get(c)!;
      return { receivedAt: t.sentAt + 1, firstChunkAt: t.sentAt + 101 };
    };
    const pauses: Pause[] = [
      [5, 8], // before warm-up ends: not counted either way
      [450, 460], // while the provider thinks: provider time, the share is untouched
      [600, 601], // on the way in
      [910, 915], // on the way out
    ];
    const rows = latencyRows(turns, timing, 100, 'w', pauses);
    expect(label(rows, '  messages sent after warm-up')).toContain('; 4)');
    expect(label(rows, '    of which no harness GC pause')).toContain('(2)');
    // clean 5 and thinking 3 (in and out would read 20)
    expect(value(rows, '    of which no harness GC pause')).toBe('5.0 / 5.0 / 5.0');
  });

  it('finds a pause between two times exactly when one meets the interval', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(50), fc.nat(10)), { maxLength: 20 }), fc.nat(600), fc.nat(60), (gaps, from, len) => {
        // Sorted, non-overlapping pauses built from gaps and lengths.
        const pauses: Pause[] = [];
        let t = 0;
        for (const [gap, d] of gaps) {
          t += gap + 1;
          pauses.push([t, t + d]);
          t += d;
        }
        const to = from + len;
        const brute = pauses.some(([s, e]) => s <= to && e >= from);
        expect(touched(pauses, from, to)).toBe(brute);
      }),
    );
  });

  it('quantile takes the value at the rank below q of a sorted list', () => {
    expect(quantile([], 0.5)).toBeNaN();
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
  });
});
