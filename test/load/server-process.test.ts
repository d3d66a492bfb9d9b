// The load harness (and every test that starts the real server as a process) runs it the way
// `npm start` does: with package.json's Node flags, then the harness's own (--pauses' probe), then
// LOAD_SERVER_NODE_FLAGS, which can override them (V8 keeps the last value of a repeated flag).
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { shippedNodeFlags, startServerProcess, type ServerProcess } from '../../bench/load/server-process.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
const argv = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');

describe('the server process the harness starts', () => {
  let server: ServerProcess | undefined;
  const before = process.env['LOAD_SERVER_NODE_FLAGS'];
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    if (before === undefined) delete process.env['LOAD_SERVER_NODE_FLAGS'];
    else process.env['LOAD_SERVER_NODE_FLAGS'] = before;
  });

  it('reads the flags between `node` and `dist/main.js` in npm start', () => {
    const flags = shippedNodeFlags();
    expect(flags).toContain('--max-semi-space-size=64');
    expect(flags).toContain('--heap-growing-percent=100');
    expect(pkg.scripts.start.endsWith(`node ${flags.join(' ')} dist/main.js`)).toBe(true);
  });

  it("runs with those flags first, the harness's next and LOAD_SERVER_NODE_FLAGS last", async () => {
    process.env['LOAD_SERVER_NODE_FLAGS'] = '--max-semi-space-size=16';
    server = await startServerProcess({ JWT_SECRET: 'server-process-test-secret-0123456789abcdef', STORE: 'memory', DATABASE_URL: '' }, undefined, [
      '--max-semi-space-size=32',
    ]);
    const args = argv(server.child.pid as number);
    const at = (flag: string): number => args.indexOf(flag);
    for (const flag of shippedNodeFlags()) expect(at(flag)).toBeGreaterThan(0);
    expect(at('--max-semi-space-size=32')).toBeGreaterThan(at('--max-semi-space-size=64'));
    expect(at('--max-semi-space-size=16')).toBeGreaterThan(at('--max-semi-space-size=32'));
    expect(args.at(-1)).toMatch(/main\.(ts|js)$/);
  });
});
