import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROJECT_ROOT,
  allOk,
  findBenchFiles,
  formatSummary,
  runAll,
  runFile,
  selectFiles,
} from '../../bench/run.js';

let dir: string;
const path = (...parts: string[]): string => join(dir, ...parts);

function write(relativePath: string, text: string): string {
  const full = path(relativePath);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, text);
  return full;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chatbox-bench-run-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('findBenchFiles / selectFiles', () => {
  it('finds every *.bench.ts below the folder, nested, sorted, relative with / separators', () => {
    write('tree/events/emit.bench.ts', '');
    write('tree/ws/deep/throughput.bench.ts', '');
    write('tree/llm/stream.bench.ts', '');
    write('tree/events/helper.ts', '');
    write('tree/events/emit.bench.ts.orig', '');
    write('tree/node_modules/x/y.bench.ts', '');
    expect(findBenchFiles(path('tree'), dir)).toEqual([
      'tree/events/emit.bench.ts',
      'tree/llm/stream.bench.ts',
      'tree/ws/deep/throughput.bench.ts',
    ]);
  });

  it('keeps files whose path contains any filter, or all files without filters', () => {
    const files = ['bench/events/emit.bench.ts', 'bench/metrics/render.bench.ts', 'bench/ws/throughput.bench.ts'];
    expect(selectFiles(files, [])).toEqual(files);
    expect(selectFiles(files, ['events'])).toEqual(['bench/events/emit.bench.ts']);
    expect(selectFiles(files, ['ws', 'render'])).toEqual(['bench/metrics/render.bench.ts', 'bench/ws/throughput.bench.ts']);
    expect(selectFiles(files, ['nothing'])).toEqual([]);
  });

  it('finds the real benchmarks of this repository', () => {
    const files = findBenchFiles();
    expect(files).toContain('bench/events/emit.bench.ts');
    expect(files).toContain('bench/metrics/render.bench.ts');
    expect(files.every((f) => f.startsWith('bench/') && f.endsWith('.bench.ts'))).toBe(true);
  });
});

describe('runFile / runAll', () => {
  const quiet = { cwd: PROJECT_ROOT, stdio: 'ignore' } as const;

  it('reports ok for a file that exits 0, and runs it as TypeScript', async () => {
    const file = write('ok.bench.ts', "const n: number = 1;\nif (n !== 1) process.exit(9);\n");
    const result = await runFile(file, { ...quiet, timeoutMs: 20_000 });
    expect(result).toMatchObject({ file, outcome: 'ok', detail: 'exit 0' });
    expect(result.seconds).toBeGreaterThan(0);
  });

  it('reports failed with the exit code for a file that fails', async () => {
    const file = write('fail.bench.ts', 'process.exitCode = 3;\n');
    expect(await runFile(file, { ...quiet, timeoutMs: 20_000 })).toMatchObject({ outcome: 'failed', detail: 'exit 3' });
  });

  it('kills a file that runs past its limit, together with the processes it started', async () => {
    const pidFile = path('grandchild.pid');
    const file = write(
      'hang.bench.ts',
      [
        "import { spawn } from 'node:child_process';",
        "import { writeFileSync } from 'node:fs';",
        "const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });",
        `writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));`,
        "process.on('SIGTERM', () => {}); // ignores the polite signal: the runner must escalate",
        'setInterval(() => {}, 1000);',
      ].join('\n'),
    );
    const result = await runFile(file, { ...quiet, timeoutMs: 5_000, graceMs: 300 });
    expect(result.outcome).toBe('timed out');
    expect(result.seconds).toBeLessThan(12);
    expect(existsSync(pidFile)).toBe(true);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    // Give the kernel a moment to reap it.
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
  });

  it('runs files one after another and marks those past the overall limit as not run', async () => {
    const slow = write('slow.bench.ts', 'setTimeout(() => {}, 2500);\n');
    const never = write('never.bench.ts', '');
    const started: string[] = [];
    const results = await runAll([slow, never], {
      ...quiet,
      fileTimeoutMs: 20_000,
      totalTimeoutMs: 2_000,
      onStart: (f) => started.push(f),
    });
    expect(started).toEqual([slow]);
    expect(results.map((r) => r.outcome)).toEqual(['timed out', 'not run']);
    expect(allOk(results)).toBe(false);
  });

  it('summarises every file with its outcome and seconds', () => {
    const text = formatSummary([
      { file: 'bench/a.bench.ts', outcome: 'ok', seconds: 1.25, detail: 'exit 0' },
      { file: 'bench/b.bench.ts', outcome: 'failed', seconds: 0.5, detail: 'exit 1' },
    ]);
    expect(text).toMatch(/bench\/a\.bench\.ts\s+ok\s+1\.3\s+exit 0/);
    expect(text).toMatch(/bench\/b\.bench\.ts\s+failed\s+0\.5\s+exit 1/);
    expect(text).toContain('1/2 ok');
    expect(allOk([{ file: 'x', outcome: 'ok', seconds: 0, detail: '' }])).toBe(true);
  });
});
