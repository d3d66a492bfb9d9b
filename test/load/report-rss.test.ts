// The soak's second-half RSS row: a dip in the first half (a heap still finding its size) does not
// read as growth, a steady climb in the second half does, and one odd sample moves neither end.
import { describe, expect, it } from 'vitest';
import { secondHalfRss } from '../../bench/load/report.js';

const MIB = 2 ** 20;

describe('secondHalfRss', () => {
  it('compares the median of the tenth that starts the second half with the median of the last tenth', () => {
    // 100 samples: a dip around the quarter mark, then flat at 260 MiB from the middle on.
    const flat = Array.from({ length: 100 }, (_, i) => (i < 20 ? 180 : i < 30 ? 140 : i < 50 ? 230 : 260) * MIB);
    expect(secondHalfRss(flat)).toEqual({ from: 260 * MIB, to: 260 * MIB });
    // A leak: +1 MiB a sample all along.
    const leak = Array.from({ length: 100 }, (_, i) => (200 + i) * MIB);
    const { from, to } = secondHalfRss(leak);
    expect(from).toBe(255 * MIB);
    expect(to).toBe(295 * MIB);
  });
  it('is not moved by one outlying sample in either window', () => {
    const xs = Array.from({ length: 100 }, () => 250 * MIB);
    xs[52] = 400 * MIB;
    xs[97] = 100 * MIB;
    expect(secondHalfRss(xs)).toEqual({ from: 250 * MIB, to: 250 * MIB });
  });
  it('has nothing to say with fewer than two samples', () => {
    expect(secondHalfRss([])).toEqual({ from: undefined, to: undefined });
    expect(secondHalfRss([1])).toEqual({ from: undefined, to: undefined });
  });
});
