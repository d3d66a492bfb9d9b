// The cluster over Redis (ioredis): pub/sub for topics and replica calls (redis-messaging.ts), a
// sorted set of heartbeats for presence, one key per session for ownership (redis-ownership.ts), a
// hash per replica for socket counts (redis-socket-counts.ts), rate-limiter-flexible for limits
// (redis-limiters.ts). Every broker call is counted through bus events (the chatbox_cluster_*
// series). Redis may be down at start or go away at any time: commands fail at once instead of
// queueing (enableOfflineQueue off), publishes report false, ownership falls back to this
// replica, and everything is set up again when the connection returns.
import { Redis } from 'ioredis';
import type { Bus } from '../events/bus.js';
import type { ClusterOperation } from '../events/catalog.js';
import { redisLimiters } from './redis-limiters.js';
import { createMessaging } from './redis-messaging.js';
import { createOwnership } from './redis-ownership.js';
import { createSocketCounts } from './redis-socket-counts.js';
import type { Cluster } from './types.js';

export interface RedisClusterOptions {
  readonly url: string;
  readonly instanceId: string;
  /** Prefix of every key and channel (several services, or test runs, share one Redis). */
  readonly keyPrefix: string;
  readonly bus: Bus;
  readonly log: (level: 'info' | 'warn', message: string) => void;
  /** A replica is alive while its last heartbeat is younger than this (default 3000 ms). */
  readonly presenceTtlMs?: number;
  readonly heartbeatMs?: number;
  readonly callTimeoutMs?: number;
}

