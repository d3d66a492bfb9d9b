// One contract over every Cluster implementation: the in-process hub and Redis (real, on
// 127.0.0.1:6379, a key prefix per run). Two nodes A and B, as two replicas would be.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalHub } from '../../src/cluster/local.js';
import { createRedisCluster } from '../../src/cluster/redis.js';
import type { Cluster } from '../../src/cluster/types.js';
import { createBus, type Bus } from '../../src/events/bus.js';
import type { ChatEvents } from '../../src/events/catalog.js';
import { REDIS_URL, eventually } from './support.js';

interface Pair {
  readonly a: Cluster;
  readonly b: Cluster;
  /** A dies without a goodbye (local) or stops (Redis: its heartbeats end). */
  kill(): Promise<void>;
  close(): Promise<void>;
}

const kits: { name: string; make: (bus: Bus) => Promise<Pair> }[] = [
  {
    name: 'in-process hub',
    async make() {
      const hub = createLocalHub();
      const a = hub.node('a');
      const b = hub.node('b');
      await a.start();
      await b.start();
      return { a, b, kill: async () => hub.kill('a'), close: async () => void (await b.stop()) };
    },
  },
  {
    name: 'Redis',
    async make(bus) {
      const keyPrefix = `chatbox-contract:${randomUUID().slice(0, 8)}:`;
      const make = (id: string) =>
        createRedisCluster({ url: REDIS_URL, instanceId: id, keyPrefix, bus, log: () => {}, heartbeatMs: 100, presenceTtlMs: 400 });
      const a = make('a');
      const b = make('b');
      await a.start();
      await b.start();
      await eventually(() => {
        expect(a.connected() && b.connected()).toBe(true);
        expect([...b.replicas()].sort()).toEqual(['a', 'b']);
      });
      return { a, b, kill: () => a.stop(), close: async () => void (await Promise.all([a.stop(), b.stop()])) };
    },
  },
];

describe.each(kits)('Cluster contract: $name', ({ make }) => {
  let pair: Pair | undefined;
  const bus = createBus();
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });

  it('publishes to the other replicas subscribed to a topic, not to itself', async () => {
    pair = await make(bus);
    const { a, b } = pair;
    const gotA: unknown[] = [];
    const gotB: [string, unknown][] = [];
    a.onMessage((_t, p) => gotA.push(p));
    b.onMessage((t, p) => gotB.push([t, p]));
    await a.subscribe('s:one');
    await b.subscribe('s:one');
    expect(a.publish('s:one', { n: 1 })).toBe(true);
    expect(a.publish('s:other', { n: 2 })).toBe(true);
    await eventually(() => expect(gotB).toEqual([['s:one', { n: 1 }]]));
    b.unsubscribe('s:one');
    await new Promise((r) => setTimeout(r, 50));
    a.publish('s:one', { n: 3 });
    await new Promise((r) => setTimeout(r, 100));
    expect(gotB).toHaveLength(1);
    expect(gotA).toEqual([]);
  });

  it('a topic given to onTopic goes to its own handler, the rest to onMessage\'s', async () => {
    pair = await make(bus);
    const { a, b } = pair;
    const general: string[] = [];
    const own: [string, unknown][] = [];
    b.onMessage((t) => general.push(t));
    b.onTopic('console', (t, p) => own.push([t, p]));
    await b.subscribe('console');
    await b.subscribe('admins');
    a.publish('console', { ids: ['x'] });
    a.publish('admins', { k: 'f' });
    await eventually(() => {
      expect(own).toEqual([['console', { ids: ['x'] }]]);
      expect(general).toEqual(['admins']);
    });
  });

  it('calls one replica and gets its answer; a replica that is gone cannot be called', async () => {
    pair = await make(bus);
    const { a, b } = pair;
    b.onCall(async (req) => ({ echoed: req }));
    expect(await a.call('b', { op: 'ping' })).toEqual({ echoed: { op: 'ping' } });
    await expect(a.call('nobody', { op: 'ping' })).rejects.toMatchObject({ code: 'CHATBOX_ERR_CLUSTER' });
  });

  it('one owner per session: the first claim wins while its owner lives; a dead owner\'s sessions are claimed or adopted once', async () => {
    pair = await make(bus);
    const { a, b } = pair;
    const lost: string[] = [];
    b.onReplicaLost((r) => lost.push(r));
    expect(await a.claim('s1')).toBe('a');
    expect(await b.claim('s1')).toBe('a');
    expect(await a.claim('s2')).toBe('a');
    expect(await a.claim('s3')).toBe('a');
    await pair.kill();
    await eventually(() => expect(lost).toEqual(['a']));
    expect(b.replicas()).toEqual(['b']);
    expect(await b.claim('s1')).toBe('b');
    expect([...(await b.adopt('a'))].sort()).toEqual(['s2', 's3']);
    expect(await b.adopt('a')).toEqual([]);
    expect(await b.claim('s2')).toBe('b');
  });

  it('hands every owned session over, and forgets released ones', async () => {
    pair = await make(bus);
    const { a, b } = pair;
    await a.claim('h1');
    await a.claim('h2');
    await a.claim('h3');
    a.release('h3');
    expect(await a.handOver('b')).toBe(2);
    expect(await a.claim('h1')).toBe('b');
    expect(await a.claim('h2')).toBe('b');
    await new Promise((r) => setTimeout(r, 50));
    expect(await b.claim('h3')).toBe('b');
  });

  it('counts a user\'s sockets across replicas', async () => {
    pair = await make(bus);
    const { a, b } = pair;
    a.countSocket('u', 1);
    a.countSocket('u', 1);
    a.countSocket('v', 1);
    await eventually(async () => expect(await b.userSockets('u', 1)).toBe(3));
    a.countSocket('u', -1);
    await eventually(async () => expect(await b.userSockets('u', 0)).toBe(1));
  });

  it('rate limits hold across replicas', async () => {
    pair = await make(bus);
    const { a, b } = pair;
    const spec = { name: `t${randomUUID().slice(0, 6)}`, points: 3, durationS: 60 };
    const la = a.limiters(spec);
    const lb = b.limiters(spec);
    const allowed: boolean[] = [];
    for (let i = 0; i < 6; i++) allowed.push((await (i % 2 === 0 ? la : lb).consume('user-1')).allowed);
    // In process, each replica is its own service (one node is the whole service); in Redis, one limit.
    if (a.shared) expect(allowed.filter(Boolean)).toHaveLength(3);
    else expect(allowed.filter(Boolean)).toHaveLength(6);
  });
});

