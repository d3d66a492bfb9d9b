// A start that fails (here: the port is taken) releases what it had set up: no subscriber is left
// on the bus, so nothing keeps counting or holding the process for an app that never ran.
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createBus } from '../../src/events/bus.js';
import { EVENT_NAMES } from '../../src/events/catalog.js';
import { createSessionStore } from '../../src/storage/index.js';
import { fakeReplies } from '../support/fake-replies.js';
import { TEST_SECRET } from '../support/server.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function takenPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe.each(['uws', 'ws'] as const)('a failed start over %s', (transport) => {
  it('rejects and leaves no subscriber on the bus', async () => {
    const { server, port } = await takenPort();
    const dataDir = mkdtempSync(join(tmpdir(), 'chatbox-failed-start-'));
    dirs.push(dataDir);
    const config = loadConfig({ PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: TEST_SECRET, DATA_DIR: dataDir, STORE: 'memory', TRANSPORT: transport });
    const bus = createBus();
    const store = await createSessionStore({ kind: 'memory', instanceId: 'failed', dataDir, bus });
    try {
      await expect(startApp({ config, store, replies: fakeReplies(), logger: pino({ level: 'silent' }), bus })).rejects.toThrow();
      expect(EVENT_NAMES.filter((name) => bus.has(name))).toEqual([]);
    } finally {
      server.close();
      await store.close();
    }
  });
});
