// Server configuration from the environment, validated once at start: a bad value stops the
// start with a message naming the variable, never a surprise on the first request.
import { hostname } from 'node:os';
import { z } from 'zod';
import { ChatboxError } from '../errors.js';
import { invalidProxyEntry } from '../http/client-address.js';
import { devSecret } from './dev-secret.js';
import { cleanEnv, describeEnvIssues, envInt } from './env.js';
import { MIN_SECRET_BYTES, secretWeakness } from './secret-strength.js';

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: envInt(0, 65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  PATH_PREFIX: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*$/, { error: 'must be empty or like /chatbox (no trailing slash)' })
    .default('/chatbox'),
  TRANSPORT: z.enum(['uws', 'ws'], { error: 'must be uws or ws' }).default('uws'),
  JWT_SECRET: z.string().optional(),
  JWT_MAX_TTL_S: envInt(60, 366 * 24 * 3600).optional(),
  TRUSTED_PROXIES: z.string().default(''),
  UPGRADE_RATE_LIMIT_PER_MINUTE: envInt(1, 1_000_000).default(120),
  AUTH_FAILURES_PER_MINUTE: envInt(1, 1_000_000).default(20),
  MAX_MESSAGE_BYTES: envInt(256, 16 * 1024 * 1024).default(64 * 1024),
  MAX_BACKPRESSURE_BYTES: envInt(1024, 64 * 1024 * 1024).default(1024 * 1024),
  RATE_LIMIT_PER_MINUTE: envInt(1, 1_000_000).default(100),
  HTTP_RATE_LIMIT_PER_MINUTE: envInt(1, 1_000_000).default(600),
  SESSION_IDLE_TIMEOUT_S: envInt(1, 7 * 24 * 3600).default(1800),
  SOCKET_IDLE_TIMEOUT_S: envInt(8, 960).default(120),
  SHUTDOWN_GRACE_S: envInt(0, 600).default(10),
  CORS_ORIGINS: z.string().default(''),
  METRICS_TOKEN: z.string().optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().optional(),
  STORE: z.enum(['sqlite', 'postgres', 'memory'], { error: 'must be sqlite, postgres or memory (PGlite was replaced by SQLite)' }).optional(),
  ENCRYPTION_KEY: z.string().optional(),
  INSTANCE_ID: z.string().min(1).max(128).optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }).optional(),
  REDIS_KEY_PREFIX: z.string().max(64).default('chatbox:'),
  MAX_SOCKETS_PER_USER: envInt(1, 10_000).default(10),
  EVENT_LOOP_LAG_RESOLUTION_MS: envInt(1, 1000).default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface ServerConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly prefix: string;
  readonly transport: 'uws' | 'ws';
  readonly jwtSecret: string;
  /** True when JWT_SECRET was unset and the development secret under DATA_DIR is used. */
  readonly generatedSecret: boolean;
  /** Longest token lifetime accepted (JWT_MAX_TTL_S); unset: any, as long as `exp` is there. */
  readonly jwtMaxTtlSeconds: number | undefined;
  /** Peers whose X-Forwarded-For names the client (addresses or CIDR ranges). */
  readonly trustedProxies: readonly string[];
  /** WebSocket upgrades per client address per minute. */
  readonly upgradeRateLimitPerMinute: number;
  /** Failed authentications per client address per minute; past it the address gets 429. */
  readonly authFailuresPerMinute: number;
  /** Things a person should fix, logged at start (a weak secret in development...). */
  readonly warnings: readonly string[];
  readonly maxMessageBytes: number;
  readonly maxBackpressureBytes: number;
  readonly rateLimitPerMinute: number;
  readonly httpRateLimitPerMinute: number;
  readonly sessionIdleTimeoutSeconds: number;
  readonly socketIdleTimeoutSeconds: number;
  readonly shutdownGraceSeconds: number;
  /** Period of the nodejs_eventloop_lag_* sampler; each tick wakes an idle event loop. */
  readonly eventLoopLagResolutionMs: number;
  readonly corsOrigins: readonly string[];
  readonly metricsToken: string | undefined;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly store: 'sqlite' | 'postgres' | 'memory';
  readonly encryptionKey: string | undefined;
  readonly instanceId: string;
  /** Several replicas share live state through this Redis; unset: one process. */
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly maxSocketsPerUser: number;
  readonly logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv): ServerConfig {
  // cleanEnv treats empty as unset, but an empty key is a mistake (a template left blank), never
  // "encryption off": that would silently store every message in clear.
  if (env['ENCRYPTION_KEY'] !== undefined && env['ENCRYPTION_KEY'].trim() === '') {
    throw new ChatboxError(
      'CHATBOX_ERR_CONFIG',
      'invalid configuration:\n  ENCRYPTION_KEY: is set but empty; give a key (`openssl rand -base64 32`) or unset it to store messages unencrypted',
    );
  }
  const parsed = schema.safeParse(cleanEnv(env));
  if (!parsed.success) {
    throw new ChatboxError('CHATBOX_ERR_CONFIG', `invalid configuration:\n${describeEnvIssues(parsed.error)}`);
  }
  const c = parsed.data;
  const production = c.NODE_ENV.trim().toLowerCase() === 'production';
  const warnings: string[] = [];
  let jwtSecret = c.JWT_SECRET;
  let generatedSecret = false;
  if (jwtSecret === undefined) {
    if (production) {
      throw new ChatboxError(
        'CHATBOX_ERR_CONFIG',
        `JWT_SECRET is required when NODE_ENV=production (at least ${MIN_SECRET_BYTES} bytes, e.g. \`openssl rand -base64 48\`)`,
      );
    }
    jwtSecret = devSecret(c.DATA_DIR);
    generatedSecret = true;
  } else {
    const weakness = secretWeakness(jwtSecret);
    if (weakness !== undefined && production) {
      throw new ChatboxError(
        'CHATBOX_ERR_CONFIG',
        `JWT_SECRET is refused in production: ${weakness} (use e.g. \`openssl rand -base64 48\`)`,
      );
    }
    if (weakness !== undefined) warnings.push(`JWT_SECRET would be refused in production: ${weakness}`);
  }
  const trustedProxies = c.TRUSTED_PROXIES.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const badProxy = trustedProxies.find(invalidProxyEntry);
  if (badProxy !== undefined) {
    throw new ChatboxError('CHATBOX_ERR_CONFIG', `TRUSTED_PROXIES: ${JSON.stringify(badProxy)} is not an IP address or CIDR range`);
  }
  if (c.STORE === 'postgres' && c.DATABASE_URL === undefined) {
    throw new ChatboxError('CHATBOX_ERR_CONFIG', 'STORE=postgres needs DATABASE_URL');
  }
  return {
    production,
    port: c.PORT,
    host: c.HOST,
    prefix: c.PATH_PREFIX,
    transport: c.TRANSPORT,
    jwtSecret,
    generatedSecret,
    jwtMaxTtlSeconds: c.JWT_MAX_TTL_S,
    trustedProxies,
    upgradeRateLimitPerMinute: c.UPGRADE_RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: c.AUTH_FAILURES_PER_MINUTE,
    warnings,
    maxMessageBytes: c.MAX_MESSAGE_BYTES,
    maxBackpressureBytes: c.MAX_BACKPRESSURE_BYTES,
    rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
    httpRateLimitPerMinute: c.HTTP_RATE_LIMIT_PER_MINUTE,
    sessionIdleTimeoutSeconds: c.SESSION_IDLE_TIMEOUT_S,
    socketIdleTimeoutSeconds: c.SOCKET_IDLE_TIMEOUT_S,
    shutdownGraceSeconds: c.SHUTDOWN_GRACE_S,
    eventLoopLagResolutionMs: c.EVENT_LOOP_LAG_RESOLUTION_MS,
    corsOrigins: c.CORS_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    metricsToken: c.METRICS_TOKEN,
    dataDir: c.DATA_DIR,
    databaseUrl: c.DATABASE_URL,
    store: c.STORE ?? (c.DATABASE_URL !== undefined ? 'postgres' : 'sqlite'),
    encryptionKey: c.ENCRYPTION_KEY,
    instanceId: c.INSTANCE_ID ?? hostname(),
    redisUrl: c.REDIS_URL,
    redisKeyPrefix: c.REDIS_KEY_PREFIX,
    maxSocketsPerUser: c.MAX_SOCKETS_PER_USER,
    logLevel: c.LOG_LEVEL,
  };
}
