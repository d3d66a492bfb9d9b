// Messages between replicas over Redis pub/sub: one JSON envelope for topic payloads and for
// calls to one replica (the request on its channel, the answer on the caller's). Apart from
// redis.ts, which keeps the connections, presence and subscriptions this relies on.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Bus } from '../events/bus.js';
import type { ClusterOperation } from '../events/catalog.js';
import { ChatboxError } from '../errors.js';
import type { CallHandler, Cluster, ClusterHandler } from './types.js';

interface Envelope {
  readonly f: string; // from
  readonly a: number; // published at, ms since the epoch
  readonly p?: unknown; // topic payload
  readonly id?: string; // call id
  readonly q?: unknown; // call request
  readonly r?: unknown; // call answer
}

export interface Messaging extends Pick<Cluster, 'publish' | 'onMessage' | 'onTopic' | 'call' | 'onCall'> {
  /** The subscriber connection's 'message' listener. */
  receive(channel: string, text: string): void;
  /** Rejects every call still waiting for its answer (stop). */
  cancelCalls(): void;
}

const wallNow = (): number => performance.timeOrigin + performance.now();

export function createMessaging(options: {
  readonly cmd: Redis;
  readonly bus: Bus;
  readonly me: string;
  readonly keyPrefix: string;
  /** This replica's own channel: calls to it and answers to its calls. */
  readonly myChannel: string;
  readonly callTimeoutMs: number;
  readonly failed: (operation: ClusterOperation) => void;
  /** Whether this replica has ever seen another alive (see redis.ts). */
  readonly peersSeen: () => boolean;
  /** Takes a replica found gone out of the presence. */
  readonly dropReplica: (instance: string) => void;
}): Messaging {
  const { cmd, bus, me, keyPrefix: k, myChannel, callTimeoutMs, failed, peersSeen, dropReplica } = options;
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  let handler: ClusterHandler | undefined;
  const byTopic = new Map<string, ClusterHandler>();
  let callHandler: CallHandler | undefined;

  function send(channel: string, envelope: Envelope): Promise<number> {
    const text = JSON.stringify(envelope);
    bus.emit('clusterPublished', { bytes: text.length });
    return cmd.publish(channel, text);
  }

  function receive(channel: string, text: string): void {
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (env.f === me) return;
    bus.emit('clusterReceived', { seconds: Math.max(0, (wallNow() - env.a) / 1000) });
    if (channel !== myChannel) {
      const topic = channel.slice(k.length);
      (byTopic.get(topic) ?? handler)?.(topic, env.p);
      return;
    }
    if (env.id === undefined) return;
    if ('q' in env) {
      const id = env.id;
      const from = env.f;
      const answer = callHandler === undefined ? Promise.reject(new Error('not serving')) : callHandler(env.q);
      answer.then(
        (r) => send(`${k}r:${from}`, { f: me, a: wallNow(), id, r }).catch(() => failed('publish')),
        () => send(`${k}r:${from}`, { f: me, a: wallNow(), id, r: { ok: false, code: 'INTERNAL', message: 'internal error', retryable: true } }).catch(() => failed('publish')),
      );
      return;
    }
    const waiting = pending.get(env.id);
    if (waiting === undefined) return;
    pending.delete(env.id);
    clearTimeout(waiting.timer);
    waiting.resolve(env.r);
  }

  const unreachable = (instance: string): ChatboxError =>
    new ChatboxError('CHATBOX_ERR_CLUSTER', `replica ${instance} cannot be reached through Redis`, true);

  function publish(topic: string, payload: unknown): boolean {
    if (cmd.status !== 'ready') {
      failed('publish');
      // Never part of a cluster: no other replica held a socket this could be for.
      return !peersSeen();
    }
    send(k + topic, { f: me, a: wallNow(), p: payload }).catch(() => failed('publish'));
    return true;
  }

  function call(instance: string, request: unknown): Promise<unknown> {
    if (cmd.status !== 'ready') return Promise.reject(unreachable(instance));
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(unreachable(instance));
      }, callTimeoutMs);
      pending.set(id, { resolve, reject, timer });
      send(`${k}r:${instance}`, { f: me, a: wallNow(), id, q: request }).then(
        (receivers) => {
          if (receivers > 0 || !pending.has(id)) return;
          // Nobody listens on that replica's channel: its process is gone (kill -9 closes its
          // connections at once) or cut off. Out of the presence now, not when its last
          // heartbeat expires, so its sessions are served elsewhere without waiting.
          pending.delete(id);
          clearTimeout(timer);
          dropReplica(instance);
          reject(unreachable(instance));
        },
        (error: unknown) => {
          failed('publish');
          pending.delete(id);
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  function cancelCalls(): void {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(unreachable('any'));
    }
    pending.clear();
  }

  return {
    receive,
    publish,
    call,
    cancelCalls,
    onMessage(h) {
      handler = h;
    },
    onTopic(topic, h) {
      byTopic.set(topic, h);
    },
    onCall(h) {
      callHandler = h;
    },
  };
}
