// Pushes to admin consoles: a session's row whenever a write changed it (`console_session`), and
// the live metrics every couple of seconds (`console_metrics`, the whole 15 minutes on subscribe).
// Consoles are admin chat sockets that sent `console_subscribe`; frames go out through Delivery,
// so they are counted like every other frame.
import type { LiveMetrics } from '../live/attach-live.js';
import type { ServerFrame } from '../protocol/wire.js';
import { sessionJson } from '../http/session-json.js';
import type { SessionStore } from '../storage/types.js';
import type { Connection } from '../ws/connections.js';
import type { Delivery } from '../ws/delivery.js';

export interface ConsoleHub {
  /** Adds an admin socket; it gets the live metrics at once. */
  watch(conn: Connection): void;
  /** A write changed this session: its row is pushed shortly (several writes coalesce). */
  sessionChanged(sessionId: string): void;
  readonly size: number;
  close(): void;
}

export interface ConsoleHubOptions {
  readonly store: SessionStore;
  readonly delivery: Delivery;
  readonly live: LiveMetrics;
  /** Default 2000 ms. */
  readonly metricsEveryMs?: number;
  /** Default 100 ms: the writes of one turn arrive as one update. */
  readonly coalesceMs?: number;
  readonly onError?: (error: unknown) => void;
}

const stamp = (): string => new Date().toISOString();

export function createConsoleHub(options: ConsoleHubOptions): ConsoleHub {
  const { store, delivery, live } = options;
  const watchers = new Set<Connection>();
  const pending = new Set<string>();
  let flushTimer: NodeJS.Timeout | undefined;
  let closed = false;

  function alive(): Set<Connection> {
    for (const conn of watchers) if (conn.closed) watchers.delete(conn);
    return watchers;
  }

  function metricsFrame(seconds?: number): ServerFrame {
    return { type: 'console_metrics', sender: 'system', timestamp: stamp(), metrics: live.snapshot(seconds) };
  }

  async function flush(): Promise<void> {
    flushTimer = undefined;
    const ids = [...pending];
    pending.clear();
    for (const id of ids) {
      if (alive().size === 0) return;
      const record = await store.findSession(id);
      if (record === undefined) continue;
      delivery.sendAll(alive(), { type: 'console_session', session_id: id, sender: 'system', timestamp: stamp(), session: sessionJson(record) });
    }
  }

  const metricsTimer = setInterval(() => {
    // A few seconds of overlap: a console skips the points it already has.
    if (alive().size > 0) delivery.sendAll(watchers, metricsFrame(5));
  }, options.metricsEveryMs ?? 2000);
  metricsTimer.unref();

  return {
    watch(conn) {
      if (closed) return;
      watchers.add(conn);
      delivery.send(conn, metricsFrame());
    },
    sessionChanged(sessionId) {
      if (closed || watchers.size === 0) return;
      pending.add(sessionId);
      if (flushTimer !== undefined) return;
      flushTimer = setTimeout(() => {
        flush().catch((error: unknown) => options.onError?.(error));
      }, options.coalesceMs ?? 100);
      flushTimer.unref();
    },
    get size() {
      return alive().size;
    },
    close() {
      closed = true;
      clearInterval(metricsTimer);
      clearTimeout(flushTimer);
      watchers.clear();
    },
  };
}
