// Reaches a session's owner, wherever it runs: on this replica the call is a plain function
// call; on another it is a cluster call with the same request, answered by `serve` there. An
// owner that moved (hand-over, failover) answers NOT_OWNER and the caller asks again.
import type { SessionEndReason, Via } from '../events/catalog.js';
import { ChatboxError, isChatboxError } from '../errors.js';
import type { Cluster } from '../cluster/types.js';
import type { ConnRef } from './fanout.js';
import type { SessionOwner } from './session-owner.js';

export type OwnerRequest =
  | { readonly op: 'open'; readonly s: string }
  | { readonly op: 'create'; readonly s: string; readonly u: string; readonly m: string }
  | { readonly op: 'submit'; readonly s: string; readonly u: string; readonly n: string; readonly c: string; readonly m?: string | undefined; readonly x: ConnRef }
  | { readonly op: 'say'; readonly s: string; readonly u: string; readonly n: string; readonly c: string; readonly x: ConnRef }
  | { readonly op: 'takeover'; readonly s: string; readonly u: string; readonly n: string; readonly via: Via }
  | { readonly op: 'handback'; readonly s: string; readonly u: string; readonly n: string; readonly via: Via }
  | { readonly op: 'model'; readonly s: string; readonly u: string; readonly m: string }
  | { readonly op: 'left'; readonly s: string }
  | { readonly op: 'end'; readonly s: string; readonly r: SessionEndReason };

type Answer = { readonly ok: true; readonly v?: unknown } | { readonly ok: false; readonly code: string; readonly message: string; readonly retryable: boolean };

const NOT_OWNER = 'NOT_OWNER';

export interface OwnerLink {
  ask(request: OwnerRequest): Promise<unknown>;
  /** The replica that owns the session now (this one when the broker cannot say). */
  ownerOf(sessionId: string): Promise<string>;
}

export function createOwnerLink(options: {
  cluster: Cluster;
  owner: SessionOwner;
  /** Ends a session on its owner (the router's endSession there). */
  end: (sessionId: string, reason: SessionEndReason) => Promise<void>;
  /** Requests that are not about one session (refresh after a hand-over). */
  extra: (request: unknown) => Promise<unknown>;
  /** Handing its sessions over: this replica serves none of them any more. */
  leaving: () => boolean;
}): OwnerLink {
  const { cluster, owner } = options;
  const me = cluster.instanceId;

  /** Live here, or alone (one process: every session is this replica's, nothing to record). */
  const servedHere = (sessionId: string): boolean => owner.peek(sessionId) !== undefined || cluster.alone();

  async function ownerOf(sessionId: string): Promise<string> {
    if (servedHere(sessionId)) return me;
    try {
      return await cluster.claim(sessionId);
    } catch {
      // Broker unreachable (counted by the cluster): serve it here, as one replica would.
      return me;
    }
  }

  function run(r: OwnerRequest): Promise<unknown> {
    switch (r.op) {
      case 'open':
        return owner.open(r.s);
      case 'create':
        return owner.create(r.s, r.u, r.m);
      case 'submit':
        return owner.submit(r.s, { userId: r.u, name: r.n, content: r.c, modelId: r.m, from: r.x });
      case 'say':
        return owner.say(r.s, { userId: r.u, name: r.n }, r.c, r.x);
      case 'takeover':
        return owner.takeover(r.s, { userId: r.u, name: r.n }, r.via);
      case 'handback':
        return owner.handback(r.s, { userId: r.u, name: r.n }, r.via);
      case 'model':
        return owner.setModel(r.s, r.u, r.m);
      case 'left':
        owner.left(r.s);
        return Promise.resolve();
      case 'end':
        return options.end(r.s, r.r);
    }
  }

  cluster.onCall(async (request): Promise<Answer> => {
    const r = request as OwnerRequest | { op: undefined };
    try {
      if (typeof r.op !== 'string' || !('s' in r)) return { ok: true, v: await options.extra(request) };
      if (options.leaving() || (r.op !== 'create' && owner.peek(r.s) === undefined && (await ownerOf(r.s)) !== me)) {
        return { ok: false, code: NOT_OWNER, message: 'this replica does not own the session', retryable: true };
      }
      return { ok: true, v: await run(r) };
    } catch (error) {
      if (isChatboxError(error)) return { ok: false, code: error.code, message: error.message, retryable: error.retryable };
      throw error;
    }
  });

  return {
    ownerOf,
    async ask(request) {
      const sessionId = request.s;
      // The call itself, without ownerOf's await: every message's path.
      if (servedHere(sessionId)) return run(request);
      for (let attempt = 0; ; attempt++) {
        const at = await ownerOf(sessionId);
        if (at === me) return run(request);
        let answer: Answer;
        try {
          answer = (await cluster.call(at, request)) as Answer;
        } catch (error) {
          // The owner died or left: once it drops out of the presence another replica serves.
          if (attempt < 1 && !cluster.replicas().includes(at)) continue;
          throw new ChatboxError('INTERNAL', 'the replica serving this session did not answer; try again', true, { cause: error });
        }
        if (answer.ok) return answer.v;
        if (answer.code === NOT_OWNER && attempt < 3) {
          // The owner is moving its sessions (scale-down): the new owner is recorded in a moment.
          if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
          continue;
        }
        throw new ChatboxError(answer.code, answer.message, answer.retryable);
      }
    },
  };
}
