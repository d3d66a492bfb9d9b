// The fan-out: frames to a session's, a user's or the admins' sockets wherever they are. The
// sockets on this replica get them through Delivery at once; the other replicas get them through
// the cluster's topics, to which this replica is subscribed exactly while it has a socket (or
// owns a live session) there. Session signals (ended, admins left, created) travel the same way.
import type { Bus } from '../events/bus.js';
import type { SessionEndReason } from '../events/catalog.js';
import type { ServerFrame } from '../protocol/frames.js';
import { frameText } from '../protocol/frame-text.js';
import { topics, type Cluster } from '../cluster/types.js';
import type { Connection, ConnectionRegistry } from '../ws/connections.js';
import type { Delivery } from '../ws/delivery.js';

/** A socket anywhere in the service: the replica holding it and its id there. */
export interface ConnRef {
  readonly replica: string;
  readonly conn: number;
}

/** What this replica does with a signal, whichever replica sent it. */
export interface FanoutHandlers {
  ended(sessionId: string, reason: SessionEndReason): void;
  /** Admin sockets leave the session; the user's (`userId`) stay. */
  adminsLeft(sessionId: string, userId: string): void;
  /** A session was created: the user's sockets waiting for that id join it. */
  created(userId: string, sessionId: string, modelId: string): void;
}

type Wire =
  | { readonly k: 'f'; readonly t: string; readonly x?: ConnRef }
  | { readonly k: 'end'; readonly s: string; readonly r: SessionEndReason }
  | { readonly k: 'al'; readonly s: string; readonly u: string }
  | { readonly k: 'new'; readonly s: string; readonly u: string; readonly m: string }
  // A replica started listening to the session's topic (it has a socket there now).
  | { readonly k: 'in' };

export interface Fanout {
  ref(conn: Connection): ConnRef;
  toSession(sessionId: string, frame: ServerFrame, except?: ConnRef): void;
  toUser(userId: string, frame: ServerFrame): void;
  toAdmins(frame: ServerFrame): void;
  ended(sessionId: string, reason: SessionEndReason): void;
  adminsLeft(sessionId: string, userId: string): void;
  created(userId: string, sessionId: string, modelId: string): void;
  /** Keeps this replica subscribed to the session (an owned live session) until `release`. */
  hold(sessionId: string): void;
  release(sessionId: string): void;
  /** Resolves once this replica receives the session's frames (call after attaching a socket). */
  listening(sessionId: string): Promise<void>;
  /**
   * A reply is starting on this (owner) replica: asks the broker whether any other replica
   * listens to the session, so its frames are published only when one does.
   */
  checkListeners(sessionId: string): void;
}

