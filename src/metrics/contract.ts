// The metrics contract (../shared/metrics-contract.md) as data: names, types, help, label names
// and buckets. Dashboards and autoscalers select these series by name: never rename one.

import { DEPTH_METRICS } from './depth-contract.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
}

export const LLM_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120] as const;
export const CONNECTION_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600] as const;
// Store calls run from sub-millisecond (memory) to tens of milliseconds (remote PostgreSQL).
export const STORAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

const spec = <const S extends MetricSpec>(s: S): S => s;

export const METRICS = {
  connections: spec({
    name: 'chatbox_websocket_connections_total',
    type: 'gauge',
    help: 'Open WebSocket connections in this process now (users and admins).',
    labels: [],
  }),
  activeSessions: spec({
    name: 'chatbox_active_sessions_total',
    type: 'gauge',
    help: 'Chat sessions owned by this process that have started and not ended.',
    labels: [],
  }),
  messagesReceived: spec({
    name: 'chatbox_messages_received_total',
    type: 'counter',
    help: 'Frames received from clients, valid or not.',
    labels: [],
  }),
  messagesSent: spec({
    name: 'chatbox_messages_sent_total',
    type: 'counter',
    help: 'Frames handed to client sockets (a streamed reply chunk is one frame).',
    labels: [],
  }),
  messageErrors: spec({
    name: 'chatbox_message_errors_total',
    type: 'counter',
    help: 'Frames that could not be processed or delivered.',
    labels: [],
  }),
  llmRequests: spec({
    name: 'chatbox_llm_requests_total',
    type: 'counter',
    help: 'HTTP attempts to an LLM provider, streaming or not; each retry is another attempt.',
    labels: ['provider'],
  }),
  llmLatency: spec({
    name: 'chatbox_llm_latency_seconds',
    type: 'histogram',
    help: 'Successful LLM attempts: total time when not streamed, time to first token when streamed.',
    labels: ['provider'],
    buckets: LLM_LATENCY_BUCKETS,
  }),
  llmErrors: spec({
    name: 'chatbox_llm_errors_total',
    type: 'counter',
    help: 'Failed LLM attempts: connection error, timeout, non-2xx status, malformed body or broken stream.',
    labels: ['provider'],
  }),
  tokensUsed: spec({
    name: 'chatbox_tokens_used_total',
    type: 'counter',
    help: 'Tokens (input + output) reported by the provider.',
    labels: ['provider'],
  }),
  sessionsCreated: spec({
    name: 'chatbox_sessions_created_total',
    type: 'counter',
    help: 'Sessions created.',
    labels: [],
  }),
  sessionsEnded: spec({
    name: 'chatbox_sessions_ended_total',
    type: 'counter',
    help: 'Sessions ended (by the user, an admin, idle timeout or shutdown).',
    labels: [],
  }),
  adminTakeovers: spec({
    name: 'chatbox_admin_takeovers_total',
    type: 'counter',
    help: 'Successful admin takeovers of a session.',
    labels: [],
  }),
  connectionDuration: spec({
    name: 'chatbox_websocket_connection_duration_seconds',
    type: 'histogram',
    help: 'Lifetime of closed WebSocket connections.',
    labels: [],
    buckets: CONNECTION_DURATION_BUCKETS,
  }),
  llmRequestDuration: spec({
    name: 'chatbox_llm_request_duration_seconds',
    type: 'histogram',
    help: 'Whole duration of successful LLM attempts, streamed replies to the last token.',
    labels: ['provider', 'streaming'],
    buckets: LLM_LATENCY_BUCKETS,
  }),
  llmTimeToFirstToken: spec({
    name: 'chatbox_llm_time_to_first_token_seconds',
    type: 'histogram',
    help: 'Time to first token of streamed LLM replies.',
    labels: ['provider'],
    buckets: LLM_LATENCY_BUCKETS,
  }),
  llmTokens: spec({
    name: 'chatbox_llm_tokens_total',
    type: 'counter',
    help: 'Tokens reported by the provider, split by input and output.',
    labels: ['provider', 'type'],
  }),
  llmRetries: spec({
    name: 'chatbox_llm_retries_total',
    type: 'counter',
    help: 'LLM attempts after the first.',
    labels: ['provider'],
  }),
  messagesDropped: spec({
    name: 'chatbox_messages_dropped_total',
    type: 'counter',
    help: 'Frames not delivered because the socket was congested or closing.',
    labels: ['reason'],
  }),
  rateLimitBlocked: spec({
    name: 'chatbox_ratelimit_blocked_total',
    type: 'counter',
    help: 'Requests or frames refused by a rate limiter.',
    labels: ['limiter'],
  }),
  adminHandbacks: spec({
    name: 'chatbox_admin_handbacks_total',
    type: 'counter',
    help: 'Sessions an admin handed back to the AI.',
    labels: [],
  }),
  storageOperation: spec({
    name: 'chatbox_storage_operation_seconds',
    type: 'histogram',
    help: 'Session-store call latency.',
    labels: ['operation'],
    buckets: STORAGE_BUCKETS,
  }),
  subscriberErrors: spec({
    name: 'chatbox_bus_subscriber_errors_total',
    type: 'counter',
    help: 'Bus subscribers that threw or rejected while handling an event (the event still reached every other subscriber).',
    labels: ['subscriber'],
  }),
  authFailures: spec({
    name: 'chatbox_auth_failures_total',
    type: 'counter',
    help: 'Upgrades and REST calls refused for their token or origin, by why.',
    labels: ['reason'],
  }),
} as const satisfies Record<string, MetricSpec>;

export const METRIC_SPECS: readonly MetricSpec[] = [...Object.values(METRICS), ...Object.values(DEPTH_METRICS)];
