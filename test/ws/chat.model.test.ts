// Model-based test over random client actions against the real server: open, send valid, send
// garbage, send oversize, close, drop abruptly, admin join and leave. After every step the gauges
// equal the live state and the counters equal the model; at the end every surviving client still
// holds a working conversation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientFrameSchema } from '../../src/protocol/frames.js';
import { eventually, startTestServer, type TestServer } from '../support/server.js';
import type { TestClient } from '../support/ws-client.js';

const MAX_BYTES = 2048;
const validFrame = clientFrameSchema(MAX_BYTES);

/** Garbage: anything a client could send as text that is not a valid frame. */
const garbage = fc
  .oneof(
    fc.string({ maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    fc.record({ type: fc.constantFrom('user_message', 'admin_join', 'model_select', 'nope'), content: fc.anything() }).map((o) => JSON.stringify(o)),
  )
  .filter((text) => {
    if (Buffer.byteLength(text) > MAX_BYTES) return false;
    try {
      return !validFrame.safeParse(JSON.parse(text)).success;
    } catch {
      return true;
    }
  });

interface Peer {
  readonly name: string;
  readonly admin: boolean;
  client: TestClient | undefined;
  sessionId: string | undefined;
  replies: number;
}

class Model {
  readonly peers: Peer[] = [];
  received = 0;
  extraErrors = 0;
  sessions = new Set<string>();
  takenOver: string | undefined;
  get open(): number {
    return this.peers.filter((p) => p.client !== undefined).length;
  }
}

interface Real {
  readonly server: TestServer;
  /** Every client ever opened (closed ones keep their frames for the tally). */
  readonly clients: TestClient[];
}

async function settle(m: Model, r: Real): Promise<void> {
  await eventually(async () => {
    const x = await r.server.scrape();
    const got = r.clients.reduce((n, c) => n + c.frames.length, 0);
    const errors = r.clients.reduce((n, c) => n + c.frames.filter((f) => f.type === 'error').length, 0);
    expect(x.value('chatbox_websocket_connections_total')).toBe(m.open);
    expect(r.server.app.connections.size).toBe(m.open);
    expect(x.value('chatbox_active_sessions_total')).toBe(m.sessions.size);
    expect(x.value('chatbox_sessions_created_total')).toBe(m.sessions.size);
    expect(x.value('chatbox_messages_received_total')).toBe(m.received);
    expect(x.value('chatbox_messages_sent_total')).toBe(got);
    expect(x.value('chatbox_message_errors_total')).toBe(errors + m.extraErrors);
  }, 4000);
}

type Cmd = fc.AsyncCommand<Model, Real>;

class Open implements Cmd {
  constructor(readonly admin: boolean) {}
  check = (m: Readonly<Model>): boolean => m.open < 6;
  async run(m: Model, r: Real): Promise<void> {
    const name = `${this.admin ? 'admin' : 'user'}${m.peers.length}`;
    const client = await r.server.connect(await r.server.token(name, { admin: this.admin, name }));
    await client.next((f) => f.type === 'connection_status');
    r.clients.push(client);
    m.peers.push({ name, admin: this.admin, client, sessionId: undefined, replies: 0 });
    await settle(m, r);
  }
  toString = (): string => `open(${this.admin ? 'admin' : 'user'})`;
}

const pick = (m: Readonly<Model>, i: number, admin?: boolean): Peer | undefined => {
  const open = m.peers.filter((p) => p.client !== undefined && (admin === undefined || p.admin === admin));
  return open.length === 0 ? undefined : open[i % open.length];
};

class SendValid implements Cmd {
  constructor(readonly i: number, readonly text: string) {}
  check = (m: Readonly<Model>): boolean => {
    const p = pick(m, this.i, false);
    return p !== undefined && (p.sessionId === undefined || p.sessionId !== m.takenOver);
  };
  async run(m: Model, r: Real): Promise<void> {
    const p = pick(m, this.i, false) as Peer;
    const c = p.client as TestClient;
    const from = c.frames.length;
    c.send({ type: 'user_message', content: this.text });
    m.received++;
    expect(await c.reply({ from })).toBe(`You said: ${this.text}.`);
    p.sessionId ??= c.frames.find((f) => f.session_id !== undefined)?.session_id;
    m.sessions.add(p.sessionId as string);
    p.replies++;
    await settle(m, r);
  }
  toString = (): string => `sendValid(${this.i}, ${JSON.stringify(this.text)})`;
}

class SendGarbage implements Cmd {
  constructor(readonly i: number, readonly text: string) {}
  check = (m: Readonly<Model>): boolean => pick(m, this.i) !== undefined;
  async run(m: Model, r: Real): Promise<void> {
    const c = (pick(m, this.i) as Peer).client as TestClient;
    const from = c.frames.length;
    c.sendRaw(this.text);
    m.received++;
    const e = await c.next((f) => f.type === 'error', { from });
    expect(['INVALID_JSON', 'INVALID_MESSAGE']).toContain(e.error?.code);
    await settle(m, r);
  }
  toString = (): string => `sendGarbage(${this.i}, ${JSON.stringify(this.text)})`;
}

/** Oversize frame, close, or abrupt drop: the socket goes away. */
class Leave implements Cmd {
  constructor(readonly i: number, readonly how: 'oversize' | 'close' | 'drop') {}
  check = (m: Readonly<Model>): boolean => pick(m, this.i) !== undefined;
  async run(m: Model, r: Real): Promise<void> {
    const p = pick(m, this.i) as Peer;
    const c = p.client as TestClient;
    if (this.how === 'oversize') {
      c.sendRaw(JSON.stringify({ type: 'user_message', content: 'z'.repeat(MAX_BYTES * 2) }));
      m.received++;
      m.extraErrors++;
      await c.closed;
    } else if (this.how === 'close') {
      await c.close();
    } else {
      c.terminate();
      await c.closed;
    }
    p.client = undefined;
    if (p.admin && m.takenOver !== undefined && p.sessionId === m.takenOver) {
      // The admin left without handing back: the session stays with humans (no AI) — don't message it.
    }
    await settle(m, r);
  }
  toString = (): string => `leave(${this.i}, ${this.how})`;
}

class AdminJoin implements Cmd {
  constructor(readonly i: number, readonly j: number) {}
  check = (m: Readonly<Model>): boolean => {
    const target = m.peers.filter((p) => !p.admin && p.sessionId !== undefined);
    return m.takenOver === undefined && pick(m, this.i, true) !== undefined && target.length > 0;
  };
  async run(m: Model, r: Real): Promise<void> {
    const admin = pick(m, this.i, true) as Peer;
    const targets = m.peers.filter((p) => !p.admin && p.sessionId !== undefined);
    const target = targets[this.j % targets.length] as Peer;
    const c = admin.client as TestClient;
    const from = c.frames.length;
    c.send({ type: 'admin_join', session_id: target.sessionId });
    m.received++;
    await c.next((f) => f.type === 'connection_status' && f.session_id === target.sessionId, { from });
    if (target.client !== undefined) await target.client.next((f) => f.type === 'admin_join');
    admin.sessionId = target.sessionId;
    m.takenOver = target.sessionId;
    await settle(m, r);
  }
  toString = (): string => `adminJoin(${this.i}, ${this.j})`;
}

class AdminLeave implements Cmd {
  check = (m: Readonly<Model>): boolean =>
    m.takenOver !== undefined && m.peers.some((p) => p.admin && p.client !== undefined);
  async run(m: Model, r: Real): Promise<void> {
    const admin = m.peers.find((p) => p.admin && p.client !== undefined) as Peer;
    const c = admin.client as TestClient;
    const from = c.frames.length;
    c.send({ type: 'admin_leave', session_id: m.takenOver });
    m.received++;
    const owner = m.peers.find((p) => !p.admin && p.sessionId === m.takenOver);
    await c.next((f) => f.type === 'admin_leave', { from });
    if (owner?.client !== undefined) await owner.client.next((f) => f.type === 'admin_leave');
    if (admin.sessionId === m.takenOver) admin.sessionId = undefined;
    m.takenOver = undefined;
    await settle(m, r);
  }
  toString = (): string => 'adminLeave';
}

const commands = [
  fc.boolean().map((admin) => new Open(admin)),
  fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim() !== '')).map(([i, t]) => new SendValid(i, t)),
  fc.tuple(fc.nat(), garbage).map(([i, t]) => new SendGarbage(i, t)),
  fc.tuple(fc.nat(), fc.constantFrom('oversize', 'close', 'drop') as fc.Arbitrary<'oversize' | 'close' | 'drop'>).map(([i, how]) => new Leave(i, how)),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]) => new AdminJoin(i, j)),
  fc.constant(new AdminLeave()),
];

