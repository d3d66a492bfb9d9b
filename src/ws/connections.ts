// The live connection registry: every open socket, by user and by session. Its size is the
// authoritative value of chatbox_websocket_connections_total.
import type { Principal } from '../auth/jwt.js';
import type { CloseReason } from '../events/catalog.js';
import type { SocketPort } from './port.js';

export class Connection {
  /** Set when the server decided to close this socket, so the close is reported with that reason. */
  closeReason: CloseReason | undefined = undefined;
  closed = false;
  /** The session this socket is attached to (a user's chat, or the one an admin joined). */
  sessionId: string | undefined = undefined;
  /** A session id asked for on connect that does not exist yet: the first message creates it. */
  pendingSessionId: string | undefined = undefined;
  modelId: string;
  /** Consecutive frames dropped for backpressure; reset by a successful send or a drain. */
  drops = 0;
  /** Frames of this socket are handled one after another, in arrival order. */
  queue: Promise<void> = Promise.resolve();
  /** Frames received and not yet handled (bounded: a flood behind a slow call is refused, not kept). */
  waiting = 0;

  constructor(
    readonly id: number,
    readonly port: SocketPort,
    readonly principal: Principal,
    readonly openedAt: number,
    modelId: string,
  ) {
    this.modelId = modelId;
  }

  get role(): 'user' | 'admin' {
    return this.principal.isAdmin ? 'admin' : 'user';
  }
}

const EMPTY: ReadonlySet<Connection> = new Set();

function addTo<K>(map: Map<K, Set<Connection>>, key: K, conn: Connection): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(conn);
}

function removeFrom<K>(map: Map<K, Set<Connection>>, key: K, conn: Connection): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(conn);
  if (set.size === 0) map.delete(key);
}

/** Told of every change of membership, synchronously (the router's fan-out keeps its broker subscriptions in step). */
export interface RegistryListener {
  added(conn: Connection): void;
  removed(conn: Connection): void;
  attached(conn: Connection, sessionId: string): void;
  detached(conn: Connection, sessionId: string): void;
}

export class ConnectionRegistry {
  listener: RegistryListener | undefined = undefined;
  private readonly byPort = new Map<SocketPort, Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly bySession = new Map<string, Set<Connection>>();
  private readonly admins = new Set<Connection>();
  private nextId = 1;

  get size(): number {
    return this.byPort.size;
  }

  add(port: SocketPort, principal: Principal, openedAt: number, modelId: string): Connection {
    const conn = new Connection(this.nextId++, port, principal, openedAt, modelId);
    this.byPort.set(port, conn);
    addTo(this.byUser, principal.userId, conn);
    if (principal.isAdmin) this.admins.add(conn);
    this.listener?.added(conn);
    return conn;
  }

  get(port: SocketPort): Connection | undefined {
    return this.byPort.get(port);
  }

  /** Removes the socket; false when it was already gone (a second close is a no-op). */
  remove(conn: Connection): boolean {
    if (!this.byPort.delete(conn.port)) return false;
    conn.closed = true;
    removeFrom(this.byUser, conn.principal.userId, conn);
    if (conn.sessionId !== undefined) {
      removeFrom(this.bySession, conn.sessionId, conn);
      this.listener?.detached(conn, conn.sessionId);
    }
    this.admins.delete(conn);
    this.listener?.removed(conn);
    return true;
  }

  attach(conn: Connection, sessionId: string): void {
    if (conn.closed || conn.sessionId === sessionId) return;
    if (conn.sessionId !== undefined) this.detach(conn);
    conn.sessionId = sessionId;
    conn.pendingSessionId = undefined;
    addTo(this.bySession, sessionId, conn);
    this.listener?.attached(conn, sessionId);
  }

  detach(conn: Connection): void {
    const sessionId = conn.sessionId;
    if (sessionId === undefined) return;
    removeFrom(this.bySession, sessionId, conn);
    conn.sessionId = undefined;
    this.listener?.detached(conn, sessionId);
  }

  inSession(sessionId: string): ReadonlySet<Connection> {
    return this.bySession.get(sessionId) ?? EMPTY;
  }

  ofUser(userId: string): ReadonlySet<Connection> {
    return this.byUser.get(userId) ?? EMPTY;
  }

  allAdmins(): ReadonlySet<Connection> {
    return this.admins;
  }

  all(): IterableIterator<Connection> {
    return this.byPort.values();
  }
}
