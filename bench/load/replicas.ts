// `npm run load -- --replicas 3 [--faults]`: several real server processes on one PostgreSQL and
// a Redis of the harness's own. Every user has two devices on two different replicas, in one
// session; each message must reach both. With --faults, Redis is stopped for a few seconds and
// one replica is killed (kill -9) during the run; devices on it reconnect to the others.
// Reconciled at the end against the store and the metrics summed over the replicas.
import { randomUUID } from 'node:crypto';
import { eventually, ownRedis, startReplicaSet, type Replica, type ReplicaSet } from '../../test/cluster/support.js';
import type { Frame, TestClient } from '../../test/support/ws-client.js';
import type { LoadReport } from './harness.js';
import { startLoadProvider } from './provider.js';
import { freePort } from '../../test/support/net.js';

export interface ReplicaLoadOptions {
  readonly replicas: number;
  readonly users: number;
  readonly durationS: number;
  readonly faults: boolean;
  readonly messageIntervalMs: number;
  readonly log?: (line: string) => void;
}

const isDone = (f: Frame): boolean => f.type === 'ai_response' && f.sender === 'ai' && f.metadata?.['done'] === 'true';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface User {
  readonly id: string;
  readonly sessionId: string;
  readonly devices: (TestClient | undefined)[];
  readonly acknowledged: string[];
  replies: number;
  /** Replies the other device did not get although both were connected on live replicas. */
  missed: number;
}

