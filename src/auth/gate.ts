// The door in front of authentication, per client address: upgrades are rate limited, failed
// authentications are counted (authFailed -> chatbox_auth_failures_total{reason}) and, past a
// few per minute, the address is refused with 429 before its tokens are even looked at. The
// limiters come from a LimiterFactory, so with a cluster the limits hold across replicas.
import type { LimiterFactory, Limiter } from '../cluster/limiter.js';
import type { Bus } from '../events/bus.js';
import type { AuthFailureReason, Via } from '../events/catalog.js';
import { sampledLog, type LogLine } from '../logging/sampled.js';

export interface AuthGateOptions {
  readonly bus: Bus;
  readonly limiters: LimiterFactory;
  readonly upgradesPerMinute: number;
  readonly failuresPerMinute: number;
  /** Where refusals are logged, sampled (at most one line per `logIntervalMs`, default 10 s). */
  readonly log?: LogLine;
  readonly logIntervalMs?: number;
  /** A limiter's backing store failed: the request is let through and this is told. */
  readonly onInternalError?: (error: unknown) => void;
}

export interface GateRefusal {
  readonly message: string;
  readonly retryAfterMs: number;
}

export interface AuthGate {
  /** Before any token is read. A socket upgrade also takes one point of the upgrade limit. */
  admit(address: string, via: Via): Promise<GateRefusal | undefined>;
  /** A token or origin was refused. Settles once the failure is counted (never rejects). */
  failed(address: string, reason: AuthFailureReason, via: Via): Promise<void>;
}

export function createAuthGate(options: AuthGateOptions): AuthGate {
  const { bus } = options;
  const upgrades: Limiter = options.limiters({ name: 'upgrade', points: options.upgradesPerMinute, durationS: 60 });
  const failures: Limiter = options.limiters({ name: 'auth', points: options.failuresPerMinute, durationS: 60 });
  const log = sampledLog(options.log ?? (() => {}), options.logIntervalMs ?? 10_000);
  const internal = (error: unknown): void => {
    try {
      options.onInternalError?.(error);
    } catch {
      // reporting must not break the door
    }
  };

  return {
    async admit(address, via) {
      try {
        if (via === 'socket') {
          const u = await upgrades.consume(address);
          if (!u.allowed) {
            bus.emit('rateLimited', { limiter: 'upgrade' });
            log.note({ address, via, limiter: 'upgrade' }, 'upgrade refused: too many from this address');
            return { message: 'too many connection attempts; slow down', retryAfterMs: u.retryAfterMs };
          }
        }
        // Zero points: reads the failure count without adding to it. The allowance is used up
        // at `failuresPerMinute` failures; the window started at the first, so it ends within 60 s.
        const f = await failures.consume(address, 0);
        if (!f.allowed || f.remaining <= 0) {
          bus.emit('rateLimited', { limiter: 'auth' });
          log.note({ address, via, limiter: 'auth' }, 'request refused: too many failed authentications from this address');
          return { message: 'too many failed authentications; slow down', retryAfterMs: f.allowed ? 60_000 : f.retryAfterMs };
        }
      } catch (error) {
        internal(error);
      }
      return undefined;
    },
    async failed(address, reason, via) {
      bus.emit('authFailed', { reason, via });
      log.note({ address, via, reason }, via === 'socket' ? 'upgrade refused' : 'request refused');
      // Awaited by the caller, so the next attempt from this address already sees it.
      await failures.consume(address).catch(internal);
    },
  };
}
