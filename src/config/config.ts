// Server configuration from the environment, validated once at start: a bad value stops the
// start with a message naming the variable, never a surprise on the first request.
import { hostname } from 'node:os';
import { z } from 'zod';
import { ChatboxError } from '../errors.js';
import { devSecret } from './dev-secret.js';
import { cleanEnv, describeEnvIssues, envInt } from './env.js';

const MIN_SECRET_BYTES = 32;



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
  STORE: z.enum(['pglite', 'postgres', 'memory'], { error: 'must be pglite, postgres or memory' }).optional(),
  ENCRYPTION_KEY: z.string().optional(),
  INSTANCE_ID: z.string().min(1).max(128).optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }).optional(),
  REDIS_KEY_PREFIX: z.string().max(64).default('chatbox:'),
  MAX_SOCKETS_PER_USER: envInt(1, 10_000).default(10),
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
  readonly maxMessageBytes: number;
  readonly maxBackpressureBytes: number;
  readonly rateLimitPerMinute: number;
  readonly httpRateLimitPerMinute: number;
  readonly sessionIdleTimeoutSeconds: number;
  readonly socketIdleTimeoutSeconds: number;
  readonly shutdownGraceSeconds: number;
  readonly corsOrigins: readonly string[];
  readonly metricsToken: string | undefined;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly store: 'pglite' | 'postgres' | 'memory';
  readonly encryptionKey: string | undefined;
  readonly instanceId: string;
  /** Several replicas share live state through this Redis; unset: one process. */
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly maxSocketsPerUser: number;
  readonly logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const parsed = schema.safeParse(cleanEnv(env));
  if (!parsed.success) {
    throw new ChatboxError('CHATBOX_ERR_CONFIG', `invalid configuration:\n${describeEnvIssues(parsed.error)}`);
  }
  const c = parsed.data;
  const production = c.NODE_ENV === 'production';
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
  } else if (Buffer.byteLength(jwtSecret) < MIN_SECRET_BYTES && production) {
    throw new ChatboxError(
      'CHATBOX_ERR_CONFIG',
      `JWT_SECRET is too short: ${Buffer.byteLength(jwtSecret)} bytes, at least ${MIN_SECRET_BYTES} are required in production`,
    );
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
    maxMessageBytes: c.MAX_MESSAGE_BYTES,
    maxBackpressureBytes: c.MAX_BACKPRESSURE_BYTES,
    rateLimitPerMinute: c.RATE_LIMIT_PER_MINUTE,
    httpRateLimitPerMinute: c.HTTP_RATE_LIMIT_PER_MINUTE,
    sessionIdleTimeoutSeconds: c.SESSION_IDLE_TIMEOUT_S,
    socketIdleTimeoutSeconds: c.SOCKET_IDLE_TIMEOUT_S,
    shutdownGraceSeconds: c.SHUTDOWN_GRACE_S,
    corsOrigins: c.CORS_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    metricsToken: c.METRICS_TOKEN,
    dataDir: c.DATA_DIR,
    databaseUrl: c.DATABASE_URL,
    store: c.STORE ?? (c.DATABASE_URL !== undefined ? 'postgres' : 'pglite'),
    encryptionKey: c.ENCRYPTION_KEY,
    instanceId: c.INSTANCE_ID ?? hostname(),
    redisUrl: c.REDIS_URL,
    redisKeyPrefix: c.REDIS_KEY_PREFIX,
    maxSocketsPerUser: c.MAX_SOCKETS_PER_USER,
    logLevel: c.LOG_LEVEL,
  };
}
