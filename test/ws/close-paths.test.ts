// The two socket ends the server decides on its own: a client that stops answering pings
// (reason `idle`), and a reader too slow for its replies (frames dropped, then reason
// `backpressure`). Each is one connectionClosed with that reason, and the gauge goes back to 0.
import { describe, expect, it } from 'vitest';
import { attachRecorder } from '../../src/events/recorder.js';
import { fakeReplies } from '../support/fake-replies.js';
import { eventually, startTestServer } from '../support/server.js';
import WebSocket from 'ws';


describe.each(['uws', 'ws'] as const)('server-side closes over %s', (transport) => {
  it('closes a socket that stops answering pings (reason idle)', async () => {
    const s = await startTestServer({ transport, env: { SOCKET_IDLE_TIMEOUT_S: '8' } });
    const recorder = attachRecorder(s.bus, { only: ['connectionClosed'] });
    try {
      const token = await s.token('sleepy');
      const ws = new WebSocket(`${s.app.wsUrl}?token=${token}`, { autoPong: false });
      await new Promise((r) => ws.once('open', r));
      expect(await s.metric('chatbox_websocket_connections_total')).toBe(1);
      await eventually(() => expect(recorder.of('connectionClosed')).toHaveLength(1), 25_000);
      expect(recorder.of('connectionClosed')[0]?.reason).toBe('idle');
      expect(await s.metric('chatbox_websocket_connections_total')).toBe(0);
      ws.terminate();
    } finally {
      await s.stop();
    }
  }, 40_000);

  it('drops frames for a reader that stops reading, then closes it (reason backpressure)', async () => {
    const big = 'b'.repeat(16 * 1024);
    const s = await startTestServer({
      transport,
      env: { MAX_BACKPRESSURE_BYTES: '65536' },
      replies: () => fakeReplies({ chunks: () => Array(4000).fill(big) }),
    });
    const recorder = attachRecorder(s.bus, { only: ['connectionClosed', 'messageDropped'] });
    try {
      const token = await s.token('slow');
      const ws = new WebSocket(`${s.app.wsUrl}?token=${token}`);
      // Both may arrive in one read: listen for the first frame before `open` resolves.
      const firstFrame = new Promise((r) => ws.once('message', r));
      await new Promise((r) => ws.once('open', r));
      await firstFrame;
      // Stop reading: the kernel buffers fill, then the server's send buffer.
      (ws as unknown as { _socket: { pause(): void } })._socket.pause();
      ws.send(JSON.stringify({ type: 'user_message', content: 'flood me' }));
      await eventually(() => expect(recorder.of('connectionClosed')).toHaveLength(1), 20_000);
      expect(recorder.of('connectionClosed')[0]?.reason).toBe('backpressure');
      expect(recorder.of('messageDropped').length).toBeGreaterThanOrEqual(64);
      expect(recorder.of('messageDropped').every((d) => d.reason === 'backpressure' || d.reason === 'closed')).toBe(true);
      expect(await s.metric('chatbox_messages_dropped_total', { reason: 'backpressure' })).toBeGreaterThanOrEqual(64);
      expect(await s.metric('chatbox_websocket_connections_total')).toBe(0);
      ws.terminate();
    } finally {
      await s.stop();
    }
  }, 40_000);
});