export function createRedisCluster(options: RedisClusterOptions): Cluster {
  const { instanceId: me, keyPrefix: k, bus } = options;
  const ttlMs = options.presenceTtlMs ?? 3000;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const callTimeoutMs = options.callTimeoutMs ?? 3000;
  const replicasKey = `${k}replicas`;
  const myChannel = `${k}r:${me}`;
  const socksKey = (id: string): string => `${k}socks:${id}`;

  const redisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    autoResubscribe: false,
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
  const cmd = new Redis(options.url, { ...redisOptions, connectionName: `chatbox-${me}` });
  const sub = new Redis(options.url, { ...redisOptions, connectionName: `chatbox-${me}-sub` });

  const failed = (operation: ClusterOperation): void => bus.emit('clusterFailed', { operation });
  const ownership = createOwnership({ cmd, keyPrefix: k, replicasKey, me, ttlMs, failed });
  const wanted = new Set<string>([myChannel]);
  /** Channels whose SUBSCRIBE Redis has answered on the current subscriber connection. */
  const live = new Set<string>();
  const lostHandlers: ((instance: string) => void)[] = [];
  const reconnectHandlers: (() => void)[] = [];
  let alive: readonly string[] = [me];
  // Whether this replica has ever seen another alive: a frame that cannot be published is only
  // lost (dropped, `unreachable`) if some other replica could have been listening for it.
  let peersSeen = false;
  let up = false;
  let everUp = false;
  let stopped = false;
  let beat: NodeJS.Timeout | undefined;
  const counts = createSocketCounts({ cmd, me, socksKey, replicas: () => alive, failed });
  const messaging = createMessaging({
    cmd,
    bus,
    me,
    keyPrefix: k,
    myChannel,
    callTimeoutMs,
    failed,
    peersSeen: () => peersSeen,
    dropReplica,
  });

  const ready = (): boolean => cmd.status === 'ready' && sub.status === 'ready';

  function setAlive(next: readonly string[]): void {
    const before = new Set(alive);
    const now = new Set(next);
    alive = next;
    if (next.length > 1) peersSeen = true;
    if (before.size !== now.size || [...now].some((r) => !before.has(r))) bus.emit('clusterReplicas', { count: next.length });
    for (const r of before) if (!now.has(r) && r !== me && up) for (const h of lostHandlers) h(r);
  }

  function dropReplica(instance: string): void {
    cmd.zrem(replicasKey, instance).catch(() => failed('ownership'));
    setAlive(alive.filter((r) => r !== instance));
  }

  function setUp(next: boolean): void {
    if (next === up) return;
    up = next;
    bus.emit('clusterConnection', { connected: next });
    if (!next) {
      // Cut off: this replica sees only itself, and loses no one by it.
      alive = [me];
      bus.emit('clusterReplicas', { count: 1 });
      options.log('warn', 'lost the connection to Redis: serving this replica\'s sockets only; readyz answers 503 until it is back');
      return;
    }
    options.log('info', everUp ? 'Redis connection is back' : 'connected to Redis');
    const again = everUp;
    everUp = true;
    void resync().then(() => {
      if (again) for (const h of reconnectHandlers) h();
    });
  }

  /**
   * After (re)connecting: subscriptions, this replica's socket counts and presence, afresh. Each
   * step is tried whatever the one before did, and a failure is counted under its own
   * operation (the socket counts are the connection limit's; the heartbeat counts its own).
   */
  async function resync(): Promise<void> {
    if (wanted.size > 0) {
      const again = [...wanted];
      try {
        await sub.subscribe(...again);
        for (const c of again) if (wanted.has(c)) live.add(c);
      } catch {
        failed('subscribe');
      }
    }
    await counts.rewrite().catch(() => failed('limit'));
    await heartbeat();
  }

  function onState(): void {
    // A subscriber connection that went away took its subscriptions with it.
    if (sub.status !== 'ready') live.clear();
    if (!stopped) setUp(ready());
  }
  for (const c of [cmd, sub]) {
    c.on('ready', onState);
    c.on('close', onState);
    c.on('end', onState);
    // ioredis reports each failed reconnect here; the state change above is what we log.
    c.on('error', () => {});
  }

  async function heartbeat(): Promise<void> {
    if (cmd.status !== 'ready') return;
    const now = Date.now();
    try {
      const res = await cmd
        .multi()
        .zadd(replicasKey, now, me)
        .zremrangebyscore(replicasKey, '-inf', now - 20 * ttlMs)
        .zrangebyscore(replicasKey, now - ttlMs, '+inf')
        .exec();
      const members = res?.[2]?.[1];
      if (Array.isArray(members)) setAlive(members as string[]);
    } catch {
      failed('ownership');
    }
  }

  sub.on('message', messaging.receive);

  return {
    instanceId: me,
    shared: true,
    limiters: redisLimiters(cmd, k, () => failed('limit')),
    async start() {
      bus.emit('clusterConnection', { connected: false });
      bus.emit('clusterReplicas', { count: 1 });
      // Both connect in the background; a Redis that is down now is retried by ioredis.
      for (const c of [cmd, sub]) {
        c.connect().catch(() => {
          if (!everUp) options.log('warn', `Redis at ${redact(options.url)} is unreachable: retrying; readyz answers 503 until it answers`);
        });
      }
      beat = setInterval(() => void heartbeat(), heartbeatMs);
      beat.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(beat);
      messaging.cancelCalls();
      if (cmd.status === 'ready') {
        await cmd.multi().zrem(replicasKey, me).del(socksKey(me)).exec().catch(() => {});
      }
      cmd.disconnect();
      sub.disconnect();
    },
    connected: () => up,
    onReconnected(h) {
      reconnectHandlers.push(h);
    },
    alone: () => false,
    publish: messaging.publish,
    async subscribe(topic) {
      wanted.add(k + topic);
      if (sub.status !== 'ready') return;
      try {
        await sub.subscribe(k + topic);
        if (wanted.has(k + topic)) live.add(k + topic);
      } catch {
        failed('subscribe');
      }
    },
    unsubscribe(topic) {
      wanted.delete(k + topic);
      live.delete(k + topic);
      if (sub.status === 'ready') sub.unsubscribe(k + topic).catch(() => failed('subscribe'));
    },
    async otherListeners(topic) {
      // One subscriber connection per replica, so the channel's subscriber count is the
      // replicas'; this one is among them only once its SUBSCRIBE was answered (`live`).
      const channel = k + topic;
      if (!live.has(channel) || cmd.status !== 'ready') return undefined;
      const reply = (await cmd.pubsub('NUMSUB', channel)) as unknown[];
      if (!live.has(channel)) return undefined;
      return Math.max(0, Number(reply[1] ?? 0) - 1);
    },
    onMessage: messaging.onMessage,
    onTopic: messaging.onTopic,
    call: messaging.call,
    onCall: messaging.onCall,
    replicas: () => alive,
    onReplicaLost(h) {
      lostHandlers.push(h);
    },
    claim: (sessionId) => ownership.claim(sessionId),
    release: (sessionId) => ownership.release(sessionId),
    adopt: (from) => ownership.adopt(from),
    handOver: (to) => ownership.handOver(to),
    userSockets: counts.userSockets,
    countSocket: counts.countSocket,
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'REDIS_URL';
  }
}
