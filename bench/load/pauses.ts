// Which of the server's pauses the slowest messages waited for (`npm run load -- --capture
// --pauses`): the server logs its GC pauses and event-loop gaps (bench/load/pause-probe.mjs) on the
// wall clock the capture uses, and each message at or above the wire's p99 is put down to the
// worst pause that overlapped its way in or its way out. A tail made of mark-compacts wants a
// different fix from one made of waiting for a core.
import { quantile } from './latency.js';
import { wholeOnWire, type WireTurn } from './wire.js';

/** The probe the server is started with (`node --import`). */
export const PAUSE_PROBE = new URL('./pause-probe.mjs', import.meta.url).href;

export type PauseKind = 'mark-compact' | 'scavenge' | 'gap';

/** One pause of the server's main thread, Unix-epoch ms. */
export interface Pause {
  readonly kind: PauseKind;
  readonly at: number;
  readonly ms: number;
  /** Gaps: how long the main thread ran, and waited for a core, in them (NaN when unknown). */
  readonly ran: number;
  readonly waited: number;
}

/** A slow message's cause: the first of these that overlapped it. */
export const CAUSES = ['mark-compact', 'scavenge', 'gap: running', 'gap: waiting for a core', 'gap: neither', 'none'] as const;
export type Cause = (typeof CAUSES)[number];

/** The probe's log (pause-probe.mjs); weak-callback passes and unreadable lines are left out. */
export function parsePauses(text: string): Pause[] {
  const out: Pause[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    const at = Number(f[1]);
    if (f[0] === 'gc') {
      const ms = Number(f[3]);
      // An incremental marking step is part of the mark-compact it leads to.
      const kind = f[2] === 'major' || f[2] === 'incremental' ? 'mark-compact' : f[2] === 'minor' ? 'scavenge' : undefined;
      if (kind !== undefined && Number.isFinite(at) && Number.isFinite(ms)) out.push({ kind, at, ms, ran: NaN, waited: NaN });
    } else if (f[0] === 'gap') {
      const ms = Number(f[2]);
      if (Number.isFinite(at) && Number.isFinite(ms)) out.push({ kind: 'gap', at, ms, ran: Number(f[3]), waited: Number(f[4]) });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/** A gap's side: most of it running (work, or GC helpers' pauses), most of it runnable but off a core, or neither (blocked). */
function gapCause(p: Pause): Cause {
  if (p.ran >= p.ms / 2) return 'gap: running';
  if (p.waited >= p.ms / 2) return 'gap: waiting for a core';
  return 'gap: neither';
}

const overlaps = (p: Pause, from: number, to: number): boolean => p.at < to && p.at + p.ms > from;

/** The cause of one message's time: the worst pause on either of its two legs. */
export function causeOf(turn: Required<Pick<WireTurn, 'userAt' | 'requestAt' | 'tokenAt' | 'replyAt'>>, pauses: readonly Pause[]): Cause {
  let best: Cause = 'none';
  let longestGap: Pause | undefined;
  for (const p of pauses) {
    if (!overlaps(p, turn.userAt, turn.requestAt) && !overlaps(p, turn.tokenAt, turn.replyAt)) continue;
    if (p.kind === 'mark-compact') return 'mark-compact';
    if (p.kind === 'scavenge') best = 'scavenge';
    else if (longestGap === undefined || p.ms > longestGap.ms) longestGap = p;
  }
  return best === 'none' && longestGap !== undefined ? gapCause(longestGap) : best;
}

export interface SlowCauses {
  /** The whole run's p99 of the wire share, the threshold. */
  readonly p99: number;
  readonly slow: number;
  readonly byCause: ReadonlyMap<Cause, number>;
}

/** The messages answered by one attempt at or above the run's p99 (in + out), by cause. */
export function slowCauses(turns: Iterable<WireTurn>, pauses: readonly Pause[]): SlowCauses {
  const whole: { turn: Required<WireTurn>; share: number }[] = [];
  for (const turn of turns) {
    if (wholeOnWire(turn)) whole.push({ turn, share: turn.requestAt - turn.userAt + (turn.replyAt - turn.tokenAt) });
  }
  const p99 = quantile(whole.map((w) => w.share).sort((a, b) => a - b), 0.99);
  const byCause = new Map<Cause, number>(CAUSES.map((c) => [c, 0]));
  let slow = 0;
  for (const w of whole) {
    if (!(w.share >= p99)) continue;
    slow++;
    const c = causeOf(w.turn, pauses);
    byCause.set(c, (byCause.get(c) as number) + 1);
  }
  return { p99, slow, byCause };
}

const median = (xs: number[]): number => quantile(xs.sort((a, b) => a - b), 0.5);
const longest = (xs: readonly number[]): number => xs.reduce((m, x) => Math.max(m, x), 0);

/** The report's rows for `--pauses`. */
export function pauseRows(turns: Iterable<WireTurn>, pauses: readonly Pause[]): [string, string][] {
  const { p99, slow, byCause } = slowCauses(turns, pauses);
  const n = (c: Cause): number => byCause.get(c) as number;
  const of = (k: PauseKind): Pause[] => pauses.filter((p) => p.kind === k);
  const mc = of('mark-compact');
  const sc = of('scavenge').map((p) => p.ms);
  const gaps = of('gap');
  const sum = (f: (p: Pause) => number): string => gaps.reduce((s, p) => s + (Number.isFinite(f(p)) ? f(p) : 0), 0).toFixed(0);
  return [
    [
      `  at or above the whole run's p99 (${slow}, >= ${p99.toFixed(1)} ms), by server pause: mark-compact / scavenge / gap (ran / waited / neither) / none`,
      `${n('mark-compact')} / ${n('scavenge')} / ${n('gap: running') + n('gap: waiting for a core') + n('gap: neither')} (${n('gap: running')} / ${n('gap: waiting for a core')} / ${n('gap: neither')}) / ${n('none')}`,
    ],
    [
      'server pauses: mark-compact n / longest ms; scavenge n / p50 / max ms; gaps > 8 ms n / ran / waited / neither ms',
      `${mc.length} / ${longest(mc.map((p) => p.ms)).toFixed(1)}; ${sc.length} / ${sc.length === 0 ? '-' : median(sc).toFixed(1)} / ${longest(sc).toFixed(1)}; ${gaps.length} / ${sum((p) => p.ran)} / ${sum((p) => p.waited)} / ${sum((p) => Math.max(0, p.ms - p.ran - p.waited))}`,
    ],
  ];
}
