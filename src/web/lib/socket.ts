// The chat socket, wrapped once: connects with the token (and the session to resume), reconnects
// with exponential backoff and jitter, and tells its listeners about frames and state changes.
import { wsUrl } from './paths.js';
import type { ServerFrame } from './wire.js';

export type SocketState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SocketEvents {
  frame(frame: ServerFrame): void;
  state(state: SocketState, detail?: string): void;
}

const MAX_DELAY_MS = 10_000;

export class ChatSocket {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private timer: number | undefined;
  private stopped = false;
  state: SocketState = 'connecting';

  constructor(
    private token: string,
    private sessionId: string | undefined,
    private readonly events: SocketEvents,
  ) {
    this.open();
  }

  /** Reconnects on another session (a resumed one, or a fresh id for a new chat). */
  switchTo(sessionId: string): void {
    this.sessionId = sessionId;
    this.attempt = 0;
    this.reopen();
  }

  setToken(token: string): void {
    this.token = token;
    this.reopen();
  }

  /** False when not connected: the caller says so instead of losing the frame silently. */
  send(frame: Record<string, unknown>): boolean {
    if (this.ws === undefined || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  close(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    this.ws?.close(1000);
  }

  private reopen(): void {
    const old = this.ws;
    this.ws = undefined;
    if (old !== undefined) {
      old.onclose = null;
      old.close(1000);
    }
    window.clearTimeout(this.timer);
    this.open();
  }

  private setState(state: SocketState, detail?: string): void {
    this.state = state;
    this.events.state(state, detail);
  }

  private open(): void {
    if (this.stopped) return;
    const query: Record<string, string> = { token: this.token };
    if (this.sessionId !== undefined) query['session_id'] = this.sessionId;
    const ws = new WebSocket(wsUrl(query));
    this.ws = ws;
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    ws.onopen = () => {
      this.attempt = 0;
      this.setState('open');
    };
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        return;
      }
      this.events.frame(frame);
    };
    ws.onclose = (event: CloseEvent) => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = undefined;
      const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt++;
      this.setState('reconnecting', closeText(event.code, Math.round(delay / 1000)));
      this.timer = window.setTimeout(() => this.open(), delay);
    };
  }
}

function closeText(code: number, seconds: number): string {
  const again = `reconnecting in ${Math.max(1, seconds)} s`;
  switch (code) {
    case 1009:
      return `the last message was too large for the server; ${again}`;
    case 1001:
      return `the server is restarting; ${again}`;
    case 1006:
      return `the connection was lost (or the token was refused); ${again}`;
    default:
      return `disconnected; ${again}`;
  }
}
