// Shared measuring helpers for the benchmarks: a manual GC handle, a bytes-per-operation probe and
// interleaved, paired timing rounds for ratio tables that survive a busy machine.
//
// mitata picks up `globalThis.gc` when its module is evaluated, so importing this module before
// mitata gives it a GC to run between benchmarks, without asking for `node --expose-gc`.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = () => void;

function exposeGc(): Gc {
  const existing = (globalThis as { gc?: Gc }).gc;
  if (typeof existing === 'function') return existing;
  // The documented V8 trick: turn the flag on, then fetch `gc` from a fresh context.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as Gc;
  (globalThis as { gc?: Gc }).gc = gc;
  return gc;
}

export const gc: Gc = exposeGc();

const usedHeap = (): number => getHeapStatistics().used_heap_size;

/**
 * Heap bytes allocated per call of `fn`: the median over `trials` blocks of `perTrial` calls, with
 * a full GC before each block. A young-generation collection inside a block makes that block read
 * low (even negative), which the median discards; the blocks are kept small (a few hundred KB of
 * garbage at most for the workloads here) so most blocks see none.
 */
export function bytesPerOp(fn: () => unknown, perTrial = 2_000, trials = 31): number {
  for (let i = 0; i < perTrial; i++) fn(); // warm up: JIT code and inline caches, not garbage
  const readings: number[] = [];
  for (let t = 0; t < trials; t++) {
    gc();
    const before = usedHeap();
    for (let i = 0; i < perTrial; i++) fn();
    readings.push((usedHeap() - before) / perTrial);
  }
  readings.sort((a, b) => a - b);
  return Math.max(0, readings[Math.floor(readings.length / 2)] ?? 0);
}

export interface Rounds<K extends string> {
  /** ns per call of each case, one reading per round. */
  readonly perRound: ReadonlyMap<K, readonly number[]>;
  readonly rounds: number;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/**
 * Times every case once per round, back to back, in a rotating order. On a shared machine the
 * contention changes from second to second; cases timed seconds apart (as mitata does, one after
 * another) see different contention, cases in the same round see nearly the same. Comparisons
 * then take the median of per-round differences or ratios, so common-mode noise cancels.
 *
 * Each reading calls the case `perRound` times through a loop generated for that case, so each
 * case has a monomorphic call site (the way mitata compiles its loops).
 */
export async function interleaved<K extends string>(
  cases: Readonly<Record<K, () => unknown>>,
  options: { readonly rounds?: number; readonly perRound?: number } = {},
): Promise<Rounds<K>> {
  const rounds = options.rounds ?? 31;
  const n = options.perRound ?? 10_000;
  const ids = Object.keys(cases) as K[];
  type Loop = (fn: () => unknown, n: number) => unknown;
  const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => Loop;
  const loops = new Map<K, Loop>();
  for (const id of ids) {
    // A fresh function per case: its own inline caches, not one megamorphic shared loop. Async
    // cases are awaited one at a time, as a scraper would call them.
    const first = cases[id]();
    if (first instanceof Promise) {
      await first;
      loops.set(id, new AsyncFunction('fn', 'n', 'for (let i = 0; i < n; i++) await fn();'));
    } else {
      loops.set(id, new Function('fn', 'n', 'for (let i = 0; i < n; i++) fn();') as Loop);
    }
  }
  const perRound = new Map<K, number[]>(ids.map((id) => [id, []]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < ids.length; k++) {
      const id = ids[(round + k) % ids.length] as K;
      const loop = loops.get(id) as Loop;
      const t0 = performance.now();
      await loop(cases[id], n);
      perRound.get(id)?.push(((performance.now() - t0) * 1e6) / n);
    }
  }
  return { perRound, rounds };
}

/** Median ns per call of one case. */
export function nsPerOp<K extends string>(r: Rounds<K>, id: K): number {
  return median(r.perRound.get(id) ?? []);
}

/** Median over rounds of (a - b), in ns. */
export function pairedDiff<K extends string>(r: Rounds<K>, a: K, b: K): number {
  const xs = r.perRound.get(a) ?? [];
  const ys = r.perRound.get(b) ?? [];
  return median(xs.map((x, i) => x - (ys[i] ?? Number.NaN)));
}

/** Median over rounds of a / b. */
export function pairedRatio<K extends string>(r: Rounds<K>, a: K, b: K): number {
  const xs = r.perRound.get(a) ?? [];
  const ys = r.perRound.get(b) ?? [];
  return median(xs.map((x, i) => x / (ys[i] ?? Number.NaN)));
}
