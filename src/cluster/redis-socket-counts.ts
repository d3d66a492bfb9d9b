// Sockets per user across the service: each replica keeps its own counts in memory and mirrors
// them into a hash of its own in Redis, which the others sum. Apart from redis.ts like ownership:
// one kind of shared state with its own keys; the memory copy is what a reconnect writes back.
import type { Redis } from 'ioredis';
import type { ClusterOperation } from '../events/catalog.js';
import type { Cluster } from './types.js';

export interface SocketCounts extends Pick<Cluster, 'userSockets' | 'countSocket'> {
  /** Writes this replica's hash afresh from memory (after a reconnect); rejects when Redis does. */
  rewrite(): Promise<unknown>;
}

export function createSocketCounts(options: {
  readonly cmd: Redis;
  readonly me: string;
  /** The hash of one replica's counts (field: user id, value: sockets). */
  readonly socksKey: (replica: string) => string;
  /** Replicas seen alive now, this one included. */
  readonly replicas: () => readonly string[];
  readonly failed: (operation: ClusterOperation) => void;
}): SocketCounts {
  const { cmd, me, socksKey, replicas, failed } = options;
  const sockets = new Map<string, number>();

  return {
    rewrite() {
      const multi = cmd.multi().del(socksKey(me));
      if (sockets.size > 0) multi.hset(socksKey(me), Object.fromEntries(sockets));
      return multi.exec();
    },
    async userSockets(userId, local) {
      const others = replicas().filter((r) => r !== me);
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
