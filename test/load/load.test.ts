// A short whole-system run (real server process, fake provider with faults, a few hundred
// users for ~20 s) that must reconcile exactly: a regression in any component that breaks the
// metrics' truth fails CI here.
import { describe, expect, it } from 'vitest';
import { printReport, runLoad } from '../../bench/load/harness.js';

describe('whole-system load run (short)', () => {
  it('loses nothing and every counter in /metrics matches the harness tally', async () => {
    const lines: string[] = [];
    const report = await runLoad({
      users: 200,
      durationS: 20,
      faults: true,
      messageIntervalMs: 2000,
      admins: 3,
      idleSockets: 100,
      ttftMs: 100,
      chunkMs: 20,
      chunks: 6,
      store: (process.env['LOAD_STORE'] as 'memory' | 'sqlite' | undefined) ?? 'sqlite',
      seed: 7,
      log: (l) => lines.push(l),
    });
    printReport(report, (l) => lines.push(l));
    console.log(lines.join('\n'));
    expect(report.mismatches).toEqual([]);
    const row = (label: string) => report.rows.find(([k]) => k.startsWith(label))?.[1] ?? '';
    // The run really ran: messages, replies, takeovers and faults all happened.
    expect(Number(row('user messages sent').split(' ')[0])).toBeGreaterThan(500);
    expect(Number(row('takeovers / handbacks').split(' / ')[0])).toBeGreaterThan(0);
    expect(row('error frames by code')).toContain('INVALID');
    expect(row('hung conversations')).toBe('0');
    // Quiet users stay connected for the whole run, and the gauge saw them all.
    expect(row('idle sockets held for the whole run')).toBe('100 / 0');
    expect(Number(row('peak connections').split(' / ')[0])).toBeGreaterThanOrEqual(300);
    // The server share is measured and split into its two legs.
    expect(row('  of which: client send')).toMatch(/^\d+\.\d \/ /);
    expect(row('  messages sent after warm-up')).toMatch(/^\d+\.\d \/ /);
    // What the harness itself cost while it measured: its CPU and its GC pauses.
    expect(row('harness CPU')).toMatch(/^\d+\.\d s \/ \d+ %; [1-9]\d* \/ \d+ ms \/ \d+\.\d ms$/);
    // Reported, not asserted: under heavy CPU contention a fresh socket is occasionally dropped
    // (1006) right after its upgrade; the clients reconnect and nothing is lost (see the table).
    if (row('sockets the server closed unasked') !== 'none') console.warn(`unexpected closes: ${row('sockets the server closed unasked')}`);
  }, 120_000);
});
