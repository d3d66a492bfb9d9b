// Model-based test of several replicas as one service: three in-process apps on one in-process
// cluster (src/cluster/local.ts) and one PostgreSQL schema. Random users' devices open on random
// replicas, send, close; admins take over, hand back and end sessions over REST on any replica;
// replicas stop (hand-over). The model holds the frames each device must have received and the
// readings the replicas' metrics must sum to.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { createLocalHub } from '../../src/cluster/local.js';
import { loadConfig } from '../../src/config/config.js';
import { createBus } from '../../src/events/bus.js';
import { createSessionStore } from '../../src/storage/index.js';
import { parseExposition } from '../support/exposition.js';
import { fakeReplies } from '../support/fake-replies.js';
import { TEST_SECRET } from '../support/server.js';
import { connectClient, type Frame, type TestClient } from '../support/ws-client.js';
import { BASE_DATABASE_URL, eventually } from './support.js';

const REPLICAS = 3;
const USERS = ['u0', 'u1'] as const;
const DEVICES = 3;

const run = `${process.pid}_${randomUUID().slice(0, 8)}`;
const schema = `chatbox_model_${run}`;
const databaseUrl = `${BASE_DATABASE_URL}${BASE_DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
let db: pg.Client;

beforeAll(async () => {
  db = new pg.Client({ connectionString: BASE_DATABASE_URL });
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
});

interface Device {
  client: TestClient | undefined;
  replica: number;
  /** Attached to the user's session (or waiting for it to be created). */
  attached: boolean;
  done: number;
  joins: number;
  leaves: number;
  relayed: number;
  endedNotes: number;
}

interface UserState {
  readonly sessionId: string;
  created: boolean;
  active: boolean;
  takenOver: boolean;
  owner: number;
  readonly devices: Device[];
}

class Model {
  readonly running = Array.from({ length: REPLICAS }, () => true);
  readonly users = new Map<string, UserState>(
    USERS.map((u) => [u, { sessionId: randomUUID(), created: false, active: false, takenOver: false, owner: -1, devices: [] as Device[] }]),
  );
  takeovers = 0;
  handbacks = 0;
  steps = 0;
  ended = 0;
  get open(): number {
    let n = 0;
    for (const u of this.users.values()) n += u.devices.filter((d) => d.client !== undefined).length;
    return n;
  }
}

interface Real {
  readonly apps: (App | undefined)[];
  readonly clients: TestClient[];
}

const count = (c: TestClient, match: (f: Frame) => boolean): number => c.frames.filter(match).length;
const isDone = (f: Frame): boolean => f.type === 'ai_response' && f.sender === 'ai' && f.metadata?.['done'] === 'true';

async function sum(r: Real, name: string): Promise<number> {
  let n = 0;
  for (const app of r.apps) if (app !== undefined) n += parseExposition(await (await fetch(`${app.url}/metrics`)).text()).value(name) ?? 0;
  return n;
}

async function settle(m: Model, r: Real): Promise<void> {
  await eventually(async () => {
    for (const u of m.users.values()) {
      for (const d of u.devices) {
        const c = d.client;
        if (c === undefined) continue;
        expect(count(c, isDone)).toBe(d.done);
        expect(count(c, (f) => f.type === 'admin_join')).toBe(d.joins);
        expect(count(c, (f) => f.type === 'admin_leave')).toBe(d.leaves);
        expect(count(c, (f) => f.type === 'user_message')).toBe(d.relayed);
        expect(count(c, (f) => f.metadata?.['session_ended'] !== undefined)).toBe(d.endedNotes);
      }
    }
    expect(await sum(r, 'chatbox_websocket_connections_total')).toBe(m.open);
    const created = [...m.users.values()].filter((u) => u.created).length;
    const active = [...m.users.values()].filter((u) => u.active).length;
    expect(await sum(r, 'chatbox_active_sessions_total')).toBe(active);
    // Replicas that stopped took their counters with them (as a scraped pod that is gone does).
    if (m.running.every(Boolean)) {
      expect(await sum(r, 'chatbox_admin_takeovers_total')).toBe(m.takeovers);
      expect(await sum(r, 'chatbox_admin_handbacks_total')).toBe(m.handbacks);
      expect(await sum(r, 'chatbox_sessions_ended_total')).toBe(m.ended);
      expect(await sum(r, 'chatbox_sessions_created_total')).toBe(created);
      const got = r.clients.reduce((n, c) => n + c.frames.length, 0);
      expect(await sum(r, 'chatbox_messages_sent_total')).toBe(got);
    }
  }, 10_000);
}

const app = (r: Real, i: number): App => r.apps[i] as App;
const tokenFor = (r: Real, i: number, userId: string, admin = false) =>
  app(r, i).auth.mint({ userId, name: userId, roles: admin ? ['user', 'admin'] : ['user'] });

type Cmd = fc.AsyncCommand<Model, Real>;

class Open implements Cmd {
  constructor(readonly user: string, readonly replica: number) {}
  check = (m: Readonly<Model>) => m.running[this.replica] === true && openDevices(m.users.get(this.user), false).length < DEVICES;
  async run(m: Model, r: Real): Promise<void> {
    m.steps++;
    const u = m.users.get(this.user) as UserState;
    const token = await tokenFor(r, this.replica, this.user);
    const client = await connectClient(`${app(r, this.replica).wsUrl}?token=${token}&session_id=${u.sessionId}`);
    r.clients.push(client);
    await client.next((f) => f.type === 'connection_status');
    u.devices.push({ client, replica: this.replica, attached: true, done: 0, joins: 0, leaves: 0, relayed: 0, endedNotes: 0 });
    if (u.created && !u.active) {
      // Connecting with the id of an ended session reopens it, here.
      u.active = true;
      u.owner = this.replica;
    }
    await settle(m, r);
  }
  toString = () => `open(${this.user}@r${this.replica})`;
}

const openDevices = (u: UserState | undefined, attached: boolean): Device[] =>
  (u?.devices ?? []).filter((d) => d.client !== undefined && (!attached || d.attached));

class Send implements Cmd {
  constructor(readonly user: string, readonly device: number) {}
  check = (m: Readonly<Model>) => openDevices(m.users.get(this.user), true).length > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.steps++;
    const u = m.users.get(this.user) as UserState;
    const choices = openDevices(u, true);
    const d = choices[this.device % choices.length] as Device;
    const c = d.client as TestClient;
    const from = c.frames.length;
    c.send({ type: 'user_message', content: `hello ${randomUUID().slice(0, 6)}` });
    if (!u.created) {
      u.created = true;
      u.active = true;
      u.owner = d.replica;
    }
    const attached = u.devices.filter((x) => x.client !== undefined && x.attached);
    if (u.takenOver) {
      for (const x of attached) if (x !== d) x.relayed++;
      await eventually(async () => {
        const row = await db.query(`SELECT count(*)::int AS n FROM ${schema}.messages WHERE session_id = $1 AND content LIKE 'hello %'`, [u.sessionId]);
        expect(row.rows[0].n).toBeGreaterThan(0);
      });
    } else {
      for (const x of attached) x.done++;
      await c.reply({ from, timeoutMs: 5000 });
    }
    await settle(m, r);
  }
  toString = () => `send(${this.user}#${this.device})`;
}

