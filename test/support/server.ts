// Starts a real chat server on 127.0.0.1 (an ephemeral port) for end-to-end tests, with a
// memory store, and gives tests what they need: tokens, clients and a scraper.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createBus, type Bus } from '../../src/events/bus.js';
import type { ReplySource } from '../../src/llm/types.js';
import { createSessionStore } from '../../src/storage/index.js';
import type { SessionStore } from '../../src/storage/types.js';
import { parseExposition, type Exposition } from './exposition.js';
import { fakeReplies } from './fake-replies.js';
import { connectClient, type TestClient } from './ws-client.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestServer {
  readonly app: App;
  readonly bus: Bus;
  readonly store: SessionStore;
  token(userId: string, options?: { admin?: boolean; name?: string }): Promise<string>;
  connect(token: string, options?: { sessionId?: string; headers?: Record<string, string> }): Promise<TestClient>;
  scrape(): Promise<Exposition>;
  /** One metric value as /metrics shows it (0 when the series is absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export async function startTestServer(
  options: {
    transport?: 'uws' | 'ws';
    env?: Record<string, string>;
    replies?: (bus: Bus) => ReplySource;
    store?: (bus: Bus) => Promise<SessionStore>;
    /** Default: silent. */
    logger?: Logger;
    /** The built web app to serve (default dist/web). */
    webDir?: string;
  } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chatbox-test-'));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: TEST_SECRET,
    DATA_DIR: dataDir,
    STORE: 'memory',
    LOG_LEVEL: 'silent',
    TRANSPORT: options.transport ?? 'uws',
    ...options.env,
  });
  const bus = createBus();
  const store = options.store
    ? await options.store(bus)
    : await createSessionStore({ kind: 'memory', instanceId: 'test', dataDir, bus });
  const replies = options.replies?.(bus) ?? fakeReplies();
  const app = await startApp({
    config,
    store,
    replies,
    logger: options.logger ?? pino({ level: 'silent' }),
    bus,
    ...(options.webDir === undefined ? {} : { webDir: options.webDir }),
  });
  const bearer = config.metricsToken === undefined ? {} : { headers: { authorization: `Bearer ${config.metricsToken}` } };
  const scrape = async (): Promise<Exposition> => parseExposition(await (await fetch(`${app.url}/metrics`, bearer)).text());
  return {
    app,
    bus,
    store,
    token: (userId, o = {}) =>
      app.auth.mint({ userId, ...(o.name === undefined ? {} : { name: o.name }), roles: o.admin === true ? ['user', 'admin'] : ['user'] }),
    connect(token, o = {}) {
      const q = new URLSearchParams({ token });
      if (o.sessionId !== undefined) q.set('session_id', o.sessionId);
      return connectClient(`${app.wsUrl}?${q.toString()}`, o.headers);
    },
    scrape,
    async metric(name, labels) {
      return (await scrape()).value(name, labels) ?? 0;
    },
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls every `everyMs` until `check` passes (metrics settle a tick after a socket closes). */
export async function eventually(check: () => Promise<void> | void, timeoutMs = 3000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
