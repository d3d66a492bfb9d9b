// `npm run load -- --capture --pauses`: the server's probe logs real GC pauses and loop gaps on the
// wall clock, and each slow message is put down to the worst pause on its way in or out (never
// one that fell in the provider's own time between the two legs).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CAUSES, PAUSE_PROBE, causeOf, parsePauses, pauseRows, slowCauses, type Pause } from '../../bench/load/pauses.js';
import type { WireTurn } from '../../bench/load/wire.js';

const turn = (userAt: number, requestAt: number, tokenAt: number, replyAt: number): Required<WireTurn> => ({ userAt, requestAt, tokenAt, replyAt, attempts: 1 });
const gc = (kind: 'mark-compact' | 'scavenge', at: number, ms: number): Pause => ({ kind, at, ms, ran: NaN, waited: NaN });
const gap = (at: number, ms: number, ran: number, waited: number): Pause => ({ kind: 'gap', at, ms, ran, waited });

describe('parsePauses', () => {
  it('reads the probe lines, counts marking steps with mark-compacts, and leaves out weak callbacks and junk', () => {
    const text = [
      'gap 1000.5 12.000 10.000 1.000',
      'gc 900.25 major 7.5',
      'gc 950 incremental 2',
      'gc 960 minor 6.1',
      'gc 970 weak 0.2',
      'gc x minor 1',
      'gap 1100 nope 1 1',
      '',
    ].join('\n');
    expect(parsePauses(text)).toEqual([
      gc('mark-compact', 900.25, 7.5),
      gc('mark-compact', 950, 2),
      gc('scavenge', 960, 6.1),
      gap(1000.5, 12, 10, 1),
    ]);
  });
});

describe('causeOf', () => {
  const t = turn(100, 110, 410, 420);
  it('puts a message down to the worst pause on either leg: mark-compact, then scavenge, then the longest gap', () => {
    expect(causeOf(t, [gap(101, 9, 8, 0), gc('scavenge', 412, 5), gc('mark-compact', 405, 7)])).toBe('mark-compact');
    expect(causeOf(t, [gap(101, 9, 8, 0), gc('scavenge', 412, 5)])).toBe('scavenge');
    expect(causeOf(t, [gap(101, 9, 8, 0), gap(409, 10, 1, 8)])).toBe('gap: waiting for a core');
    expect(causeOf(t, [gap(101, 9, 8, 0)])).toBe('gap: running');
    expect(causeOf(t, [gap(101, 9, 1, 1)])).toBe('gap: neither');
  });
  it('ignores pauses in the provider time between the legs and outside the message', () => {
    expect(causeOf(t, [gc('mark-compact', 200, 50), gc('scavenge', 90, 10), gc('scavenge', 420, 3)])).toBe('none');
  });
});

const arbTurn = fc
  .tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 40 }))
  .map(([at, inMs, provider, outMs]) => turn(at, at + inMs, at + inMs + provider, at + inMs + provider + outMs));
const arbPause = fc.oneof(
  fc.tuple(fc.constantFrom('mark-compact' as const, 'scavenge' as const), fc.integer({ min: 0, max: 10_500 }), fc.integer({ min: 1, max: 30 })).map(([k, at, ms]) => gc(k, at, ms)),
  fc.tuple(fc.integer({ min: 0, max: 10_500 }), fc.integer({ min: 9, max: 60 }), fc.nat({ max: 60 }), fc.nat({ max: 60 })).map(([at, ms, ran, waited]) => gap(at, ms, ran, waited)),
);

describe('slowCauses', () => {
  it('counts every message at or above the p99 once, whatever the pauses', () => {
    fc.assert(
      fc.property(fc.array(arbTurn, { minLength: 1, maxLength: 300 }), fc.array(arbPause, { maxLength: 60 }), (turns, pauses) => {
        const r = slowCauses(turns, pauses);
        const shares = turns.map((x) => x.requestAt - x.userAt + x.replyAt - x.tokenAt);
        expect(r.slow).toBe(shares.filter((s) => s >= r.p99).length);
        expect([...r.byCause.values()].reduce((a, b) => a + b, 0)).toBe(r.slow);
        expect([...r.byCause.keys()]).toEqual([...CAUSES]);
      }),
    );
  });
  it('is not moved by pauses that touch no leg, and a pause over the whole run takes every slow message', () => {
    fc.assert(
      fc.property(fc.array(arbTurn, { minLength: 1, maxLength: 200 }), fc.array(arbPause, { maxLength: 40 }), (turns, pauses) => {
        const before = slowCauses(turns, pauses);
        const after = slowCauses(turns, [...pauses, gc('mark-compact', -1_000, 500), gap(20_000, 50, 50, 0)]);
        expect(after.byCause).toEqual(before.byCause);
        const all = slowCauses(turns, [...pauses, gc('mark-compact', -1, 20_000)]);
        expect(all.byCause.get('mark-compact')).toBe(all.slow);
      }),
    );
  });
  it('leaves out messages that took more than one attempt or are not whole on the wire', () => {
    const r = slowCauses([turn(0, 50, 60, 70), { userAt: 0, attempts: 2, requestAt: 900, tokenAt: 901, replyAt: 999 }, { userAt: 5, attempts: 1 }], [gc('scavenge', 10, 5)]);
    expect(r).toMatchObject({ slow: 1, p99: 60 });
    expect(r.byCause.get('scavenge')).toBe(1);
  });
});

describe('pauseRows', () => {
  it('prints the split and the pause totals', () => {
    const rows = pauseRows([turn(0, 30, 100, 110), turn(0, 1, 100, 101)], [gap(5, 10, 2, 7), gc('scavenge', 500, 4), gc('mark-compact', 600, 9)]);
    expect(rows[0]?.[1]).toBe('0 / 0 / 1 (0 / 1 / 0) / 0');
    expect(rows[1]?.[1]).toBe('1 / 9.0; 1 / 4.0 / 4.0; 1 / 2 / 7 / 1');
  });
});

describe('the probe in a real process', () => {
  it('logs a forced mark-compact and a blocked loop on the wall clock, with the main thread running through the block', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pause-probe-'));
    const log = join(dir, 'pauses.log');
    try {
      // A 60 ms busy block of the loop, then a full GC; the probe flushes at exit.
      const script = 'setTimeout(() => { const end = Date.now() + 60; while (Date.now() < end); globalThis.gc(); setTimeout(() => {}, 30); }, 30);';
      const from = Date.now();
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--expose-gc', '--import', PAUSE_PROBE, '-e', script], { env: { ...process.env, LOAD_PAUSE_LOG: log }, stdio: 'ignore' });
        child.once('exit', resolve);
      });
      const to = Date.now();
      expect(code).toBe(0);
      const pauses = parsePauses(readFileSync(log, 'utf8'));
      const within = (p: Pause): boolean => p.at >= from - 5 && p.at + p.ms <= to + 5;
      expect(pauses.some((p) => p.kind === 'mark-compact' && within(p))).toBe(true);
      const block = pauses.filter((p) => p.kind === 'gap' && p.ms >= 55 && within(p));
      expect(block).toHaveLength(1);
      // Busy the whole time: running, or runnable and waiting for a core on a loaded machine.
      expect(block[0]!.ran + block[0]!.waited).toBeGreaterThan(0.7 * block[0]!.ms);
      expect(block[0]!.ran).toBeGreaterThan(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
