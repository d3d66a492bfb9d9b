// The metrics model tests' commands: the steps fast-check strings together (emit any catalog
// event, open or close a socket or session, start or end an attempt, attach or detach), each
// applied to the real bus and the model and then checked; and one run of a sequence of them.
import fc from 'fast-check';
import { expect } from 'vitest';
import { createBus } from '../../src/events/bus.js';
import { PROVIDERS, type LlmFinishReason, type Provider } from '../../src/events/catalog.js';
import { attachMetrics } from '../../src/metrics/attach.js';
import { createMetricsRegistry } from '../../src/metrics/render.js';
import { anyEvent, type AnyEvent } from './arbitraries.js';
import { CONFIGURED, MODELS, Model, check, type Real } from './metrics-model.js';

export type Cmd = fc.AsyncCommand<Model, Real>;
type Outcome = 'responded' | 'failed' | 'cancelled';

class Emit implements Cmd {
  constructor(readonly event: AnyEvent) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    r.bus.emit(this.event.type, this.event.payload as never);
    m.apply(this.event);
    await check(m, r);
  }
  toString = (): string => `emit(${this.event.type})`;
}

/** A socket opens or closes as the registry would see it; `twice` repeats the close event. */
class Socket implements Cmd {
  constructor(readonly open: boolean, readonly twice: boolean) {}
  check = (m: Readonly<Model>): boolean => this.open || m.liveConnections > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.liveConnections += this.open ? 1 : -1;
    r.state.connections = m.liveConnections;
    const times = this.twice && !this.open ? 2 : 1;
    for (let i = 0; i < times; i++) {
      const e: AnyEvent = this.open
        ? { type: 'connectionOpened', payload: { role: 'user', transport: 'uws', open: m.liveConnections } }
        : { type: 'connectionClosed', payload: { role: 'user', transport: 'uws', reason: 'client', durationSeconds: 1, open: m.liveConnections } };
      // A duplicate close is not re-counted by the registry: it emits nothing the second time.
      if (i === 0) {
        r.bus.emit(e.type, e.payload as never);
        m.apply(e);
      }
    }
    await check(m, r);
  }
  toString = (): string => `socket(${this.open ? 'open' : 'close'}${this.twice ? ', twice' : ''})`;
}

class Session implements Cmd {
  constructor(readonly start: boolean) {}
  check = (m: Readonly<Model>): boolean => this.start || m.liveSessions > 0;
  async run(m: Model, r: Real): Promise<void> {
    m.liveSessions += this.start ? 1 : -1;
    r.state.sessions = m.liveSessions;
    const e: AnyEvent = this.start
      ? { type: 'sessionCreated', payload: { open: m.liveSessions } }
      : { type: 'sessionEnded', payload: { reason: 'user', open: m.liveSessions } };
    r.bus.emit(e.type, e.payload as never);
    m.apply(e);
    await check(m, r);
  }
  toString = (): string => `session(${this.start ? 'start' : 'end'})`;
}

/** One attempt starts, as the reply source would run it: its count goes up, then llmRequested. */
class StartAttempt implements Cmd {
  constructor(readonly provider: Provider) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    m.liveInFlight[this.provider]++;
    r.state.inFlight[this.provider]++;
    emit(m, r, { type: 'llmRequested', payload: { provider: this.provider, model: 'gpt-4o-mini', streaming: true, attempt: 1 } });
    await check(m, r);
  }
  toString = (): string => `start(${this.provider})`;
}

/**
 * An open attempt ends: a streamed reply of `chunks` chunks (first token, then chunks - 1 gaps),
 * or a failure, or a cancellation; then its reply finishes. Mirrors the reply source's order.
 */
