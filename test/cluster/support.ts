// Several real server processes (src/main.ts) as one service: one PostgreSQL schema and one
// Redis key prefix per test run, the same JWT secret, a different INSTANCE_ID each.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import pg from 'pg';
import { startServerProcess, type ServerProcess } from '../../bench/load/server-process.js';
import { parseExposition, type Exposition } from '../support/exposition.js';
import { eventually as pollUntil } from '../support/server.js';
import { connectClient, type TestClient } from '../support/ws-client.js';

export const SECRET = 'replicas-secret-replicas-secret-0123456789abcdef';
export const BASE_DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface Replica {
  readonly id: string;
  readonly proc: ServerProcess;
  readonly url: string;
  readonly wsUrl: string;
}

export interface ReplicaSet {
  readonly replicas: Replica[];
  readonly schema: string;
  readonly keyPrefix: string;
  start(id: string, env?: Record<string, string>): Promise<Replica>;
  token(userId: string, admin?: boolean): Promise<string>;
  connect(replica: Replica, token: string, sessionId?: string): Promise<TestClient>;
  scrape(replica: Replica): Promise<Exposition>;
  /** One series summed over the replicas still running (each scraped as Prometheus would). */
  sum(name: string, labels?: Record<string, string>): Promise<number>;
  /** The sessions table as PostgreSQL has it. */
  sessions(): Promise<{ id: string; is_active: boolean; end_reason: string | null; owner_instance: string }[]>;
  messages(sessionId: string): Promise<{ sender: string; content: string }[]>;
  stop(): Promise<void>;
}

export async function startReplicaSet(options: { count: number; env?: Record<string, string> }): Promise<ReplicaSet> {
  const run = `${process.pid}_${randomUUID().slice(0, 8)}`;
  const schema = `chatbox_replicas_${run}`;
  const keyPrefix = `chatbox-test:${run}:`;
  const db = new pg.Client({ connectionString: BASE_DATABASE_URL });
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  const databaseUrl = `${BASE_DATABASE_URL}${BASE_DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'chatbox-replicas-'));
  const replicas: Replica[] = [];
  const all: Replica[] = [];

  async function start(id: string, env: Record<string, string> = {}): Promise<Replica> {
    const proc = await startServerProcess(
      {
        JWT_SECRET: SECRET,
        DATA_DIR: dataDir,
        STORE: 'postgres',
        DATABASE_URL: databaseUrl,
        REDIS_URL,
        REDIS_KEY_PREFIX: keyPrefix,
        INSTANCE_ID: id,
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_S: '10',
        ...options.env,
        ...env,
      },
      60_000,
    );
    const replica: Replica = { id, proc, url: proc.url, wsUrl: proc.wsUrl };
    replicas.push(replica);
    all.push(replica);
    void proc.exited.then(() => {
      const at = replicas.indexOf(replica);
      if (at !== -1) replicas.splice(at, 1);
    });
    return replica;
  }

  // Started one after another: each compiles the sources with tsx, which is CPU-bound.
  for (let i = 1; i <= options.count; i++) await start(`r${i}`);

  const scrape = async (r: Replica): Promise<Exposition> => parseExposition(await (await fetch(`${r.url}/metrics`)).text());
  return {
    replicas,
    schema,
    keyPrefix,
    start,
    token: (userId, admin = false) =>
      new SignJWT({ user_id: userId, name: userId, roles: admin ? ['user', 'admin'] : ['user'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(SECRET)),
    connect(r, token, sessionId) {
      const q = new URLSearchParams({ token });
      if (sessionId !== undefined) q.set('session_id', sessionId);
      return connectClient(`${r.wsUrl}?${q.toString()}`);
    },
    scrape,
    async sum(name, labels) {
      let n = 0;
      for (const r of [...replicas]) n += (await scrape(r)).value(name, labels) ?? 0;
      return n;
    },
    async sessions() {
      return (await db.query(`SELECT id, is_active, end_reason, owner_instance FROM ${schema}.sessions ORDER BY started_at`)).rows;
    },
    async messages(sessionId) {
      return (await db.query(`SELECT sender, content FROM ${schema}.messages WHERE session_id = $1 ORDER BY seq`, [sessionId])).rows;
    },
    async stop() {
      await Promise.all(all.map((r) => r.proc.stop(5000)));
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A redis-server of the test's own on a free port, to stop and start at will. */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function ownRedis(port: number): OwnRedis {
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-redis-'));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: 'ignore',
      });
      const { Redis } = await import('ioredis');
      const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 1 });
      probe.on('error', () => {});
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          if (probe.status !== 'ready') await probe.connect().catch(() => {});
          if ((await probe.ping()) === 'PONG') break;
        } catch {
          if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      probe.disconnect();
    },
    async stop() {
      const c = child;
      child = undefined;
      if (c === undefined || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls until `check` passes: longer and less often than in one process (real replicas, Redis). */
export const eventually = (check: () => Promise<void> | void, timeoutMs = 10_000): Promise<void> => pollUntil(check, timeoutMs, 100);
