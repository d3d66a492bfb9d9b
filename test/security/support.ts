// Raw requests for hostile tests: a WebSocket upgrade attempt whose refusal (status, headers,
// body) is read whole, and a raw HTTP exchange over node:net for bytes no client library sends.
import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Tries an upgrade to `url` (ws://...); 101 means it was accepted (the socket is dropped at once). */
export function upgradeAttempt(url: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const u = new URL(url.replace(/^ws/, 'http'));
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Writes `bytes` to host:port and collects what comes back until the server closes, or until
 * `quietMs` pass with nothing more (then we close). Never rejects: a reset is an answer too.
 */
export function rawExchange(port: number, bytes: Buffer, quietMs = 400): Promise<{ data: Buffer; reset: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let reset = false;
    const socket = connect({ host: '127.0.0.1', port });
    let timer = setTimeout(() => socket.destroy(), quietMs * 4);
    const quiet = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), quietMs);
    };
    socket.on('connect', () => {
      socket.write(bytes, () => quiet());
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (answerComplete(Buffer.concat(chunks))) socket.destroy();
      else quiet();
    });
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), reset });
    });
  });
}

/** One whole HTTP answer with a content-length has arrived (no need to wait for more). */
function answerComplete(data: Buffer): boolean {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return length !== null && data.length - end - 4 >= Number(length[1]);
}

/** Each HTTP/1.1 answer in `data` has a status line and headers ending in a blank line. */
export function wellFormedAnswers(data: Buffer): boolean {
  const text = data.toString('latin1');
  if (text === '') return true;
  if (!/^HTTP\/1\.[01] \d{3}[^\r\n]*\r\n/.test(text)) return false;
  return text.includes('\r\n\r\n');
}
