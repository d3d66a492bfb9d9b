// The one interface for state shared between replicas (socket.io's Adapter, Centrifugo's Broker
// and PresenceManager in one): topics to publish frames to the sockets other replicas hold,
// calls to one replica, the replicas alive, who owns a session, sockets per user, and the rate
// limiters. The in-process implementation (local.ts) is the default; redis.ts shares it all
// through Redis. The router and the socket layer see only this.
import type { LimiterFactory } from './limiter.js';

/** Topic names; payloads are plain JSON the router defines. */
export const topics = {
  session: (id: string): string => `s:${id}`,
  user: (id: string): string => `u:${id}`,
  admins: 'admins',
  /** Ids of sessions whose row changed, for the admin consoles on every replica (src/console). */
  console: 'console',
} as const;

export type ClusterHandler = (topic: string, payload: unknown) => void;
export type CallHandler = (request: unknown) => Promise<unknown>;

export interface Cluster {
  readonly instanceId: string;
  /** True when a shared broker is configured (then the cluster_* series exist). */
  readonly shared: boolean;
  readonly limiters: LimiterFactory;
  /** Connects (Redis: keeps retrying in the background when it is down) and joins the presence. */
  start(): Promise<void>;
  /** Leaves the presence and disconnects. */
  stop(): Promise<void>;
  /** The broker connection is up (always true in process). */
  connected(): boolean;
  /** The broker connection came back after being lost (never in process). */
  onReconnected(handler: () => void): void;

  /**
   * Hands `payload` to every other replica subscribed to `topic`. False when the broker could
   * not take it and another replica could have been listening (the caller counts the frames it
   * carried as dropped, reason `unreachable`); a replica that never saw another loses nothing.
   */
  publish(topic: string, payload: unknown): boolean;
  /** True only when no other replica can be listening (one node in process): publishing can be skipped. */
  alone(): boolean;
  /** Resolves once messages on `topic` are being received (so nothing published after is missed). */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): void;
  /**
   * How many other replicas are subscribed to `topic` now; undefined when this replica cannot
   * tell (it is not itself subscribed for sure, or the broker is away).
   */
  otherListeners(topic: string): Promise<number | undefined>;
  /** The receiver of other replicas' messages on every topic not given to onTopic. */
  onMessage(handler: ClusterHandler): void;
  /** The receiver of one topic's messages in place of onMessage's (a component with a topic of its own). */
  onTopic(topic: string, handler: ClusterHandler): void;

  /** Asks one replica and waits for its answer; rejects (CHATBOX_ERR_CLUSTER) on timeout or when it cannot be reached. */
  call(instance: string, request: unknown): Promise<unknown>;
  onCall(handler: CallHandler): void;

  /** Replicas seen alive now, this one included. */
  replicas(): readonly string[];
  /** A replica stopped answering its heartbeats (kill -9, partition): once per replica lost. */
  onReplicaLost(handler: (instance: string) => void): void;

  /**
   * The session's owner: the replica recorded for it when that one is alive, else this replica,
   * recorded atomically (two replicas racing get the same answer).
   */
  claim(sessionId: string): Promise<string>;
  /** Forgets the session's owner (it ended). */
  release(sessionId: string): void;
  /** Takes over the sessions a lost replica owned; returns the ids now owned here (racing adopters split them, each once). */
  adopt(from: string): Promise<readonly string[]>;
  /** Makes `to` the owner of every session this replica owns (scale-down). */
  handOver(to: string): Promise<number>;

  /** This user's sockets across the service (this replica's own count when the broker is down). */
  userSockets(userId: string, local: number): Promise<number>;
  /** Records one more (+1) or one less (-1) socket of the user on this replica. */
  countSocket(userId: string, delta: 1 | -1): void;
}
