// No client input creates a series: after one request of every shape, hostile paths, methods,
// headers and frames (model ids, session ids) leave the number of series where it was. Both
// transports, through the real server.
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_METHODS } from '../../src/events/catalog.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import { llmConfig, spec } from '../support/scripted-adapter.js';
import { eventually, startTestServer, type TestServer } from '../support/server.js';
import type { TestClient } from '../support/ws-client.js';

const TRANSPORTS = ['uws', 'ws'] as const;

/** Raw node:http, which sends any method token (fetch refuses some). */
function send(url: string, method: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

const KNOWN_PATHS = ['/nope', '/chatbox/sessions/x', '/chatbox/sessions', '/chatbox/healthz', '/chatbox/readyz', '/metrics'];
const token = fc.stringMatching(/^[A-Z][A-Z-]{1,11}$/).filter((m) => !['CONNECT'].includes(m));
const segment = fc.stringMatching(/^[A-Za-z0-9._~%-]{0,24}$/);
// Random paths never spell a real route by chance (the route table grows: pages, assets); the
// ones that do match a route are the warmed-up KNOWN_PATHS and the `:id` parameter.
const hostilePath = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => `/zz-${s.join('/')}`),
  segment.map((s) => `/chatbox/sessions/${s}`),
  segment.map((s) => `/chatbox/zz-${s}`),
  fc.constantFrom(...KNOWN_PATHS),
);
const hostileHeaders = fc.dictionary(fc.stringMatching(/^x-[a-z]{1,10}$/), fc.stringMatching(/^[ -~]{0,40}$/), { maxKeys: 4 });

describe.each(TRANSPORTS)('cardinality over %s', (transport) => {
  let server: TestServer;
  let client: TestClient;

  async function series(): Promise<string[]> {
    const x = await server.scrape();
    // Runtime families (GC kinds, heap spaces) are prom-client's; the contract's are ours.
    return x.samples.filter((s) => s.name.startsWith('chatbox_')).map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort();
  }

  beforeAll(async () => {
    server = await startTestServer({
      transport,
      replies: (bus) => createReplySource({ config: llmConfig([spec('demo', 'demo'), spec('second', 'demo')]), bus, demoChunkDelayMs: 0 }),
    });
    client = await server.connect(await server.token('mallory'));
    await client.next((f) => f.type === 'connection_status');
    // One request of every shape: each route pattern (and unmatched) with each method class.
    const statuses: string[] = [];
    for (const path of KNOWN_PATHS) for (const method of [...HTTP_METHODS.filter((m) => m !== 'other'), 'BREW']) {
      // uWS's own parser drops a connection with a method it does not know, before any handler.
      if ((await send(server.app.url, method, path, {})) === 0 && !(transport === 'uws' && method === 'BREW')) statuses.push(method);
    }
    expect(statuses).toEqual([]);
    client.send({ type: 'user_message', content: 'hello' });
    await client.reply();
  }, 30_000);

  afterAll(async () => {
    client.terminate();
    await server.stop();
  });

  it('hostile paths, methods and headers create no series', async () => {
    const before = await series();
    await fc.assert(
      fc.asyncProperty(fc.oneof(token, fc.constantFrom(...HTTP_METHODS.filter((m) => m !== 'other'))), hostilePath, hostileHeaders, async (method, path, headers) => {
        await send(server.app.url, method, path, headers);
      }),
      { numRuns: 150 },
    );
    expect(await series()).toEqual(before);
  }, 60_000);

  it('hostile model ids and session ids in frames create no series', async () => {
    const before = await series();
    const received = await server.metric('chatbox_messages_received_total');
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), fc.string({ maxLength: 40 }), async (model, session) => {
        client.send({ type: 'model_select', model_id: model });
        client.send({ type: 'user_message', content: 'x', model_id: model, session_id: session });
        client.sendRaw(JSON.stringify({ type: model, model_id: model }));
        sent += 3;
      }),
      { numRuns: 20 },
    );
    await eventually(async () => expect(await server.metric('chatbox_messages_received_total')).toBe(received + sent));
    await eventually(async () => expect(await server.metric('chatbox_llm_in_flight', { provider: 'demo' })).toBe(0));
    expect(await series()).toEqual(before);
  }, 60_000);
});