export async function runReplicaLoad(options: ReplicaLoadOptions): Promise<LoadReport> {
  const log = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const redis = ownRedis(await freePort());
  await redis.start();
  const provider = await startLoadProvider({ faults: false, ttftMs: 100, chunkMs: 20, chunks: 6, random: Math.random });
  let set: ReplicaSet | undefined;
  const rows: [string, string][] = [];
  const mismatches: string[] = [];
  const check = (what: string, ok: boolean, detail: string): void => {
    if (!ok) mismatches.push(`${what}: ${detail}`);
  };
  try {
    set = await startReplicaSet({
      count: options.replicas,
      env: { ...provider.env, REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '10000', HTTP_RATE_LIMIT_PER_MINUTE: '100000' },
    });
    const s = set;
    log(`load: ${options.replicas} replicas, ${options.users} users x 2 devices, ${options.durationS}s${options.faults ? ', faults on' : ''}`);
    const live = (): Replica[] => s.replicas.filter((r) => r.proc.child.exitCode === null && r.proc.child.signalCode === null);
    /** Device `k` of `u` on its own replica, or the next live one; retried (a socket may be dropped right after its upgrade under load). */
    const connect = async (u: User, k: number): Promise<TestClient> => {
      for (let attempt = 0; ; attempt++) {
        const rs = live();
        const r = rs[(Number(u.id.slice(1)) + k + attempt) % rs.length] as Replica;
        try {
          const c = await s.connect(r, await s.token(u.id), u.sessionId);
          const status = await c.next((f) => f.type === 'connection_status' || f.type === 'error', { timeoutMs: 10_000 });
          if (status.type === 'connection_status') return c;
          c.terminate();
        } catch {
          // refused while a replica goes away: try the next one
        }
        if (attempt > 50) throw new Error(`user ${u.id} could not reconnect`);
        await sleep(200);
      }
    };

    const users: User[] = [];
    for (let i = 0; i < options.users; i++) {
      const u: User = { id: `u${i}`, sessionId: randomUUID(), devices: [], acknowledged: [], replies: 0, missed: 0 };
      // Device 0 and device 1 on different replicas.
      for (const k of [0, 1]) u.devices.push(await connect(u, k));
      users.push(u);
    }

    let running = true;
    let faulting = false;
    const loops = users.map(async (u, i) => {
      await sleep((i * options.messageIntervalMs) / users.length);
      for (let n = 0; running; n++) {
        const k = n % 2;
        for (const j of [0, 1]) {
          const d = u.devices[j];
          if (d === undefined || d.socket.readyState !== d.socket.OPEN) u.devices[j] = await connect(u, j);
        }
        const sender = u.devices[k] as TestClient;
        const other = u.devices[1 - k] as TestClient;
        const content = `${u.id} message ${n} ${randomUUID().slice(0, 8)}`;
        const fromS = sender.frames.length;
        const fromO = other.frames.length;
        sender.send({ type: 'user_message', content });
        const ack = await sender.next((f) => f.type === 'loading' || f.type === 'error', { from: fromS, timeoutMs: 20_000 }).catch(() => undefined);
        if (ack?.type === 'loading') {
          u.acknowledged.push(content);
          const done = await sender.next(isDone, { from: fromS, timeoutMs: 20_000 }).catch(() => undefined);
          if (done !== undefined) {
            u.replies++;
            const seen = await other.next(isDone, { from: fromO, timeoutMs: 5000 }).catch(() => undefined);
            if (seen === undefined && !faulting && other.socket.readyState === other.socket.OPEN) u.missed++;
          }
        }
        await sleep(options.messageIntervalMs);
      }
    });

    const started = Date.now();
    if (options.faults) {
      await sleep((options.durationS * 1000) / 3);
      faulting = true;
      log('load: stopping Redis for 3 s');
      await redis.stop();
      await sleep(3000);
      await redis.start();
      await sleep(4000);
      log('load: kill -9 of one replica');
      const victim = live()[live().length - 1] as Replica;
      victim.proc.child.kill('SIGKILL');
      await victim.proc.exited;
      await sleep(5000);
      faulting = false;
    }
    await sleep(Math.max(0, options.durationS * 1000 - (Date.now() - started)));
    running = false;
    await Promise.all(loops);

    // Reconciliation.
    const acknowledged = users.reduce((n, u) => n + u.acknowledged.length, 0);
    let lost = 0;
    for (const u of users) {
      const stored = new Set((await s.messages(u.sessionId)).filter((m) => m.sender === 'user').map((m) => m.content));
      lost += u.acknowledged.filter((c) => !stored.has(c)).length;
    }
    const replies = users.reduce((n, u) => n + u.replies, 0);
    const missed = users.reduce((n, u) => n + u.missed, 0);
    const sessions = await s.sessions();
    rows.push(['replicas alive at the end', `${live().length} / ${options.replicas}`]);
    rows.push(['user messages acknowledged', String(acknowledged)]);
    rows.push(['acknowledged messages missing from the store', String(lost)]);
    rows.push(['replies completed', String(replies)]);
    rows.push(['replies the other device (other replica) missed outside faults', String(missed)]);
    check('acknowledged messages', lost === 0, `${lost} missing from the store`);
    check('cross-replica delivery', missed === 0, `${missed} replies did not reach the user's other device`);
    check('sessions', sessions.length === users.length, `${sessions.length} sessions in the store for ${users.length} users`);
    await eventually(async () => {
      const open = sessions.length === 0 ? 0 : (await s.sessions()).filter((x) => x.is_active).length;
      const summed = await s.sum('chatbox_active_sessions_total');
      if (summed !== open) throw new Error(`summed active sessions ${summed}, store ${open}`);
    }, 15_000).catch((e: Error) => check('active sessions gauge', false, e.message));
    const sockets = users.reduce((n, u) => n + u.devices.filter((d) => d?.socket.readyState === d?.socket.OPEN).length, 0);
    const connections = await s.sum('chatbox_websocket_connections_total');
    rows.push(['sockets open / summed connections gauge', `${sockets} / ${connections}`]);
    check('connections gauge', connections === sockets, `${connections} summed, ${sockets} open`);
    const dropped = await s.sum('chatbox_messages_dropped_total', { reason: 'unreachable' });
    rows.push(['frames dropped, unreachable (summed)', String(dropped)]);
    if (!options.faults) {
      const created = await s.sum('chatbox_sessions_created_total');
      check('sessions created', created === users.length, `${created} summed, ${users.length} sessions`);
      check('unreachable drops', dropped === 0, `${dropped} without a fault`);
    }
    let delivered = 0;
    for (const r of live()) {
      const x = await s.scrape(r);
      delivered += x.value('chatbox_cluster_delivery_seconds_count') ?? 0;
      check(`replica ${r.id} connected`, x.value('chatbox_cluster_connected') === 1, 'chatbox_cluster_connected is not 1');
    }
    rows.push(['cross-replica messages delivered (summed)', String(delivered)]);
    for (const u of users) for (const d of u.devices) d?.terminate();
    // The last replica standing ends the sessions; the others hand theirs over and exit 0.
    for (const r of [...live()]) check(`replica ${r.id} exit`, (await r.proc.stop()) === 0, 'did not exit 0');
    const ended = (await s.sessions()).filter((x) => x.is_active).length;
    check('shutdown', ended === 0, `${ended} sessions left open after the last replica stopped`);
  } finally {
    await set?.stop();
    await provider.close();
    await redis.stop();
  }
  return { rows, mismatches, ok: mismatches.length === 0 };
}
