// The in-process cluster: every replica is a node of one hub in this process. One node alone is
// the default (no REDIS_URL): nothing to publish to, every session owned here, limits in memory.
// Several nodes on one hub let tests run several apps as one service without Redis; payloads are
// copied through JSON on the way, as they would be on the wire.
import { ChatboxError } from '../errors.js';
import { memoryLimiters } from './limiter.js';
import type { CallHandler, Cluster, ClusterHandler } from './types.js';

interface Node {
  readonly id: string;
  readonly topics: Set<string>;
  readonly sockets: Map<string, number>;
  handler: ClusterHandler | undefined;
  readonly byTopic: Map<string, ClusterHandler>;
  call: CallHandler | undefined;
  lost: ((instance: string) => void)[];
}

export interface LocalHub {
  node(instanceId: string): Cluster;
  /** Drops a node as if its process died: no goodbye, its peers see it lost. */
  kill(instanceId: string): void;
}

const copy = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
const unreachable = (instance: string): ChatboxError =>
  new ChatboxError('CHATBOX_ERR_CLUSTER', `replica ${instance} cannot be reached`, true);

export function createLocalHub(): LocalHub {
  const nodes = new Map<string, Node>();
  const owners = new Map<string, string>();

  function lose(id: string): void {
    if (!nodes.delete(id)) return;
    for (const other of nodes.values()) for (const h of other.lost) h(id);
  }

  return {
    kill: lose,
    node(instanceId) {
      const me: Node = { id: instanceId, topics: new Set(), sockets: new Map(), handler: undefined, byTopic: new Map(), call: undefined, lost: [] };
      const cluster: Cluster = {
        instanceId,
        shared: false,
        limiters: memoryLimiters,
        async start() {
          nodes.set(instanceId, me);
        },
        async stop() {
          lose(instanceId);
        },
        connected: () => true,
        onReconnected() {},
        publish(topic, payload) {
          let text: string | undefined;
          for (const node of nodes.values()) {
            const handler = node.byTopic.get(topic) ?? node.handler;
            if (node === me || handler === undefined || !node.topics.has(topic)) continue;
            text ??= JSON.stringify(payload);
            handler(topic, JSON.parse(text));
          }
          return true;
        },
        alone: () => nodes.size <= 1,
        async subscribe(topic) {
          me.topics.add(topic);
        },
        unsubscribe(topic) {
          me.topics.delete(topic);
        },
        async otherListeners(topic) {
          let n = 0;
          for (const node of nodes.values()) if (node !== me && node.topics.has(topic)) n++;
          return n;
        },
        onMessage(handler) {
          me.handler = handler;
        },
        onTopic(topic, handler) {
          me.byTopic.set(topic, handler);
        },
        async call(instance, request) {
          const node = nodes.get(instance);
          if (node?.call === undefined) throw unreachable(instance);
          return copy(await node.call(copy(request)));
        },
        onCall(handler) {
          me.call = handler;
        },
        replicas: () => (nodes.has(instanceId) ? [...nodes.keys()] : [instanceId]),
        onReplicaLost(handler) {
          me.lost.push(handler);
        },
        async claim(sessionId) {
          const owner = owners.get(sessionId);
          if (owner !== undefined && nodes.has(owner)) return owner;
          owners.set(sessionId, instanceId);
          return instanceId;
        },
        release(sessionId) {
          if (owners.get(sessionId) === instanceId) owners.delete(sessionId);
        },
        async adopt(from) {
          const ids: string[] = [];
          for (const [sessionId, owner] of owners) {
            if (owner !== from || nodes.has(from)) continue;
            owners.set(sessionId, instanceId);
            ids.push(sessionId);
          }
          return ids;
        },
        async handOver(to) {
          let n = 0;
          for (const [sessionId, owner] of owners) {
            if (owner !== instanceId) continue;
            owners.set(sessionId, to);
            n++;
          }
          return n;
        },
        async userSockets(userId, local) {
          let n = 0;
          for (const node of nodes.values()) n += node === me ? local : (node.sockets.get(userId) ?? 0);
          return nodes.has(instanceId) ? n : local;
        },
        countSocket(userId, delta) {
          const n = (me.sockets.get(userId) ?? 0) + delta;
          if (n <= 0) me.sockets.delete(userId);
          else me.sockets.set(userId, n);
        },
      };
      return cluster;
    },
  };
}

/** One process, no broker: the service as it always was. */
export function createSoloCluster(instanceId: string): Cluster {
  return createLocalHub().node(instanceId);
}
