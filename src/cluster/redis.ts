// The cluster over Redis (ioredis): pub/sub for topics and replica calls, a sorted set of
// heartbeats for presence, one key per session for ownership, a hash per replica for socket
// counts, rate-limiter-flexible for limits. Every broker call is counted through bus events
// (the chatbox_cluster_* series). Redis may be down at start or go away at any time: commands
// fail at once instead of queueing (enableOfflineQueue off), publishes report false, ownership
// falls back to this replica, and everything is set up again when the connection returns.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Bus } from '../events/bus.js';
import type { ClusterOperation } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import { redisLimiters } from './redis-limiters.js';
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

interface Scripts {
  chatboxClaim(owner: string, replicas: string, me: string, aliveAfter: number, ttlS: number, ownedPrefix: string, sessionId: string): Promise<string>;
  chatboxMove(owner: string, from: string, to: string, ownedPrefix: string, sessionId: string): Promise<number>;
}

// Ownership: the recorded owner stands while its heartbeat is fresh; else the caller becomes it.
// Each replica's sessions are also listed in a set (ARGV[4] prefixes it), so that when a replica
// dies a survivor can adopt them. KEYS: owner key, replicas; ARGV: me, alive-after, ttl, prefix, session id.
const CLAIM = `local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return cur end
if cur then
  local seen = redis.call('ZSCORE', KEYS[2], cur)
  if seen and tonumber(seen) > tonumber(ARGV[2]) then return cur end
  redis.call('SREM', ARGV[4] .. cur, ARGV[5])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SADD', ARGV[4] .. ARGV[1], ARGV[5])
return ARGV[1]`;
// Moves (ARGV[2] set) or deletes (ARGV[2] empty) an ownership only if it is still ARGV[1]'s.
// KEYS: owner key; ARGV: from, to, owned-set prefix, session id.
const MOVE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SREM', ARGV[3] .. ARGV[1], ARGV[4])
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  redis.call('SADD', ARGV[3] .. ARGV[2], ARGV[4])
end
return 1`;

/** Ownership records outlive any idle session; a session still open after this is claimed afresh. */
const OWNER_TTL_S = 24 * 3600;
const wallNow = (): number => performance.timeOrigin + performance.now();

export function createRedisCluster(options: RedisClusterOptions): Cluster {
  const { instanceId: me, keyPrefix: k, bus } = options;
  const ttlMs = options.presenceTtlMs ?? 3000;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const callTimeoutMs = options.callTimeoutMs ?? 3000;
  const replicasKey = `${k}replicas`;
  const myChannel = `${k}r:${me}`;
  const socksKey = (id: string): string => `${k}socks:${id}`;
  const ownerKey = (sessionId: string): string => `${k}own:${sessionId}`;
  const ownedPrefix = `${k}owned:`;

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
  cmd.defineCommand('chatboxClaim', { numberOfKeys: 2, lua: CLAIM });
  cmd.defineCommand('chatboxMove', { numberOfKeys: 1, lua: MOVE });
  const scripts = cmd as unknown as Scripts;

  const failed = (operation: ClusterOperation): void => bus.emit('clusterFailed', { operation });
  const wanted = new Set<string>([myChannel]);
  const mine = new Set<string>();
  const sockets = new Map<string, number>();
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  let handler: ClusterHandler | undefined;
  let callHandler: CallHandler | undefined;
  const lostHandlers: ((instance: string) => void)[] = [];
  const reconnectHandlers: (() => void)[] = [];
  let alive: readonly string[] = [me];
  let up = false;
  let everUp = false;
  let stopped = false;
  let beat: NodeJS.Timeout | undefined;

  const ready = (): boolean => cmd.status === 'ready' && sub.status === 'ready';

  function setAlive(next: readonly string[]): void {
    const before = new Set(alive);
    const now = new Set(next);
    alive = next;
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
      if (wanted.size > 0) await sub.subscribe(...wanted);
      const multi = cmd.multi().del(socksKey(me));
      if (sockets.size > 0) multi.hset(socksKey(me), Object.fromEntries(sockets));
      await multi.exec();
      await heartbeat();
    } catch {
      failed('subscribe');
    }
  }

  function onState(): void {
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
      handler?.(channel.slice(k.length), env.p);
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
        return false;
      }
      send(k + topic, { f: me, a: wallNow(), p: payload }).catch(() => failed('publish'));
      return true;
    },
    async subscribe(topic) {
      wanted.add(k + topic);
      if (sub.status !== 'ready') return;
      try {
        await sub.subscribe(k + topic);
      } catch {
        failed('subscribe');
      }
    },
    unsubscribe(topic) {
      wanted.delete(k + topic);
      if (sub.status === 'ready') sub.unsubscribe(k + topic).catch(() => failed('subscribe'));
    },
    onMessage(h) {
      handler = h;
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
    async claim(sessionId) {
      try {
        const owner = await scripts.chatboxClaim(ownerKey(sessionId), replicasKey, me, Date.now() - ttlMs, OWNER_TTL_S, ownedPrefix, sessionId);
        if (owner === me) mine.add(sessionId);
        else mine.delete(sessionId);
        return owner;
      } catch (error) {
        failed('ownership');
        throw error;
      }
    },
    release(sessionId) {
      mine.delete(sessionId);
      if (cmd.status !== 'ready') return;
      scripts.chatboxMove(ownerKey(sessionId), me, '', ownedPrefix, sessionId).catch(() => failed('ownership'));
    },
    async adopt(from) {
      try {
        const ids = await cmd.smembers(ownedPrefix + from);
        const won: string[] = [];
        for (const id of ids) {
          // The claim moves it only while `from` is still dead, and to one survivor only.
          const owner = await scripts.chatboxClaim(ownerKey(id), replicasKey, me, Date.now() - ttlMs, OWNER_TTL_S, ownedPrefix, id);
          if (owner === me) {
            mine.add(id);
            won.push(id);
          }
        }
        return won;
      } catch {
        failed('ownership');
        return [];
      }
    },
    async handOver(to) {
      const ids = [...mine];
      mine.clear();
      if (ids.length === 0) return 0;
      const pipe = cmd.pipeline();
      for (const id of ids) (pipe as unknown as Scripts).chatboxMove(ownerKey(id), me, to, ownedPrefix, id);
      const res = await pipe.exec();
      return (res ?? []).filter(([e, v]) => e === null && v === 1).length;
    },
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
