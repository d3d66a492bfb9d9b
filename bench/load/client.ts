// One simulated socket for the load harness: counts every frame it sends and receives, and waits
// for the frames a user would wait for.
import WebSocket from 'ws';

export interface Frame {
  readonly type: string;
  readonly session_id?: string;
  readonly content?: string;
  readonly sender?: string;
  readonly metadata?: Record<string, string>;
  readonly error?: { code: string; retry_after?: number };
}

/** Shared tallies of everything the harness's sockets did. */
export class Tally {
  framesSent = 0;
  framesReceived = 0;
  oversizeSent = 0;
  errorsByCode = new Map<string, number>();
  socketsOpen = 0;

  error(code: string): void {
    this.errorsByCode.set(code, (this.errorsByCode.get(code) ?? 0) + 1);
  }
  /**
   * Error frames that stand for one failed client frame each. LLM_UNAVAILABLE goes to every
   * socket of the session but is one failure: the user loops count those themselves.
   */
  get frameErrors(): number {
    let n = 0;
    for (const [code, v] of this.errorsByCode) if (code !== 'LLM_UNAVAILABLE') n += v;
    return n;
  }
}

/** When each frame reached the client (before any waiter ran), for latency figures. */
const arrivals = new WeakMap<Frame, number>();

/** performance.now() when `frame` arrived. */
export const arrivedAt = (frame: Frame): number => arrivals.get(frame) ?? performance.now();

type Waiter = { match: (f: Frame) => boolean; resolve: (f: Frame | undefined) => void; timer: NodeJS.Timeout };

export class LoadSocket {
  private readonly waiters = new Set<Waiter>();
  private closedResolve: ((code: number) => void) | undefined;
  readonly closed: Promise<number>;
  open = false;
  closeCode: number | undefined;
  closeReason = '';
  lastError = '';
  /** How the harness came to open this socket, for diagnostics. */
  tag = '';
  /**
   * Frames received in total, and those since the last `forget()` (at most 64), for waits that
   * start in the past.
   */
  private received = 0;
  private readonly window: Frame[] = [];
  /** The last few frame types, for diagnosing a hang. */
  readonly last: string[] = [];
  recent(): string {
    return `${this.tag} ${JSON.stringify(this.last)}${this.closeCode === undefined ? '' : ` closed ${this.closeCode} ${this.closeReason} ${this.lastError}`}`;
  }
  /** Called for every frame (after counting). */
  onFrame: ((f: Frame) => void) | undefined;

  private constructor(
    readonly ws: WebSocket,
    private readonly tally: Tally,
  ) {
    this.closed = new Promise((r) => (this.closedResolve = r));
  }

  static connect(url: string, tally: Tally, timeoutMs = 10_000): Promise<LoadSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      const socket = new LoadSocket(ws, tally);
      ws.on('message', (data) => {
        const at = performance.now();
        tally.framesReceived++;
        let frame: Frame;
        try {
          frame = JSON.parse(String(data)) as Frame;
        } catch {
          return;
        }
        arrivals.set(frame, at);
        if (frame.type === 'error') tally.error(frame.error?.code ?? 'UNKNOWN');
        socket.remember(frame);
        socket.last.push(`${frame.type}${frame.sender === undefined ? '' : `/${frame.sender}`}${frame.metadata?.['done'] === 'true' ? '/done' : ''}`);
        if (socket.last.length > 8) socket.last.shift();
        socket.onFrame?.(frame);
        for (const w of [...socket.waiters]) {
          if (w.match(frame)) {
            socket.waiters.delete(w);
            clearTimeout(w.timer);
            w.resolve(frame);
          }
        }
      });
      ws.on('close', (code, reason) => {
        socket.closeCode = code;
        socket.closeReason = String(reason);
        if (socket.open) tally.socketsOpen--;
        socket.open = false;
        for (const w of [...socket.waiters]) {
          clearTimeout(w.timer);
          w.resolve(undefined);
        }
        socket.waiters.clear();
        socket.closedResolve?.(code);
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`upgrade refused: ${res.statusCode}`));
      });
      // One listener for the socket's whole life: a handshake can fail with more than one error
      // (a timeout after a reset), and an unheard 'error' would end the harness.
      ws.on('error', (error) => {
        socket.lastError = error.message;
        reject(error);
      });
      ws.once('open', () => {
        socket.open = true;
        tally.socketsOpen++;
        resolve(socket);
      });
    });
  }

  private remember(frame: Frame): void {
    this.received++;
    this.window.push(frame);
    if (this.window.length > 64) this.window.shift();
  }

  /**
   * Drops the frames kept for waits that start in the past: a user's turn calls it when done.
   * Kept across turns (64 per socket), every frame outlived two scavenges and was copied into the
   * old generation: at 2,000 users that was most of this process's ~230 MiB heap, and its GC pauses
   * land in every latency it measures.
   */
  forget(): void {
    this.window.length = 0;
  }

  send(frame: Record<string, unknown>): void {
    this.sendRaw(JSON.stringify(frame));
  }

  sendRaw(text: string): void {
    if (!this.open) return;
    this.tally.framesSent++;
    this.ws.send(text);
  }

  /** Frames received so far on this socket (an index for `wait(..., since)`). */
  get count(): number {
    return this.received;
  }

  /**
   * Resolves with the first frame matching, received from index `since` on (frames that came in
   * the same read as an earlier one are not missed), or undefined on timeout or close.
   */
  wait(match: (f: Frame) => boolean, timeoutMs: number, since = this.received): Promise<Frame | undefined> {
    const start = Math.max(since, this.received - this.window.length);
    for (let k = start; k < this.received; k++) {
      const f = this.window[k - (this.received - this.window.length)] as Frame;
      if (match(f)) return Promise.resolve(f);
    }
    if (!this.open) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        match,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(undefined);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves once no frame has arrived for `quietMs` (or after `maxMs`). */
  async quiet(quietMs: number, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    let seen = -1;
    while (this.open && Date.now() < deadline && seen !== this.received) {
      seen = this.received;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  }

  close(): Promise<number> {
    if (this.open) this.ws.close(1000);
    return this.closed;
  }

  terminate(): Promise<number> {
    this.ws.terminate();
    return this.closed;
  }
}
