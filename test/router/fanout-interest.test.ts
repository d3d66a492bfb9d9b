// The fan-out publishes a session's frames to the other replicas only while one listens: two
// in-process replicas on one hub, the owner's publishes counted, and the frames each replica's
// socket receives read from its port.
import { describe, expect, it } from 'vitest';
import { createLocalHub } from '../../src/cluster/local.js';
import type { Cluster } from '../../src/cluster/types.js';
import { createBus } from '../../src/events/bus.js';
import { createFanout, type Fanout } from '../../src/router/fanout.js';
import { sessionFrame } from '../../src/router/server-frames.js';
import { ConnectionRegistry, type Connection } from '../../src/ws/connections.js';
import { createDelivery } from '../../src/ws/delivery.js';
import { SEND_SENT, type SocketPort } from '../../src/ws/port.js';

interface Replica {
  readonly fanout: Fanout;
  readonly registry: ConnectionRegistry;
  readonly published: string[];
}

function replica(cluster: Cluster): Replica {
  const published: string[] = [];
  const publish = cluster.publish.bind(cluster);
  // Counts what this replica hands to the broker, by topic.
  cluster.publish = (topic, payload) => {
    published.push(topic);
    return publish(topic, payload);
  };
  const bus = createBus();
  const registry = new ConnectionRegistry();
  const delivery = createDelivery({ bus, registry, transport: 'ws', maxBackpressureBytes: 1 << 20, now: () => 0 });
  const fanout = createFanout({
    bus,
    cluster,
    registry,
    delivery,
    handlers: { ended() {}, adminsLeft() {}, created() {} },
    onInternalError: (error) => {
      throw error;
    },
  });
  return { fanout, registry, published };
}

function socket(r: Replica, userId: string): { conn: Connection; got: string[] } {
  const got: string[] = [];
  const port: SocketPort = {
    send: (text) => {
      got.push((JSON.parse(text) as { content?: string }).content ?? '');
      return SEND_SENT;
    },
    bufferedAmount: () => 0,
    end() {},
    terminate() {},
  };
  const conn = r.registry.add(port, { userId, name: userId, roles: ['user'], isAdmin: false }, 0, 'm');
  return { conn, got };
}

/** Replicas a and b on one in-process hub. */
async function twoReplicas(): Promise<{ a: Replica; b: Replica }> {
  const hub = createLocalHub();
  const [ca, cb] = [hub.node('a'), hub.node('b')];
  await ca.start();
  await cb.start();
  return { a: replica(ca), b: replica(cb) };
}

const chunk = (sessionId: string, text: string) =>
  sessionFrame(sessionId, { type: 'ai_response', sender: 'ai', content: text, metadata: { streaming: 'true', done: 'false' } });
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sessionTopic = (id: string): string => `s:${id}`;

describe('fan-out: publishing only while another replica listens', () => {
  it('publishes nothing for a session no other replica listens to, and everything once one does', async () => {
    const { a, b } = await twoReplicas();
    const s = 'sess-1';

    // The owner (a) holds the session and its user's socket is here.
    const local = socket(a, 'u1');
    a.registry.attach(local.conn, s);
    a.fanout.hold(s);
    await a.fanout.listening(s);

    // Nobody else listens: once the owner has asked, a chunk goes to the local socket only.
    a.fanout.checkListeners(s);
    await flush();
    a.published.length = 0;
    a.fanout.toSession(s, chunk(s, 'one'));
    expect(local.got).toEqual(['one']);
    expect(a.published.filter((t) => t === sessionTopic(s))).toEqual([]);

    // A second device on replica b joins mid-reply: from its announcement on, frames are published.
    const remote = socket(b, 'u1');
    b.registry.attach(remote.conn, s);
    await b.fanout.listening(s);
    a.fanout.toSession(s, chunk(s, 'two'));
    expect(remote.got).toEqual(['two']);

    // The next reply's check counts b among the listeners: frames keep flowing.
    a.fanout.checkListeners(s);
    await flush();
    a.fanout.toSession(s, chunk(s, 'three'));
    expect(remote.got).toEqual(['two', 'three']);
    expect(local.got).toEqual(['one', 'two', 'three']);

    // b's socket leaves: after the next check, the owner stops publishing again.
    b.registry.detach(remote.conn);
    a.fanout.checkListeners(s);
    await flush();
    a.published.length = 0;
    a.fanout.toSession(s, chunk(s, 'four'));
    expect(a.published.filter((t) => t === sessionTopic(s))).toEqual([]);
    expect(local.got).toEqual(['one', 'two', 'three', 'four']);
  });

  it('a replica that starts listening right after the count is taken is heard at once', async () => {
    const { a, b } = await twoReplicas();
    const s = 'sess-2';
    const local = socket(a, 'u1');
    a.registry.attach(local.conn, s);
    a.fanout.hold(s);
    await a.fanout.listening(s);
    // The count is taken now (nobody else); b's announcement follows it.
    a.fanout.checkListeners(s);
    const remote = socket(b, 'u1');
    b.registry.attach(remote.conn, s);
    await b.fanout.listening(s);
    await flush();
    a.fanout.toSession(s, chunk(s, 'x'));
    expect(remote.got).toEqual(['x']);
  });

  it('publishes until the owner has asked (an unknown audience is published to)', async () => {
    const { a } = await twoReplicas();
    const s = 'sess-3';
    a.fanout.hold(s);
    await a.fanout.listening(s);
    a.published.length = 0;
    a.fanout.toSession(s, chunk(s, 'y'));
    expect(a.published).toEqual([sessionTopic(s)]);
  });
});