describe('Redis cluster without Redis', () => {
  it('starts, reports itself disconnected, refuses calls and publishes, and limits in memory (counting the fault)', async () => {
    const bus = createBus();
    const failed: ChatEvents['clusterFailed'][] = [];
    bus.on('clusterFailed', (e) => void failed.push(e), 'test');
    const logs: string[] = [];
    const c = createRedisCluster({ url: 'redis://127.0.0.1:1', instanceId: 'x', keyPrefix: 'chatbox-none:', bus, log: (_l, m) => logs.push(m) });
    await c.start();
    await eventually(() => expect(logs.some((l) => l.includes('unreachable'))).toBe(true));
    expect(c.connected()).toBe(false);
    expect(c.replicas()).toEqual(['x']);
    // Not taken, and counted as a failure; but no frame is lost: it never saw another replica.
    expect(c.publish('s:1', {})).toBe(true);
    await expect(c.call('y', {})).rejects.toMatchObject({ code: 'CHATBOX_ERR_CLUSTER' });
    await expect(c.claim('s')).rejects.toBeDefined();
    expect(await c.userSockets('u', 2)).toBe(2);
    const limiter = c.limiters({ name: 'm', points: 2, durationS: 60 });
    const results = [await limiter.consume('k'), await limiter.consume('k'), await limiter.consume('k')];
    expect(results.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(failed.map((e) => e.operation)).toEqual(expect.arrayContaining(['publish', 'ownership', 'limit']));
    await c.stop();
  });
});

describe('Redis cluster whose broker refuses one command', () => {
  // A Redis user allowed everything but one command (ACL), so one step of the resync after
  // connecting fails and the others work: each failure is counted under its own operation.
  const cases = [
    // The socket counts' rewrite (MULTI, DEL, HSET): the connection limit's data.
    { refused: 'del', counted: 'limit', notCounted: 'subscribe' },
    { refused: 'subscribe', counted: 'subscribe', notCounted: 'limit' },
  ] as const;
  for (const { refused, counted, notCounted } of cases) {
    it(`counts a refused ${refused.toUpperCase()} as ${counted}, and still does the resync's other steps`, async () => {
      const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await admin.connect();
      const user = `chatbox-acl-${randomUUID().slice(0, 8)}`;
      const password = randomUUID();
      await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all', `-${refused}`);
      const bus = createBus();
      const failed: string[] = [];
      bus.on('clusterFailed', (e) => void failed.push(e.operation), 'test');
      const url = new URL(REDIS_URL);
      url.username = user;
      url.password = password;
      const c = createRedisCluster({ url: url.toString(), instanceId: 'x', keyPrefix: `chatbox-acl:${user}:`, bus, log: () => {}, heartbeatMs: 50, presenceTtlMs: 400 });
      try {
        await c.start();
        await eventually(() => expect(failed).toContain(counted));
        // The heartbeat ran: the replica is present and connected.
        await eventually(() => expect(c.connected()).toBe(true));
        expect(await admin.zrange(`chatbox-acl:${user}:replicas`, 0, -1)).toEqual(['x']);
        expect(failed).not.toContain(notCounted);
        expect(failed).not.toContain('ownership');
      } finally {
        await c.stop();
        const keys = await admin.keys(`chatbox-acl:${user}:*`);
        if (keys.length > 0) await admin.del(...keys);
        await admin.call('ACL', 'DELUSER', user);
        admin.disconnect();
      }
    });
  }
});
