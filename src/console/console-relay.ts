// Session rows for the admin consoles of every replica. A write on this replica tells this
// replica's console hub at once and, through the cluster's `console` topic, tells the other
// replicas which sessions changed; each reads the row from the shared store and pushes it to its
// own consoles (so a console sees sessions wherever they are written, not only on its replica).
// Only ids travel: the row is read where it is shown, after the write that changed it.
import { topics, type Cluster } from '../cluster/types.js';

export interface ConsoleRelay {
  /** A write through this replica's store changed the session. */
  changed(sessionId: string): void;
  close(): void;
}

export interface ConsoleRelayOptions {
  readonly cluster: Cluster;
  /** This replica's consoles (src/console/console-hub.ts). */
  readonly hub: { sessionChanged(sessionId: string): void };
  /** Default 100 ms: the writes of one turn travel as one message. */
  readonly coalesceMs?: number;
  /** Ids per message at most (default 500); more wait for the next one. */
  readonly maxIds?: number;
  readonly onError?: (error: unknown) => void;
}

interface Wire {
  readonly ids: readonly string[];
}

export function relayConsoleRows(options: ConsoleRelayOptions): ConsoleRelay {
  const { cluster, hub } = options;
  const maxIds = options.maxIds ?? 500;
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function flush(): void {
    timer = undefined;
    if (pending.size === 0) return;
    const ids: string[] = [];
    for (const id of pending) {
      if (ids.length === maxIds) break;
      ids.push(id);
      pending.delete(id);
    }
    // Redis down: the other consoles miss these rows until a reload (the cluster counts the failure).
    const wire: Wire = { ids };
    cluster.publish(topics.console, wire);
    if (pending.size > 0) schedule();
  }

  function schedule(): void {
    if (timer !== undefined) return;
    timer = setTimeout(flush, options.coalesceMs ?? 100);
    timer.unref();
  }

  cluster.onTopic(topics.console, (_topic, payload) => {
    if (closed) return;
    const ids = (payload as Partial<Wire> | null)?.ids;
    if (!Array.isArray(ids)) return;
    for (const id of ids) if (typeof id === 'string') hub.sessionChanged(id);
  });
  cluster.subscribe(topics.console).catch((error: unknown) => options.onError?.(error));

  return {
    changed(sessionId) {
      hub.sessionChanged(sessionId);
      // One process alone: nobody else to tell, and no timer either.
      if (closed || cluster.alone()) return;
      pending.add(sessionId);
      schedule();
    },
    close() {
      if (closed) return;
      // A stopping replica's last writes (sessions handed over) still reach the other consoles.
      clearTimeout(timer);
      while (pending.size > 0) flush();
      clearTimeout(timer);
      closed = true;
      cluster.unsubscribe(topics.console);
    },
  };
}
