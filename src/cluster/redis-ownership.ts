// Session ownership in Redis: one key per session naming its owner, and a set per replica of the
// sessions it owns (so that a survivor can adopt a dead replica's). The two scripts are the only
// atomic steps: a claim (keep a live owner, else take it) and a move (only if still the mover's).
import type { Redis } from 'ioredis';
import type { ClusterOperation } from '../events/catalog.js';

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

export interface Ownership {
  claim(sessionId: string): Promise<string>;
  release(sessionId: string): void;
  adopt(from: string): Promise<readonly string[]>;
  handOver(to: string): Promise<number>;
}

export function createOwnership(options: {
  readonly cmd: Redis;
  readonly keyPrefix: string;
  /** The presence sorted set (member: replica, score: last heartbeat, ms). */
  readonly replicasKey: string;
  readonly me: string;
  readonly ttlMs: number;
  readonly failed: (operation: ClusterOperation) => void;
}): Ownership {
  const { cmd, keyPrefix: k, replicasKey, me, ttlMs, failed } = options;
  const ownerKey = (sessionId: string): string => `${k}own:${sessionId}`;
  const ownedPrefix = `${k}owned:`;
  cmd.defineCommand('chatboxClaim', { numberOfKeys: 2, lua: CLAIM });
  cmd.defineCommand('chatboxMove', { numberOfKeys: 1, lua: MOVE });
  const scripts = cmd as unknown as Scripts;
  /** Sessions this replica claimed, for the hand-over at scale-down. */
  const mine = new Set<string>();

  return {
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
  };
}