class EndAttempt implements Cmd {
  constructor(readonly provider: Provider, readonly outcome: Outcome, readonly chunks: number, readonly reason: LlmFinishReason) {}
  check = (m: Readonly<Model>): boolean => m.liveInFlight[this.provider] > 0;
  async run(m: Model, r: Real): Promise<void> {
    const provider = this.provider;
    const model = 'gpt-4o-mini';
    const before = m.get(`inter_token_count:${provider}`);
    m.liveInFlight[provider]--;
    r.state.inFlight[provider]--;
    let finish: LlmFinishReason = this.outcome === 'failed' ? 'error' : this.outcome === 'cancelled' ? 'cancelled' : this.reason;
    if (this.outcome === 'responded') {
      emit(m, r, { type: 'llmFirstToken', payload: { provider, model, seconds: 0.1 } });
      for (let i = 1; i < this.chunks; i++) emit(m, r, { type: 'llmChunkReceived', payload: { provider, model, gapSeconds: 0.02 * i } });
      emit(m, r, {
        type: 'llmResponded',
        payload: { provider, model, streaming: true, latencySeconds: 0.1, durationSeconds: 1, inputTokens: 30, outputTokens: this.chunks, cachedInputTokens: 10, reasoningTokens: 1 },
      });
      if (finish === 'error' || finish === 'cancelled') finish = 'stop';
    } else if (this.outcome === 'failed') {
      emit(m, r, { type: 'llmFailed', payload: { provider, model, streaming: true, reason: 'server_error', willRetry: false, status: 500 } });
    } else {
      emit(m, r, { type: 'llmCancelled', payload: { provider, model, streaming: true, cause: 'client_left' } });
    }
    emit(m, r, { type: 'llmFinished', payload: { provider, model, streaming: true, reason: finish, attempts: 1 } });
    // Inter-token observations = chunks - 1 for a streamed attempt that answered, 0 otherwise.
    if (m.attached) expect(m.get(`inter_token_count:${provider}`) - before).toBe(this.outcome === 'responded' ? this.chunks - 1 : 0);
    await check(m, r);
  }
  toString = (): string => `end(${this.provider}, ${this.outcome}, ${this.chunks}, ${this.reason})`;
}

function emit(m: Model, r: Real, e: AnyEvent): void {
  r.bus.emit(e.type, e.payload as never);
  m.apply(e);
}

class Attach implements Cmd {
  check = (m: Readonly<Model>): boolean => !m.attached;
  async run(m: Model, r: Real): Promise<void> {
    r.detach = attachMetrics(r.bus, r.registry, {
      providers: CONFIGURED,
      models: MODELS,
      ...(r.withSources
        ? { gauges: { connections: () => r.state.connections, sessions: () => r.state.sessions, llmInFlight: (p: Provider) => r.state.inFlight[p] } }
        : {}),
    });
    m.attached = true;
    await check(m, r);
  }
  toString = (): string => 'attach';
}

class Detach implements Cmd {
  check = (m: Readonly<Model>): boolean => m.attached;
  async run(m: Model, r: Real): Promise<void> {
    r.detach?.();
    r.detach?.(); // idempotent
    m.attached = false;
    await check(m, r);
  }
  toString = (): string => 'detach';
}

export const commands = [
  anyEvent.map((e) => new Emit(e)),
  fc.tuple(fc.boolean(), fc.boolean()).map(([open, twice]) => new Socket(open, twice)),
  fc.boolean().map((start) => new Session(start)),
  fc.constantFrom(...PROVIDERS).map((p) => new StartAttempt(p)),
  fc
    .tuple(fc.constantFrom(...PROVIDERS), fc.constantFrom<Outcome>('responded', 'failed', 'cancelled'), fc.integer({ min: 1, max: 6 }), fc.constantFrom<LlmFinishReason>('stop', 'length', 'content_filter'))
    .map(([p, o, n, reason]) => new EndAttempt(p, o, n, reason)),
  fc.constant(new Attach()),
  fc.constant(new Detach()),
];

/**
 * One run of a command sequence on a fresh bus and registry, attached from the first step; then
 * every attempt still open ends. Returns the model for what a test checks at the end.
 */
export async function runModel(cmds: Iterable<Cmd>, withSources: boolean): Promise<Model> {
  const bus = createBus();
  const registry = createMetricsRegistry();
  const model = new Model();
  const real: Real = {
    bus,
    registry,
    withSources,
    detach: undefined,
    state: { connections: 0, sessions: 0, inFlight: { openai: 0, anthropic: 0, dify: 0, demo: 0 } },
  };
  // The registry exists from the first step, attached or not.
  await new Attach().run(model, real);
  await fc.asyncModelRun(() => ({ model, real }), cmds);
  // Every attempt still open ends: in flight returns to 0 (exact with the reply source's count).
  for (const provider of PROVIDERS) {
    while (model.liveInFlight[provider] > 0) await new EndAttempt(provider, 'cancelled', 1, 'stop').run(model, real);
  }
  return model;
}
