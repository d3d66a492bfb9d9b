// The diagnostics_channel bridge: an APM-style subscriber on chatbox:* sees every event of a real
// conversation, in order and with the bus's own payloads; with nobody subscribed, nothing is
// published at all (fastify's "nothing is published when nobody listens" test).
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { channelName, channels } from '../../src/diagnostics/channels.js';
import { EVENT_NAMES, type EventName } from '../../src/events/catalog.js';
import { attachRecorder } from '../../src/events/recorder.js';
import { createReplySource } from '../../src/llm/reply-source.js';
import { llmConfig, spec } from '../support/scripted-adapter.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
});

async function conversation(): Promise<TestServer> {
  server = await startTestServer({ replies: (bus) => createReplySource({ config: llmConfig([spec('demo', 'demo')]), bus, demoChunkDelayMs: 1 }) });
  const s = server;
  const alice = await s.connect(await s.token('alice'));
  await alice.next((f) => f.type === 'connection_status');
  alice.send({ type: 'user_message', content: 'hello channels' });
  await alice.reply();
  alice.sendRaw('{ not json');
  await alice.next((f) => f.type === 'error');
  await fetch(`${s.app.url}/chatbox/healthz`);
  await alice.close();
  return s;
}

describe('diagnostics_channel bridge', () => {
  it('every channel is chatbox:<eventName>, defined once', () => {
    expect(Object.keys(channels).sort()).toEqual([...EVENT_NAMES].sort());
    for (const name of EVENT_NAMES) expect(diagnosticsChannel.channel(channelName(name))).toBe(channels[name]);
  });

  it('a subscriber to chatbox:* sees every event of a conversation, in order, with the bus payloads', async () => {
    const seen: { type: EventName; payload: unknown }[] = [];
    const subscribers = EVENT_NAMES.map((type) => {
      const fn = (payload: unknown): void => {
        seen.push({ type, payload });
      };
      diagnosticsChannel.subscribe(channelName(type), fn);
      return [type, fn] as const;
    });
    try {
      let recorder: ReturnType<typeof attachRecorder> | undefined;
      server = await startTestServer({
        replies: (bus) => {
          // Attached before any component emits, like the bridge itself.
          recorder = attachRecorder(bus);
          return createReplySource({ config: llmConfig([spec('demo', 'demo')]), bus, demoChunkDelayMs: 1 });
        },
      });
      const s = server;
      const alice = await s.connect(await s.token('alice'));
      await alice.next((f) => f.type === 'connection_status');
      alice.send({ type: 'user_message', content: 'hello channels' });
      await alice.reply();
      await fetch(`${s.app.url}/chatbox/healthz`);
      await alice.close();
      await new Promise((r) => setTimeout(r, 50));
      const events = recorder?.events ?? [];
      expect(events.length).toBeGreaterThan(10);
      expect(seen.map((e) => e.type)).toEqual(events.map((e) => e.type));
      expect(seen.every((e, i) => e.payload === events[i]?.payload)).toBe(true);
      for (const type of ['connectionOpened', 'messageReceived', 'messageSent', 'llmRequested', 'llmChunkReceived', 'llmFinished', 'sessionCreated', 'httpResponded', 'connectionClosed'] as const) {
        expect(seen.some((e) => e.type === type), type).toBe(true);
      }
    } finally {
      for (const [type, fn] of subscribers) diagnosticsChannel.unsubscribe(channelName(type), fn);
    }
  });

  it('with nobody subscribed, nothing is published; a subscriber gets its channel', async () => {
    const spies = EVENT_NAMES.map((name) => [name, vi.spyOn(channels[name], 'publish')] as const);
    await conversation();
    for (const [name, spy] of spies) expect([name, spy.mock.calls.length]).toEqual([name, 0]);
    await server?.stop();
    server = undefined;
    // Subscribing turns a channel into an active one (a prototype swap) that an own-property spy
    // would shadow, so the spies go before a subscriber comes.
    vi.restoreAllMocks();

    const received: unknown[] = [];
    const onReceived = (m: unknown): void => {
      received.push(m);
    };
    diagnosticsChannel.subscribe('chatbox:messageReceived', onReceived);
    try {
      await conversation();
    } finally {
      diagnosticsChannel.unsubscribe('chatbox:messageReceived', onReceived);
    }
    expect(received).toEqual([{ bytes: expect.any(Number) }, { bytes: expect.any(Number) }]);
  });
});
