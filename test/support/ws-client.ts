// A `ws` test client that keeps every frame it receives and waits for the ones a test expects.
import WebSocket from 'ws';

export interface Frame {
  readonly type: string;
  readonly session_id?: string;
  readonly content?: string;
  readonly sender?: string;
  readonly timestamp?: string;
  readonly model_id?: string;
  readonly user_id?: string;
  readonly models?: { id: string; name: string }[];
  readonly metadata?: Record<string, string>;
  readonly error?: { code: string; message: string; recoverable: boolean; retry_after?: number };
}

export interface TestClient {
  readonly frames: Frame[];
  readonly socket: WebSocket;
  send(frame: Record<string, unknown>): void;
  sendRaw(data: string | Buffer): void;
  /** The first frame (from `from` on) that matches; rejects after `timeoutMs`. */
  next(match: (f: Frame) => boolean, options?: { timeoutMs?: number; from?: number }): Promise<Frame>;
  /** Waits for a whole streamed reply (ai_response frames up to done=true) and returns its text. */
  reply(options?: { timeoutMs?: number; from?: number }): Promise<string>;
  close(code?: number): Promise<number>;
  terminate(): void;
  readonly closed: Promise<{ code: number; reason: string }>;
}

export function connectClient(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const frames: Frame[] = [];
    const waiters = new Set<() => void>();
    let closeInfo: ((v: { code: number; reason: string }) => void) | undefined;
    const closed = new Promise<{ code: number; reason: string }>((r) => (closeInfo = r));
    socket.on('message', (data) => {
      frames.push(JSON.parse(String(data)) as Frame);
      for (const w of [...waiters]) w();
    });
    socket.on('close', (code, reason) => {
      closeInfo?.({ code, reason: String(reason) });
      for (const w of [...waiters]) w();
    });
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += String(c)));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
    });
    socket.once('error', reject);
    socket.once('open', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      const client: TestClient = {
        frames,
        socket,
        closed,
        send: (frame) => socket.send(JSON.stringify(frame)),
        sendRaw: (data) => socket.send(data),
        next(match, { timeoutMs = 5000, from = 0 } = {}) {
          return new Promise((res, rej) => {
            const check = (): boolean => {
              const hit = frames.slice(from).find(match);
              if (hit === undefined) return false;
              cleanup();
              res(hit);
              return true;
            };
            const timer = setTimeout(() => {
              cleanup();
              rej(new Error(`timed out waiting for a frame; got: ${JSON.stringify(frames.slice(from).map((f) => f.type))}`));
            }, timeoutMs);
            const cleanup = (): void => {
              clearTimeout(timer);
              waiters.delete(wake);
            };
            const wake = (): void => void check();
            if (!check()) waiters.add(wake);
          });
        },
        async reply({ timeoutMs = 5000, from = 0 } = {}) {
          const done = await client.next((f) => f.type === 'ai_response' && f.metadata?.['done'] === 'true' && f.sender === 'ai', { timeoutMs, from });
          const end = frames.indexOf(done, from);
          return frames
            .slice(from, end + 1)
            .filter((f) => f.type === 'ai_response' && f.sender === 'ai')
            .map((f) => f.content ?? '')
            .join('');
        },
        close(code = 1000) {
          socket.close(code);
          return closed.then((c) => c.code);
        },
        terminate: () => socket.terminate(),
      };
      resolve(client);
    });
  });
}
