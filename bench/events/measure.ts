// Shared measuring helpers for the benchmarks: a manual GC handle and a bytes-per-operation probe.
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