export function createFanout(options: {
  bus: Bus;
  cluster: Cluster;
  registry: ConnectionRegistry;
  delivery: Delivery;
  handlers: FanoutHandlers;
  onInternalError: (error: unknown) => void;
}): Fanout {
  const { bus, cluster, registry, delivery, handlers } = options;
  const me = cluster.instanceId;
  /**
   * Per session topic held here, whether another replica listens to it, as last known: false
   * only after the broker said none did (checkListeners) and no replica announced itself since
   * (wire `in`, sent by every replica once it listens). A session's frames are published unless
   * it is false: with Redis configured, a session nobody else watches costs no PUBLISH per chunk.
   */
  interface Hold {
    n: number;
    ready: Promise<void>;
    others: boolean | undefined;
    /** A check is in flight; `in` arrived during it (its answer may predate that replica). */
    checking: boolean;
    announced: boolean;
  }
  const holds = new Map<string, Hold>();

  function hold(topic: string): void {
    const h = holds.get(topic);
    if (h !== undefined) {
      h.n++;
      return;
    }
    const entry: Hold = { n: 1, ready: Promise.resolve(), others: undefined, checking: false, announced: false };
    entry.ready = cluster.subscribe(topic).then(() => {
      // Announced after subscribing: an owner that hears it publishes from then on, and this
      // replica already receives what it publishes.
      if (topic.startsWith('s:') && !cluster.alone()) cluster.publish(topic, { k: 'in' } satisfies Wire);
    }, options.onInternalError);
    holds.set(topic, entry);
  }

  function release(topic: string): void {
    const h = holds.get(topic);
    if (h === undefined) return;
    if (--h.n > 0) return;
    holds.delete(topic);
    cluster.unsubscribe(topic);
  }

  function checkListeners(topic: string): void {
    const h = holds.get(topic);
    if (h === undefined || h.checking) return;
    h.checking = true;
    h.announced = false;
    cluster.otherListeners(topic).then(
      (n) => {
        h.checking = false;
        // A replica that announced itself during the check may not be in its count.
        if (!h.announced) h.others = n === undefined ? undefined : n > 0;
      },
      () => {
        h.checking = false;
        h.others = undefined;
      },
    );
  }

  registry.listener = {
    added: (conn) => {
      hold(topics.user(conn.principal.userId));
      cluster.countSocket(conn.principal.userId, 1);
    },
    removed: (conn) => {
      release(topics.user(conn.principal.userId));
      cluster.countSocket(conn.principal.userId, -1);
    },
    attached: (_conn, sessionId) => hold(topics.session(sessionId)),
    detached: (_conn, sessionId) => release(topics.session(sessionId)),
  };
  void cluster.subscribe(topics.admins).catch(options.onInternalError);

  function publish(topic: string, wire: Wire, frame: boolean): void {
    if (cluster.alone()) return;
    if (cluster.publish(topic, wire) || !frame) return;
    bus.emit('messageDropped', { reason: 'unreachable' });
    bus.emit('messageFailed', { code: 'SEND_FAILED' });
  }

  function frameTo(topic: string, local: ReadonlySet<Connection>, frame: ServerFrame, except?: ConnRef): void {
    const alone = cluster.alone() || holds.get(topic)?.others === false;
    if (local.size === 0 && alone) return;
    const text = frameText(frame);
    delivery.sendTextAll(local, text, except?.replica === me ? except.conn : undefined);
    if (!alone) publish(topic, except === undefined ? { k: 'f', t: text } : { k: 'f', t: text, x: except }, true);
  }

  function audience(topic: string): ReadonlySet<Connection> {
    if (topic === topics.admins) return registry.allAdmins();
    const id = topic.slice(2);
    return topic.startsWith('s:') ? registry.inSession(id) : registry.ofUser(id);
  }

  cluster.onMessage((topic, payload) => {
    const wire = payload as Wire;
    switch (wire.k) {
      case 'in': {
        const h = holds.get(topic);
        if (h !== undefined) {
          h.others = true;
          h.announced = true;
        }
        return;
      }
      case 'f':
        delivery.sendTextAll(audience(topic), wire.t, wire.x?.replica === me ? wire.x.conn : undefined);
        return;
      case 'end':
        handlers.ended(wire.s, wire.r);
        return;
      case 'al':
        handlers.adminsLeft(wire.s, wire.u);
        return;
      case 'new':
        handlers.created(wire.u, wire.s, wire.m);
    }
  });

  return {
    ref: (conn) => ({ replica: me, conn: conn.id }),
    toSession: (sessionId, frame, except) => frameTo(topics.session(sessionId), registry.inSession(sessionId), frame, except),
    toUser: (userId, frame) => frameTo(topics.user(userId), registry.ofUser(userId), frame),
    toAdmins: (frame) => frameTo(topics.admins, registry.allAdmins(), frame),
    ended(sessionId, reason) {
      publish(topics.session(sessionId), { k: 'end', s: sessionId, r: reason }, false);
      handlers.ended(sessionId, reason);
    },
    adminsLeft(sessionId, userId) {
      publish(topics.session(sessionId), { k: 'al', s: sessionId, u: userId }, false);
      handlers.adminsLeft(sessionId, userId);
    },
    created(userId, sessionId, modelId) {
      publish(topics.user(userId), { k: 'new', s: sessionId, u: userId, m: modelId }, false);
      handlers.created(userId, sessionId, modelId);
    },
    hold: (sessionId) => hold(topics.session(sessionId)),
    release: (sessionId) => release(topics.session(sessionId)),
    // Alone, nobody else can listen: no topic string to build (this runs at every reply's start).
    checkListeners: (sessionId) => {
      if (!cluster.alone()) checkListeners(topics.session(sessionId));
    },
    listening: async (sessionId) => {
      await holds.get(topics.session(sessionId))?.ready;
    },
  };
}
