// A replica among others: what it does when one dies, when its broker connection comes back,
// and when it is stopped itself (hand its sessions to one that stays). With one process alone
// none of this has anything to do.
import type { Cluster } from '../cluster/types.js';
import type { SessionStore } from '../storage/types.js';
import type { SessionOwner } from './session-owner.js';

/** How often a replica re-reads its open-session count while it has peers (sessions move between replicas). */
const REFRESH_MS = 5000;

export interface ReplicaLifecycle {
  /** Answers the replica-level calls of other replicas (`refresh`, `staying`). */
  answer(request: unknown): Promise<unknown>;
  /** Scale-down: hands this replica's sessions to a replica that stays; false when there is none (the last one standing). */
  handOff(): Promise<boolean>;
  stop(): void;
}

export function startReplicaLifecycle(options: {
  readonly cluster: Cluster;
  readonly store: SessionStore;
  readonly owner: SessionOwner;
  readonly stopping: () => boolean;
  readonly internal: (error: unknown) => void;
}): ReplicaLifecycle {
  const { cluster, store, owner, internal } = options;
  const me = cluster.instanceId;

  // Sessions move between replicas (hand-over, adoption, a claim after a failover): each replica
  // re-reads its own count now and then, so the summed gauge comes back to the truth.
  const refresher = setInterval(() => {
    if (!cluster.alone()) store.refreshOpenCount().catch(internal);
  }, REFRESH_MS);
  refresher.unref();

  cluster.onReplicaLost((instance) => {
    if (options.stopping()) return;
    // Racing survivors each move only what is still the dead replica's: every session once. The
    // ones this replica wins go live here, so their idle timers run and none stays open forever.
    void (async () => {
      await store.adoptOpenSessions(instance);
      for (const id of await cluster.adopt(instance)) await owner.adopt(id);
    })().catch(internal);
  });

  cluster.onReconnected(() => {
    // While this replica was cut off another may have taken some of its sessions over.
    for (const id of owner.ids()) {
      cluster.claim(id).then((at) => {
        if (at !== me) owner.forget(id, 'shutdown', true);
      }, internal);
    }
    store.refreshOpenCount().catch(internal);
  });

  /** A replica that answers and is not stopping itself, tried in random order. */
  async function survivor(): Promise<string | undefined> {
    const others = cluster.alone() || !cluster.connected() ? [] : cluster.replicas().filter((r) => r !== me);
    others.sort(() => Math.random() - 0.5);
    for (const r of others) {
      const staying = await cluster.call(r, { op: 'staying' }).catch(() => false);
      if ((staying as { ok?: boolean; v?: unknown }).v === true) return r;
    }
    return undefined;
  }

  return {
    async answer(request) {
      const op = (request as { op?: string }).op;
      // A replica going away handed us its sessions: count them here from now on.
      if (op === 'refresh') return store.refreshOpenCount();
      // Asked by a replica that is stopping and looks for one to hand its sessions to.
      if (op === 'staying') return !options.stopping();
      return undefined;
    },
    async handOff() {
      const to = await survivor();
      if (to === undefined) return false;
      for (const id of owner.ids()) owner.forget(id, 'shutdown', true);
      // Ownership first, so a message arriving meanwhile is served by `to` (it takes that
      // session's row itself); then every row still ours, then `to` counts what it got.
      await cluster.handOver(to).catch(internal);
      try {
        await store.transferOpenSessions(to);
      } catch (error) {
        internal(error);
        return false;
      }
      await cluster.call(to, { op: 'refresh' }).catch(internal);
      return true;
    },
    stop() {
      clearInterval(refresher);
    },
  };
}
