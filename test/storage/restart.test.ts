// Restart and crash behaviour of the embedded store: data survives, sessions this instance had
// open when its process died are ended with reason `shutdown` at the next init, the gauge
// agrees with the store from the first scrape, and a returning user can resume.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { createSqlStore } from '../../src/storage/sql/sql-store.js';
import { createSqliteDriver } from '../../src/storage/sql/sqlite-driver.js';
import { instrumentStore } from '../../src/storage/instrument.js';
import { freshDataDir } from './support.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function open(dataDir: string, instanceId: string) {
  return createSqlStore(await createSqliteDriver({ dataDir }), { instanceId });
}

describe('SQLite store across restarts', () => {
  it('keeps data, ends the dead process’s open sessions at init, and the gauge agrees from the first scrape', async () => {
    const dir = freshDataDir();
    dirs.push(dir);
    const first = await open(dir, 'node-1');
    await first.init();
    const a = await first.createSession({ userId: 'alice', modelId: 'm' });
    const b = await first.createSession({ userId: 'bob', modelId: 'm' });
    const c = await first.createSession({ userId: 'carol', modelId: 'm' });
    await first.appendMessage(a.id, { sender: 'user', content: 'hi' });
    await first.appendMessage(a.id, { sender: 'ai', content: 'hello', inputTokens: 3, outputTokens: 5 });
    await first.endSession(c.id, 'user');
    expect(first.openSessionCount()).toBe(2);
    // No endAllOpen: the process "dies" with two sessions open.
    await first.close();

    const bus = createBus();
    const registry = createMetricsRegistry();
    const second = await open(dir, 'node-1');
    const store = instrumentStore(second, bus);
    attachMetrics(bus, registry, { providers: [], gauges: { connections: () => 0, sessions: () => store.openSessionCount() } });
    await store.init();
    expect(second.recoveredAtInit()).toBe(2);
    expect(store.openSessionCount()).toBe(0);
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/^chatbox_active_sessions_total 0$/m);

    const restored = await store.getSession(a.id);
    expect(restored).toMatchObject({ isActive: false, endReason: 'shutdown', name: 'hi', messageCount: 2 });
    expect(restored?.messages.map((m) => [m.sender, m.content, m.outputTokens])).toEqual([
      ['user', 'hi', 0],
      ['ai', 'hello', 5],
    ]);
    expect(await store.findSession(b.id)).toMatchObject({ isActive: false, endReason: 'shutdown' });
    expect(await store.findSession(c.id)).toMatchObject({ isActive: false, endReason: 'user' });

    // The user comes back with the same session id: reopened, messages intact, counted.
    expect(await store.resumeSession(a.id)).toMatchObject({ isActive: true, messageCount: 2 });
    expect(store.openSessionCount()).toBe(1);
    expect(await registry.metrics()).toMatch(/^chatbox_active_sessions_total 1$/m);
    expect((await store.appendMessage(a.id, { sender: 'user', content: 'back' })).seq).toBe(3);
    await store.close();
  });

  it('leaves sessions of other instances open', async () => {
    const dir = freshDataDir();
    dirs.push(dir);
    const one = await open(dir, 'node-1');
    await one.init();
    const s = await one.createSession({ userId: 'u', modelId: 'm' });
    await one.close();
    const two = await open(dir, 'node-2');
    await two.init();
    expect(two.recoveredAtInit()).toBe(0);
    expect(two.openSessionCount()).toBe(0);
    expect(await two.findSession(s.id)).toMatchObject({ isActive: true });
    await two.close();
  });

  it('loses no acknowledged message when the process is killed with SIGKILL', async () => {
    const dir = freshDataDir();
    dirs.push(dir);
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), dir, 'node-1', 'crash-session'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let acked = 0;
    let buffered = '';
    const killed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child acknowledged only ${acked} messages in time`)), 25_000);
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line.startsWith('ack ')) acked = Math.max(acked, Number(line.slice(4)));
        if (acked >= 50 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await killed;
    await new Promise((resolve) => child.once('exit', resolve));
    const store = await open(dir, 'node-1');
    await store.init();
    const session = await store.getSession('crash-session');
    expect(session?.endReason).toBe('shutdown');
    const seqs = session?.messages.map((m) => m.seq) ?? [];
    // Every acknowledged append is there, in order, without gaps (one more may have landed).
    expect(seqs.length).toBeGreaterThanOrEqual(acked);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(session?.messages[acked - 1]?.content).toBe(`message ${acked}`);
    expect(store.openSessionCount()).toBe(0);
    await store.close();
  });
});
