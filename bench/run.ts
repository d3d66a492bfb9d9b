// The benchmark runner behind `npm run bench`: finds every bench/**/*.bench.ts, runs each one in
// its own child process (`node --import tsx <file>`), one after another so they never compete for
// the two cores, streams their output, and prints a summary.
//
//   npm run bench                 every benchmark
//   npm run bench -- events ws    only files whose path contains "events" or "ws"
//   npm run bench -- --list       list the files that would run
//
// Limits (seconds) come from BENCH_FILE_TIMEOUT (default 90) and BENCH_TOTAL_TIMEOUT (default 300).
// A file that passes its limit is killed with its whole process group (a benchmark may start a
// server child of its own). Exit status is 1 if any file failed, timed out or was not run.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type Outcome = 'ok' | 'failed' | 'timed out' | 'not run';

export interface FileResult {
  /** Path relative to the project root, with `/` separators. */
  readonly file: string;
  readonly outcome: Outcome;
  readonly seconds: number;
  /** Exit code, signal or reason, for the summary. */
  readonly detail: string;
}

export interface RunOptions {
  /** Directory the child runs in (where `tsx` resolves); the project root by default. */
  readonly cwd: string;
  readonly timeoutMs: number;
  /** Time between SIGTERM and SIGKILL when a file times out. */
  readonly graceMs?: number;
  /** Where the child's stdout/stderr go; inherited (streamed to the terminal) by default. */
  readonly stdio?: 'inherit' | 'ignore';
}

export const BENCH_SUFFIX = '.bench.ts';
const DEFAULT_FILE_TIMEOUT_S = 90;
const DEFAULT_TOTAL_TIMEOUT_S = 300;

/** bench/ (this file's folder) and the project root above it. */
export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every `*.bench.ts` below `dir`, as sorted paths relative to `root` with `/` separators. */
export function findBenchFiles(dir = BENCH_DIR, root = PROJECT_ROOT): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(BENCH_SUFFIX)) found.push(relative(root, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return found.sort();
}

/** Files whose path contains any of `filters` (all files when there is none). */
export function selectFiles(files: readonly string[], filters: readonly string[]): string[] {
  if (filters.length === 0) return [...files];
  return files.filter((f) => filters.some((needle) => f.includes(needle)));
}

/** Runs one benchmark file in a child process; never rejects. */
export function runFile(file: string, options: RunOptions): Promise<FileResult> {
  const started = performance.now();
  const elapsed = (): number => (performance.now() - started) / 1000;
  const graceMs = options.graceMs ?? 2000;
  return new Promise((resolve) => {
    // detached: the child leads its own process group, so a timeout kills its children too.
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: options.cwd,
      stdio: ['ignore', options.stdio ?? 'inherit', options.stdio ?? 'inherit'],
      detached: true,
    });
    current = child.pid;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => {
      timedOut = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceMs);
    }, options.timeoutMs);

    let settled = false;
    const finish = (outcome: Outcome, detail: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(limit);
      if (killTimer !== undefined) clearTimeout(killTimer);
      current = undefined;
      // Whatever the file left behind (a server it spawned) goes with it.
      signalGroup(child.pid, 'SIGKILL');
      resolve({ file, outcome, seconds: elapsed(), detail });
    };
    child.on('error', (error) => finish('failed', `could not start: ${error.message}`));
    child.on('exit', (code, signal) => {
      if (timedOut) finish('timed out', `killed after ${(options.timeoutMs / 1000).toFixed(0)} s`);
      else if (code === 0) finish('ok', 'exit 0');
      else finish('failed', signal !== null ? `signal ${signal}` : `exit ${code}`);
    });
  });
}

/** The process group of the file running now, so an interrupted runner can take it down. */
let current: number | undefined;

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export interface RunAllOptions {
  readonly cwd: string;
  readonly fileTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly stdio?: 'inherit' | 'ignore';
  /** Called before each file starts (the CLI prints a banner). */
  readonly onStart?: (file: string, index: number, count: number) => void;
}

/**
 * Runs `files` one after another. Each gets the per-file limit or what is left of the overall
 * one, whichever is smaller; files that find no time left are reported as not run.
 */
export async function runAll(files: readonly string[], options: RunAllOptions): Promise<FileResult[]> {
  const deadline = performance.now() + options.totalTimeoutMs;
  const results: FileResult[] = [];
  for (const [index, file] of files.entries()) {
    const left = deadline - performance.now();
    if (left < 1000) {
      results.push({ file, outcome: 'not run', seconds: 0, detail: 'overall time limit reached' });
      continue;
    }
    options.onStart?.(file, index, files.length);
    const timeoutMs = Math.min(options.fileTimeoutMs, left);
    results.push(await runFile(file, { cwd: options.cwd, timeoutMs, stdio: options.stdio ?? 'inherit' }));
  }
  return results;
}

/** A plain-text table: one row per file, then a total line. */
export function formatSummary(results: readonly FileResult[]): string {
  const width = Math.max(4, ...results.map((r) => r.file.length));
  const rows = [
    `${'file'.padEnd(width)}  ${'result'.padEnd(9)}  ${'seconds'.padStart(7)}  detail`,
    `${'-'.repeat(width)}  ${'-'.repeat(9)}  ${'-'.repeat(7)}  ------`,
    ...results.map(
      (r) => `${r.file.padEnd(width)}  ${r.outcome.padEnd(9)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.detail}`,
    ),
  ];
  const ok = results.filter((r) => r.outcome === 'ok').length;
  const total = results.reduce((s, r) => s + r.seconds, 0);
  rows.push('', `${ok}/${results.length} ok in ${total.toFixed(1)} s`);
  return rows.join('\n');
}

export const allOk = (results: readonly FileResult[]): boolean => results.every((r) => r.outcome === 'ok');

function secondsFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`bench: ignoring ${name}=${raw} (want a positive number of seconds); using ${fallback}\n`);
    return fallback;
  }
  return value;
}

async function main(argv: readonly string[]): Promise<number> {
  const list = argv.includes('--list');
  const filters = argv.filter((a) => !a.startsWith('--'));
  const all = findBenchFiles();
  const files = selectFiles(all, filters);
  if (files.length === 0) {
    process.stderr.write(
      `bench: no benchmark matches ${filters.map((f) => JSON.stringify(f)).join(' or ')}; available:\n` +
        all.map((f) => `  ${f}\n`).join(''),
    );
    return 1;
  }
  if (list) {
    process.stdout.write(files.map((f) => `${f}\n`).join(''));
    return 0;
  }

  const fileTimeoutMs = secondsFromEnv('BENCH_FILE_TIMEOUT', DEFAULT_FILE_TIMEOUT_S) * 1000;
  const totalTimeoutMs = secondsFromEnv('BENCH_TOTAL_TIMEOUT', DEFAULT_TOTAL_TIMEOUT_S) * 1000;
  const interrupt = (signal: NodeJS.Signals): void => {
    signalGroup(current, 'SIGKILL');
    process.stderr.write(`\nbench: interrupted by ${signal}\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const results = await runAll(files, {
    cwd: PROJECT_ROOT,
    fileTimeoutMs,
    totalTimeoutMs,
    onStart: (file, index, count) => process.stdout.write(`\n=== [${index + 1}/${count}] ${file}\n\n`),
  });
  process.stdout.write(`\n=== summary (node ${process.version})\n\n${formatSummary(results)}\n`);
  return allOk(results) ? 0 : 1;
}

// Run only as a script, not when a test imports the functions above.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
