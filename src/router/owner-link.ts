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

/** What the owner's own method answers (awaited). */
type Answered<M extends keyof SessionOwner> = Awaited<ReturnType<SessionOwner[M]>>;

/**
 * What each request answers: the owner method's own type, so a caller's result type cannot drift
 * from what the owner returns; a remote answer is the same value through JSON (the replicas run
 * one version).
 */
export interface OwnerAnswers {
  readonly open: Answered<'open'>;
  readonly create: Answered<'create'>;
  readonly submit: Answered<'submit'>;
  readonly say: Answered<'say'>;
  readonly takeover: Answered<'takeover'>;
  readonly handback: Answered<'handback'>;
  readonly model: Answered<'setModel'>;
  readonly left: void;
  readonly end: void;
}

type Op = OwnerRequest['op'];
type RequestOf<K extends Op> = Extract<OwnerRequest, { readonly op: K }>;

type Answer = { readonly ok: true; readonly v?: unknown } | { readonly ok: false; readonly code: string; readonly message: string; readonly retryable: boolean };

const NOT_OWNER = 'NOT_OWNER';

export interface OwnerLink {
  ask<K extends Op>(request: RequestOf<K>): Promise<OwnerAnswers[K]>;
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

  // One handler per op, typed against OwnerAnswers: a wrong return type does not compile.
  const handlers: { readonly [K in Op]: (r: RequestOf<K>) => Promise<OwnerAnswers[K]> } = {
    open: (r) => owner.open(r.s),
    create: (r) => owner.create(r.s, r.u, r.m),
    submit: (r) => owner.submit(r.s, { userId: r.u, name: r.n, content: r.c, modelId: r.m, from: r.x }),
    say: (r) => owner.say(r.s, { userId: r.u, name: r.n }, r.c, r.x),
    takeover: (r) => owner.takeover(r.s, { userId: r.u, name: r.n }, r.via),
    handback: (r) => owner.handback(r.s, { userId: r.u, name: r.n }, r.via),
    model: (r) => owner.setModel(r.s, r.u, r.m),
    left: (r) => {
      owner.left(r.s);
      return Promise.resolve();
    },
    end: (r) => options.end(r.s, r.r),
  };
  /** A session request this version knows (the rest, such as the lifecycle's, go to `extra`). */
  const isOwnerRequest = (r: unknown): r is OwnerRequest => {
    const { op, s } = (r ?? {}) as { op?: unknown; s?: unknown };
    return typeof op === 'string' && Object.hasOwn(handlers, op) && typeof s === 'string';
  };
  const run = <K extends Op>(r: RequestOf<K>): Promise<OwnerAnswers[K]> => (handlers[r.op] as (r: RequestOf<K>) => Promise<OwnerAnswers[K]>)(r);

  cluster.onCall(async (request): Promise<Answer> => {
    try {
      if (!isOwnerRequest(request)) return { ok: true, v: await options.extra(request) };
      const r = request;
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
    async ask<K extends Op>(request: RequestOf<K>): Promise<OwnerAnswers[K]> {
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
        // The owner's own `run` result through JSON (every replica runs this version).
        if (answer.ok) return answer.v as OwnerAnswers[K];
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
