// The several-replicas load run, short: three real replicas, a Redis of its own stopped and
// restarted, one replica killed; nothing acknowledged is lost, every reply reaches the user's
// device on the other replica, and the summed gauges agree with the store.
import { describe, expect, it } from 'vitest';
import { printReport } from '../../bench/load/harness.js';
import { runReplicaLoad } from '../../bench/load/replicas.js';

describe('several-replicas load run (short)', () => {
  it('reconciles against the store and the metrics summed over the replicas, faults included', async () => {
    const lines: string[] = [];
    const report = await runReplicaLoad({ replicas: 3, users: 12, durationS: 16, faults: true, messageIntervalMs: 800, log: (l) => lines.push(l) });
    printReport(report, (l) => lines.push(l));
    console.log(lines.join('\n'));
    expect(report.mismatches).toEqual([]);
    const row = (label: string) => report.rows.find(([k]) => k.startsWith(label))?.[1] ?? '';
    expect(Number(row('user messages acknowledged'))).toBeGreaterThan(50);
    expect(row('replicas alive at the end')).toBe('2 / 3');
    expect(Number(row('frames dropped, unreachable'))).toBeGreaterThan(0);
  }, 120_000);
});
