// The stack's limit for bench/ws/throughput.bench.ts: a bare uWebSockets.js server with none of
// our code, in its own process like the chat server. ECHO=raw sends each message straight back;
// ECHO=frames3 parses it as JSON and answers with 3 JSON frames of ~220 B shaped like a chat
// reply (loading, one ai_response chunk, the done frame), each built and stringified on the spot.
// Prints one JSON line {"port":N,"wsUrl":...} when listening, like server-child.ts; stops on SIGTERM.
import { uws } from '../../src/http/uws-native.js';

const mode = process.env['ECHO'] === 'frames3' ? 'frames3' : 'raw';
const decoder = new TextDecoder();

const frame = (type: string, content: string, done: string, sessionId: string) =>
  JSON.stringify({
    type,
    session_id: sessionId,
    content,
    sender: type === 'loading' ? 'system' : 'ai',
    model_id: 'fake-1',
    timestamp: new Date().toISOString(),
    metadata: { streaming: 'true', done, message_id: '6f1c2a7e-6a43-4c49-9b0e-3f7d2a1b9c55' },
  });

const app = uws.App().ws('/*', {
  maxPayloadLength: 64 * 1024,
  idleTimeout: 120,
  message(ws, message, isBinary) {
    if (mode === 'raw') {
      ws.send(message, isBinary);
      return;
    }
    const parsed = JSON.parse(decoder.decode(message)) as { content?: unknown };
    const sessionId = '0b5e2f9c-8d7a-4e3b-a1c6-5d4f3e2b1a09';
    ws.send(frame('loading', '', 'false', sessionId));
    ws.send(frame('ai_response', typeof parsed.content === 'string' ? 'ok' : '', 'false', sessionId));
    ws.send(frame('ai_response', '', 'true', sessionId));
  },
});

app.listen('127.0.0.1', 0, (socket) => {
  if (socket === false) {
    process.stderr.write('echo server: listen failed\n');
    process.exit(1);
  }
  const port = uws.us_socket_local_port(socket);
  process.stdout.write(`${JSON.stringify({ port, wsUrl: `ws://127.0.0.1:${port}/ws` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