class Close implements Cmd {
  constructor(readonly user: string, readonly device: number) {}
  check = (m: Readonly<Model>) => openDevices(m.users.get(this.user), false).length > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.steps++;
    const choices = openDevices(m.users.get(this.user), false);
    const d = choices[this.device % choices.length] as Device;
    await (d.client as TestClient).close();
    d.client = undefined;
    await settle(m, r);
  }
  toString = () => `close(${this.user}#${this.device})`;
}

/** Takeover, handback or end over REST, asked of any running replica. */
class Rest implements Cmd {
  constructor(readonly user: string, readonly action: 'takeover' | 'handback' | 'end', readonly replica: number) {}
  check = (m: Readonly<Model>) => m.running[this.replica] === true && m.users.get(this.user)?.created === true;
  async run(m: Model, r: Real): Promise<void> {
    m.steps++;
    const u = m.users.get(this.user) as UserState;
    const a = app(r, this.replica);
    const path =
      this.action === 'end' ? `/chatbox/sessions/${u.sessionId}/end` : `/chatbox/admin/${this.action}/${u.sessionId}`;
    const res = await fetch(`${a.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${await tokenFor(r, this.replica, 'boss', true)}` } });
    const attached = u.devices.filter((x) => x.client !== undefined && x.attached);
    if (this.action === 'takeover') {
      expect(res.status).toBe(u.active ? 200 : 409);
      if (u.active && !u.takenOver) {
        u.takenOver = true;
        m.takeovers++;
        for (const x of attached) x.joins++;
      }
    } else if (this.action === 'handback') {
      // Idempotent: 200 whether or not an admin held it, `already` when none did.
      expect(res.status).toBe(200);
      expect(((await res.clone().json()) as { already: boolean }).already).toBe(!(u.active && u.takenOver));
      if (u.active && u.takenOver) {
        u.takenOver = false;
        m.handbacks++;
        for (const x of attached) x.leaves++;
      }
    } else {
      expect(res.status).toBe(200);
      if (u.active) {
        u.active = false;
        u.takenOver = false;
        m.ended++;
        for (const x of attached) {
          x.endedNotes++;
          x.attached = false;
        }
      }
    }
    await settle(m, r);
  }
  toString = () => `${this.action}(${this.user}@r${this.replica})`;
}

