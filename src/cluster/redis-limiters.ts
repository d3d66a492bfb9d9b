// Limits across the service: rate-limiter-flexible's Redis limiter, one key per limiter and
// client in the shared Redis. Policy when Redis cannot answer: each replica limits with an
// in-memory limiter of the same spec (the limit then holds per replica, as with one process),
// and the fault is counted; nothing is refused or let through unlimited because of it.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { wrapFlexible, type LimiterFactory } from './limiter.js';

export function redisLimiters(client: Redis, keyPrefix: string, onFault: () => void): LimiterFactory {
  return (spec) => {
    const shared = wrapFlexible(
      spec.name,
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `${keyPrefix}rl:${spec.name}`,
        points: spec.points,
        duration: spec.durationS,
        // Fail at once while disconnected rather than queue behind the reconnect.
        rejectIfRedisNotReady: true,
      }),
    );
    const local = wrapFlexible(spec.name, new RateLimiterMemory({ keyPrefix: spec.name, points: spec.points, duration: spec.durationS }));
    return {
      name: spec.name,
      async consume(key, points) {
        try {
          return await shared.consume(key, points);
        } catch {
          onFault();
          return local.consume(key, points);
        }
      },
    };
  };
}