describe.each(['uws', 'ws'] as const)('random client actions over %s', (transport) => {
  it('keep gauges equal to the live state and counters equal to the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: 'max' }), async (cmds) => {
        const server = await startTestServer({
          transport,
          env: { MAX_MESSAGE_BYTES: String(MAX_BYTES), RATE_LIMIT_PER_MINUTE: '100000' },
        });
        const model = new Model();
        const real: Real = { server, clients: [] };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          if (process.env['DEBUG_MODEL'] !== undefined) console.log(String(cmds));
          // Everyone still connected keeps a working conversation.
          for (const p of model.peers) {
            if (p.client === undefined || p.admin || (p.sessionId !== undefined && p.sessionId === model.takenOver)) continue;
            const from = p.client.frames.length;
            p.client.send({ type: 'user_message', content: 'still there?' });
            model.received++;
            expect(await p.client.reply({ from })).toBe('You said: still there?.');
            if (p.sessionId === undefined) p.sessionId = p.client.frames.find((f) => f.session_id !== undefined)?.session_id;
            model.sessions.add(p.sessionId as string);
          }
          await settle(model, real);
        } finally {
          for (const c of real.clients) c.terminate();
          await server.stop();
        }
      }),
      { numRuns: Number(process.env['MODEL_RUNS'] ?? 15), endOnFailure: process.env['MODEL_RUNS'] !== undefined },
    );
  }, 120_000);
});
