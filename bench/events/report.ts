// Small printing helpers shared by the benchmarks: aligned plain-text tables and a machine line
// (the figures mean little without the Node version and CPU they came from).
import { cpus } from 'node:os';

export type Row = readonly string[];

/** Left-aligns the first column, right-aligns the others. */
export function formatTable(header: Row, rows: readonly Row[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: Row): string =>
    r
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** "node v20.x, <cpu model> x <cores>" */
export function machine(): string {
  const list = cpus();
  const cpu = list[0]?.model ?? 'unknown CPU';
  return `node ${process.version}, ${cpu} x ${list.length} cores, ${process.platform}-${process.arch}`;
}
