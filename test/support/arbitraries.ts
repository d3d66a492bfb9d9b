// One fast-check arbitrary per catalog event. Typed over the catalog: adding an event without
// an arbitrary here fails to compile.
import fc from 'fast-check';
import {
  AUTH_FAILURE_REASONS,
  CLOSE_REASONS,
  DROP_REASONS,
  ERROR_CODES,
  LIMITERS,
  LLM_CANCEL_CAUSES,
  LLM_FAILURE_REASONS,
  LLM_FINISH_REASONS,
  HTTP_METHODS,
  PROVIDERS,
  ROLES,
  SESSION_END_REASONS,
  STORAGE_OPERATIONS,
  TRANSPORTS,
  VIAS,
  type ChatEvents,
  type EventName,
} from '../../src/events/catalog.js';

const of = <T extends string>(values: readonly T[]) => fc.constantFrom(...values);
const seconds = fc.double({ min: 0, max: 200, noNaN: true });
const count = fc.nat({ max: 1000 });
const tokens = fc.nat({ max: 100_000 });
const model = fc.constantFrom('gpt-4o-mini', 'claude-haiku', 'dify-app', 'demo');

export const eventArbitraries: { readonly [K in EventName]: fc.Arbitrary<ChatEvents[K]> } = {
  connectionOpened: fc.record({ role: of(ROLES), transport: of(TRANSPORTS), open: count }),
  connectionClosed: fc.record({
    role: of(ROLES),
    transport: of(TRANSPORTS),
    reason: of(CLOSE_REASONS),
    durationSeconds: fc.double({ min: 0, max: 7200, noNaN: true }),
    open: count,
  }),
  messageReceived: fc.record({ bytes: fc.nat({ max: 70_000 }) }),
  messageSent: fc.record({ bytes: fc.nat({ max: 70_000 }) }),
  messageFailed: fc.record({ code: of(ERROR_CODES) }),
  messageDropped: fc.record({ reason: of(DROP_REASONS) }),
  rateLimited: fc.record({ limiter: of(LIMITERS) }),
  llmRequested: fc.record({ provider: of(PROVIDERS), model, streaming: fc.boolean(), attempt: fc.integer({ min: 1, max: 5 }) }),
  llmFirstToken: fc.record({ provider: of(PROVIDERS), model, seconds }),
  llmResponded: fc.record({
    provider: of(PROVIDERS),
    model,
    streaming: fc.boolean(),
    latencySeconds: seconds,
    durationSeconds: seconds,
    inputTokens: tokens,
    outputTokens: tokens,
    cachedInputTokens: fc.option(tokens, { nil: undefined }),
    reasoningTokens: fc.option(tokens, { nil: undefined }),
  }, { requiredKeys: ['provider', 'model', 'streaming', 'latencySeconds', 'durationSeconds', 'inputTokens', 'outputTokens'] }),
  llmChunkReceived: fc.record({ provider: of(PROVIDERS), model, gapSeconds: fc.double({ min: 0, max: 5, noNaN: true }) }),
  llmFinished: fc.record({
    provider: of(PROVIDERS),
    model,
    streaming: fc.boolean(),
    reason: of(LLM_FINISH_REASONS),
    attempts: fc.integer({ min: 1, max: 5 }),
  }),
  llmFailed: fc.record({
    provider: of(PROVIDERS),
    model,
    streaming: fc.boolean(),
    reason: of(LLM_FAILURE_REASONS),
    willRetry: fc.boolean(),
    status: fc.constantFrom(0, 400, 429, 500, 503),
    durationSeconds: fc.option(seconds, { nil: undefined }),
  }, { requiredKeys: ['provider', 'model', 'streaming', 'reason', 'willRetry', 'status'] }),
  llmCancelled: fc.record({ provider: of(PROVIDERS), model, streaming: fc.boolean(), cause: of(LLM_CANCEL_CAUSES) }),
  sessionCreated: fc.record({ open: count }),
  sessionEnded: fc.record({ reason: of(SESSION_END_REASONS), open: count }),
  adminTookOver: fc.record({ via: of(VIAS) }),
  adminHandedBack: fc.record({ via: of(VIAS) }),
  storageOperation: fc.record({ operation: of(STORAGE_OPERATIONS), seconds: fc.double({ min: 0, max: 3, noNaN: true }), ok: fc.boolean() }),
  httpResponded: fc.record({
    route: fc.constantFrom('/metrics', '/chatbox/healthz', '/chatbox/sessions/:id', 'unmatched'),
    method: of(HTTP_METHODS),
    status: fc.constantFrom(200, 201, 204, 301, 400, 401, 404, 405, 413, 429, 500, 503),
    seconds: fc.double({ min: 0, max: 10, noNaN: true }),
  }),
  authFailed: fc.record({ reason: of(AUTH_FAILURE_REASONS), via: of(VIAS) }),
};

export type AnyEvent = { [K in EventName]: { readonly type: K; readonly payload: ChatEvents[K] } }[EventName];

/** Any catalog event with a valid payload. */
export const anyEvent: fc.Arbitrary<AnyEvent> = fc.oneof(
  ...(Object.keys(eventArbitraries) as EventName[]).map((type) =>
    (eventArbitraries[type] as fc.Arbitrary<ChatEvents[EventName]>).map((payload) => ({ type, payload }) as AnyEvent),
  ),
);
