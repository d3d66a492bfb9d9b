// Redis faults with real processes and a redis-server of the test's own: stopped and restarted
// mid-conversation, and down when a replica starts. Local chatting goes on, cross-replica frames
// are counted as dropped, readyz says degraded, and everything resumes without a restart.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, TestClient } from '../support/ws-client.js';
import { eventually, ownRedis, startReplicaSet, type OwnRedis, type Replica, type ReplicaSet } from './support.js';
import { freePort } from '../support/net.js';

let redis: OwnRedis;
let set: ReplicaSet;
const clients: TestClient[] = [];
const track = (c: TestClient): TestClient => {
  clients.push(c);
  return c;
};
const isStatus = (f: Frame): boolean => f.type === 'connection_status';
// Generous waits: these run beside the rest of the suite on a shared two-core machine.
const SLOW = { timeoutMs: 15_000 };
const readyz = async (r: Replica): Promise<{ status: number; body: { status: string } }> => {
  const res = await fetch(`${r.url}/chatbox/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string } };
};

beforeAll(async () => {
  redis = ownRedis(await freePort());
  await redis.start();
  // The demo model: no LLM server needed; its replies stream over ~0.5 s.
  set = await startReplicaSet({ count: 2, env: { REDIS_URL: redis.url } });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.terminate();
  await set?.stop();
  await redis?.stop();
}, 60_000);

describe('Redis faults', () => {
  it('lost mid-run: local chat goes on, cross-replica frames are counted dropped, readyz degraded; all resumes when it is back', async () => {
    const [r1, r2] = set.replicas as [Replica, Replica];
    const token = await set.token('hal');
    const sid = randomUUID();
    const a = track(await set.connect(r1, token, sid));
    await a.next(isStatus, SLOW);
    a.send({ type: 'user_message', content: 'before the outage' });
    await a.reply({ timeoutMs: 15_000 });
    const b = track(await set.connect(r2, token, sid));
    expect((await b.next(isStatus, SLOW)).session_id).toBe(sid);

    // Each knows the other is there (so what it cannot publish is lost, and counted).
    for (const r of [r1, r2]) await eventually(async () => expect((await set.scrape(r)).value('chatbox_cluster_replicas')).toBe(2), 15_000);
    await redis.stop();
    for (const r of [r1, r2]) {
      await eventually(async () => {
        const x = await set.scrape(r);
        expect(x.value('chatbox_cluster_connected')).toBe(0);
        expect(await readyz(r)).toMatchObject({ status: 503, body: { status: 'degraded' } });
      });
    }
    // The owner's own sockets keep chatting; the frames it cannot publish are counted.
    let from = a.frames.length;
    a.send({ type: 'user_message', content: 'during the outage' });
    expect((await a.reply({ from, timeoutMs: 15_000 })).length).toBeGreaterThan(0);
    expect((await set.scrape(r1)).value('chatbox_messages_dropped_total', { reason: 'unreachable' })).toBeGreaterThan(0);

    // A replica started while Redis is down starts, says so, and is not ready.
    const r3 = await set.start('r3');
    expect(await readyz(r3)).toMatchObject({ status: 503, body: { status: 'degraded' } });
    await eventually(() => expect(r3.proc.logs.some((l) => l.includes('unreachable'))).toBe(true));
    // It has never seen another replica, so its own chat loses nothing: no frame counts as dropped.
    const c = track(await set.connect(r3, await set.token('solo'), randomUUID()));
    await c.next(isStatus, SLOW);
    c.send({ type: 'user_message', content: 'alone on r3' });
    expect((await c.reply({ timeoutMs: 15_000 })).length).toBeGreaterThan(0);
    expect((await set.scrape(r3)).value('chatbox_messages_dropped_total', { reason: 'unreachable' }) ?? 0).toBe(0);

    await redis.start();
    for (const r of [r1, r2, r3]) {
      await eventually(async () => {
        expect((await readyz(r)).status).toBe(200);
        const x = await set.scrape(r);
        expect(x.value('chatbox_cluster_connected')).toBe(1);
        expect(x.value('chatbox_cluster_replicas')).toBe(3);
      }, 15_000);
    }
    // Cross-replica delivery is back: a message from r2's device reaches r1's and the reverse.
    from = a.frames.length;
    let fromB = b.frames.length;
    b.send({ type: 'user_message', content: 'after the outage, from r2' });
    const onB = await b.reply({ from: fromB, timeoutMs: 15_000 });
    expect(await a.reply({ from, timeoutMs: 15_000 })).toBe(onB);
    from = a.frames.length;
    fromB = b.frames.length;
    a.send({ type: 'user_message', content: 'after the outage, from r1' });
    const onA = await a.reply({ from, timeoutMs: 15_000 });
    expect(await b.reply({ from: fromB, timeoutMs: 15_000 })).toBe(onA);

    // No acknowledged message is lost, no process crashed.
    const users = (await set.messages(sid)).filter((m) => m.sender === 'user').map((m) => m.content);
    expect(users).toEqual(['before the outage', 'during the outage', 'after the outage, from r2', 'after the outage, from r1']);
    expect(set.replicas.map((r) => r.proc.child.exitCode)).toEqual([null, null, null]);
    await eventually(async () => {
      expect(await set.sum('chatbox_active_sessions_total')).toBe((await set.sessions()).filter((s) => s.is_active).length);
    });
  }, 120_000);
});
