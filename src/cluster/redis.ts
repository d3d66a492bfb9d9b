// The cluster over Redis (ioredis): pub/sub for topics and replica calls, a sorted set of
// heartbeats for presence, one key per session for ownership (redis-ownership.ts), a hash per
// replica for socket counts, rate-limiter-flexible for limits (redis-limiters.ts). Every broker call is counted through bus events
// (the chatbox_cluster_* series). Redis may be down at start or go away at any time: commands
// fail at once instead of queueing (enableOfflineQueue off), publishes report false, ownership
// falls back to this replica, and everything is set up again when the connection returns.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Bus } from '../events/bus.js';
import type { ClusterOperation } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import { redisLimiters } from './redis-limiters.js';
import { createOwnership } from './redis-ownership.js';
import type { CallHandler, Cluster, ClusterHandler } from './types.js';

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

interface Envelope {
  readonly f: string; // from
  readonly a: number; // published at, ms since the epoch
  readonly p?: unknown; // topic payload
  readonly id?: string; // call id
  readonly q?: unknown; // call request
  readonly r?: unknown; // call answer
}

const wallNow = (): number => performance.timeOrigin + performance.now();

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
  const sockets = new Map<string, number>();
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  let handler: ClusterHandler | undefined;
  const byTopic = new Map<string, ClusterHandler>();
  let callHandler: CallHandler | undefined;
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

  const ready = (): boolean => cmd.status === 'ready' && sub.status === 'ready';

  function setAlive(next: readonly string[]): void {
    const before = new Set(alive);
    const now = new Set(next);
    alive = next;
    if (next.length > 1) peersSeen = true;
    if (before.size !== now.size || [...now].some((r) => !before.has(r))) bus.emit('clusterReplicas', { count: next.length });
    for (const r of before) if (!now.has(r) && r !== me && up) for (const h of lostHandlers) h(r);
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

  /** After (re)connecting: subscriptions, presence and this replica's socket counts, afresh. */
  async function resync(): Promise<void> {
    try {
      if (wanted.size > 0) {
        const again = [...wanted];
        await sub.subscribe(...again);
        for (const c of again) if (wanted.has(c)) live.add(c);
      }
      const multi = cmd.multi().del(socksKey(me));
      if (sockets.size > 0) multi.hset(socksKey(me), Object.fromEntries(sockets));
      await multi.exec();
      await heartbeat();
    } catch {
      failed('subscribe');
    }
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

  function send(channel: string, envelope: Envelope): Promise<number> {
    const text = JSON.stringify(envelope);
    bus.emit('clusterPublished', { bytes: text.length });
    return cmd.publish(channel, text);
  }

  function receive(channel: string, text: string): void {
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (env.f === me) return;
    bus.emit('clusterReceived', { seconds: Math.max(0, (wallNow() - env.a) / 1000) });
    if (channel !== myChannel) {
      const topic = channel.slice(k.length);
      (byTopic.get(topic) ?? handler)?.(topic, env.p);
      return;
    }
    if (env.id === undefined) return;
    if ('q' in env) {
      const id = env.id;
      const from = env.f;
      const answer = callHandler === undefined ? Promise.reject(new Error('not serving')) : callHandler(env.q);
      answer.then(
        (r) => send(`${k}r:${from}`, { f: me, a: wallNow(), id, r }).catch(() => failed('publish')),
        () => send(`${k}r:${from}`, { f: me, a: wallNow(), id, r: { ok: false, code: 'INTERNAL', message: 'internal error', retryable: true } }).catch(() => failed('publish')),
      );
      return;
    }
    const waiting = pending.get(env.id);
    if (waiting === undefined) return;
    pending.delete(env.id);
    clearTimeout(waiting.timer);
    waiting.resolve(env.r);
  }
  sub.on('message', receive);

  const unreachable = (instance: string): ChatboxError =>
    new ChatboxError('CHATBOX_ERR_CLUSTER', `replica ${instance} cannot be reached through Redis`, true);

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
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(unreachable('any'));
      }
      pending.clear();
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
    publish(topic, payload) {
      if (cmd.status !== 'ready') {
        failed('publish');
        // Never part of a cluster: no other replica held a socket this could be for.
        return !peersSeen;
      }
      send(k + topic, { f: me, a: wallNow(), p: payload }).catch(() => failed('publish'));
      return true;
    },
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
    onMessage(h) {
      handler = h;
    },
    onTopic(topic, h) {
      byTopic.set(topic, h);
    },
    call(instance, request) {
      if (cmd.status !== 'ready') return Promise.reject(unreachable(instance));
      const id = randomUUID();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(unreachable(instance));
        }, callTimeoutMs);
        pending.set(id, { resolve, reject, timer });
        send(`${k}r:${instance}`, { f: me, a: wallNow(), id, q: request }).then(
          (receivers) => {
            if (receivers > 0 || !pending.has(id)) return;
            // Nobody listens on that replica's channel: its process is gone (kill -9 closes its
            // connections at once) or cut off. Out of the presence now, not when its last
            // heartbeat expires, so its sessions are served elsewhere without waiting.
            pending.delete(id);
            clearTimeout(timer);
            cmd.zrem(replicasKey, instance).catch(() => failed('ownership'));
            setAlive(alive.filter((r) => r !== instance));
            reject(unreachable(instance));
          },
          (error: unknown) => {
            failed('publish');
            pending.delete(id);
            clearTimeout(timer);
            reject(error);
          },
        );
      });
    },
    onCall(h) {
      callHandler = h;
    },
    replicas: () => alive,
    onReplicaLost(h) {
      lostHandlers.push(h);
    },
    claim: (sessionId) => ownership.claim(sessionId),
    release: (sessionId) => ownership.release(sessionId),
    adopt: (from) => ownership.adopt(from),
    handOver: (to) => ownership.handOver(to),
    async userSockets(userId, local) {
      const others = alive.filter((r) => r !== me);
      if (others.length === 0 || cmd.status !== 'ready') return local;
      try {
        const pipe = cmd.pipeline();
        for (const r of others) pipe.hget(socksKey(r), userId);
        const res = (await pipe.exec()) ?? [];
        return res.reduce((n, [e, v]) => n + (e === null && v !== null ? Number(v) : 0), local);
      } catch {
        failed('limit');
        return local;
      }
    },
    countSocket(userId, delta) {
      const n = (sockets.get(userId) ?? 0) + delta;
      if (n <= 0) sockets.delete(userId);
      else sockets.set(userId, n);
      // Missed while disconnected: resync() writes the whole hash again.
      if (cmd.status !== 'ready') return;
      const write = n <= 0 ? cmd.hdel(socksKey(me), userId) : cmd.hset(socksKey(me), userId, n);
      write.catch(() => failed('limit'));
    },
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