/** SIGTERM-like stop of one replica while others run: its sockets close, its sessions move on. */
class Stop implements Cmd {
  constructor(readonly replica: number) {}
  // After some conversation, so that there is something to hand over.
  check = (m: Readonly<Model>) => m.running[this.replica] === true && m.running.filter(Boolean).length > 1 && m.steps >= 6;
  async run(m: Model, r: Real): Promise<void> {
    await app(r, this.replica).stop();
    r.apps[this.replica] = undefined;
    m.running[this.replica] = false;
    for (const u of m.users.values()) {
      for (const d of u.devices) {
        if (d.replica !== this.replica || d.client === undefined) continue;
        expect((await d.client.closed).code).toBe(1001);
        d.client = undefined;
      }
      if (u.active && u.owner === this.replica) {
        // Handed over, not ended; the human's hold is kept in the store and goes with it.
        const row = await db.query(`SELECT owner_instance, is_active FROM ${schema}.sessions WHERE id = $1`, [u.sessionId]);
        expect(row.rows[0].is_active).toBe(true);
        u.owner = Number(String(row.rows[0].owner_instance).split('-').pop());
        expect(m.running[u.owner]).toBe(true);
      }
    }
    await settle(m, r);
  }
  toString = () => `stop(r${this.replica})`;
}

const user = fc.constantFrom(...USERS);
const replica = fc.nat({ max: REPLICAS - 1 });
const device = fc.nat({ max: 5 });
const open = fc.tuple(user, replica).map(([u, r]) => new Open(u, r));
const send = fc.tuple(user, device).map(([u, d]) => new Send(u, d));
const commands = [
  open,
  open,
  open,
  send,
  send,
  send,
  send,
  fc.tuple(user, device).map(([u, d]) => new Close(u, d)),
  fc.tuple(user, fc.constantFrom('takeover', 'handback', 'end') as fc.Arbitrary<'takeover' | 'handback' | 'end'>, replica).map(
    ([u, a, r]) => new Rest(u, a, r),
  ),
  fc.tuple(user, fc.constantFrom('takeover', 'handback') as fc.Arbitrary<'takeover' | 'handback'>, replica).map(([u, a, r]) => new Rest(u, a, r)),
  replica.map((r) => new Stop(r)),
];

async function startReplicas(tag: string): Promise<Real> {
  const hub = createLocalHub();
  const apps: App[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    const instanceId = `${tag}-${i}`;
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_SECRET,
      DATA_DIR: '/nonexistent',
      STORE: 'postgres',
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'silent',
      TRANSPORT: 'ws',
      INSTANCE_ID: instanceId,
      HTTP_RATE_LIMIT_PER_MINUTE: '100000',
    });
    const bus = createBus();
    const store = await createSessionStore({ kind: 'postgres', databaseUrl, instanceId, bus });
    apps.push(await startApp({ config, store, replies: fakeReplies(), logger: pino({ level: 'silent' }), bus, cluster: hub.node(instanceId) }));
  }
  return { apps, clients: [] };
}

describe('several in-process replicas on one cluster (model-based)', () => {
  it('every device gets the frames of its session and the summed metrics equal the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 30, size: 'max' }), async (cmds) => {
        const real = await startReplicas(`m${randomUUID().slice(0, 6)}`);
        try {
          await fc.asyncModelRun(() => ({ model: new Model(), real }), cmds);
        } finally {
          for (const c of real.clients) c.terminate();
          for (const a of real.apps) await a?.stop();
        }
      }),
      { numRuns: 10 },
    );
  }, 180_000);
});
