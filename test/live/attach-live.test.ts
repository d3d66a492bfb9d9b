// The live-metrics subscriber: per-second rollups from bus events and gauges, and the figures
// it shows agree with /metrics on a real server.
import { afterEach, describe, expect, it } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { attachLiveMetrics } from '../../src/live/attach-live.js';
import { percentile } from '../../src/live/percentile.js';
import { createReplySource, loadModelConfig } from '../../src/llm/index.js';
import type { Frame } from '../support/ws-client.js';
import { eventually, startTestServer, type TestServer } from '../support/server.js';

describe('attachLiveMetrics', () => {
  it('closes one slot per second with the second’s counts, the gauges and TTFT percentiles', () => {
    const bus = createBus();
    let now = 1_000_000_000;
    let conns = 3;
    const live = attachLiveMetrics(bus, {
      providers: ['openai', 'demo'],
      gauges: { connections: () => conns, sessions: () => 1 },
      clock: () => now,
      timer: false,
      windowSeconds: 5,
    });
    bus.emit('messageReceived', { bytes: 1 });
    bus.emit('messageReceived', { bytes: 1 });
    bus.emit('messageSent', { bytes: 1 });
    bus.emit('llmRequested', { provider: 'demo', model: 'demo', streaming: true, attempt: 1 });
    bus.emit('llmFailed', { provider: 'demo', model: 'demo', streaming: true, reason: 'timeout', willRetry: false, status: 0 });
    for (const s of [0.1, 0.2, 0.3, 0.4]) bus.emit('llmFirstToken', { provider: 'demo', model: 'demo', seconds: s });
    now += 1000;
    live.tick();
    conns = 4;
    now += 3000; // two seconds missed by the timer: recorded as empty ones
    live.tick();
    const snap = live.snapshot();
    expect(snap.points.t).toEqual([1_000_000, 1_000_001, 1_000_002, 1_000_003]);
    expect(snap.points.frames_in).toEqual([2, 0, 0, 0]);
    expect(snap.points.frames_out).toEqual([1, 0, 0, 0]);
    expect(snap.points.connections).toEqual([3, 4, 4, 4]);
    expect(snap.points.llm_attempts['demo']).toEqual([1, 0, 0, 0]);
    expect(snap.points.llm_errors['demo']).toEqual([1, 0, 0, 0]);
    expect(snap.points.llm_attempts['openai']).toEqual([0, 0, 0, 0]);
    expect(snap.points.ttft_p50).toEqual([0.2, null, null, null]);
    expect(snap.points.ttft_p95).toEqual([0.4, null, null, null]);
    expect(snap.current).toMatchObject({ connections: 4, sessions: 1, frames_in_total: 2, frames_out_total: 1 });
    expect(snap.current.llm_attempts_total).toEqual({ openai: 0, demo: 1 });
    // The window keeps the last 5 seconds; a shorter snapshot gives the newest.
    now += 3000;
    live.tick();
    expect(live.snapshot().points.t).toEqual([1_000_002, 1_000_003, 1_000_004, 1_000_005, 1_000_006]);
    expect(live.snapshot(2).points.t).toEqual([1_000_005, 1_000_006]);
  });

  it('detaches exactly its handlers, once', () => {
    const bus = createBus();
    const live = attachLiveMetrics(bus, { providers: [], gauges: { connections: () => 0, sessions: () => 0 }, timer: false });
    expect(bus.has('messageReceived')).toBe(true);
    live.detach();
    live.detach();
    expect(bus.has('messageReceived')).toBe(false);
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([5, 1, 3], 0.5)).toBe(3);
    expect(percentile([1], 0.95)).toBe(1);
    expect(Number.isNaN(percentile([], 0.5))).toBe(true);
  });
});

describe('live figures on a real server', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('agree with /metrics: connections, sessions, frames in/out and LLM attempts and errors', async () => {
    const llm = await loadModelConfig({});
    const s = (server = await startTestServer({ replies: (bus) => createReplySource({ config: llm, bus, demoChunkDelayMs: 0 }) }));
    const admin = await s.connect(await s.token('root', { admin: true }));
    admin.send({ type: 'console_subscribe' });
    await admin.next((f: Frame) => f.type === 'console_metrics');
    const user = await s.connect(await s.token('ann'));
    user.send({ type: 'user_message', content: 'hi' });
    await user.reply();
    user.send({ type: 'nonsense' });
    await user.next((f) => f.type === 'error');
    await eventually(async () => {
      const x = await s.scrape();
      const c = s.app.live.current();
      expect(c.connections).toBe(x.value('chatbox_websocket_connections_total'));
      expect(c.sessions).toBe(x.value('chatbox_active_sessions_total'));
      expect(c.frames_in_total).toBe(x.value('chatbox_messages_received_total'));
      expect(c.frames_out_total).toBe(x.value('chatbox_messages_sent_total'));
      expect(c.llm_attempts_total['demo']).toBe(x.value('chatbox_llm_requests_total', { provider: 'demo' }));
      expect(c.llm_errors_total['demo']).toBe(x.value('chatbox_llm_errors_total', { provider: 'demo' }));
      expect(c.connections).toBe(2);
      expect(c.sessions).toBe(1);
      expect(c.llm_attempts_total['demo']).toBe(1);
    });
  });
});
