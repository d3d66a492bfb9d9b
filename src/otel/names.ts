// Instrument and attribute names. The GenAI ones are still "development" in the semantic
// conventions, so they are copied here (as the conventions advise for incubating names) rather
// than imported from @opentelemetry/semantic-conventions/incubating, whose exports may change.
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '@opentelemetry/semantic-conventions';
import type { Provider } from '../events/catalog.js';

export const GEN_AI = {
  duration: 'gen_ai.client.operation.duration',
  tokenUsage: 'gen_ai.client.token.usage',
  timeToFirstChunk: 'gen_ai.client.operation.time_to_first_chunk',
  timePerOutputChunk: 'gen_ai.client.operation.time_per_output_chunk',
} as const;

export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  tokenType: 'gen_ai.token.type',
  errorType: ATTR_ERROR_TYPE,
  httpRoute: ATTR_HTTP_ROUTE,
  httpMethod: ATTR_HTTP_REQUEST_METHOD,
  httpStatus: ATTR_HTTP_RESPONSE_STATUS_CODE,
} as const;

export const HTTP_SERVER_DURATION = METRIC_HTTP_SERVER_REQUEST_DURATION;

/** `gen_ai.provider.name` values: the conventions' well-known names, ours for the demo model. */
export const GEN_AI_PROVIDER: Record<Provider, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  dify: 'dify',
  demo: 'chatbox.demo',
};

// The conventions' advised boundaries.
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
export const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
// http.server.request.duration's advised boundaries.
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The chat-service instruments (README "OpenTelemetry" lists them beside their Prometheus names). */
export const CHATBOX = {
  connections: 'chatbox.websocket.connections',
  connectionDuration: 'chatbox.websocket.connection.duration',
  sessionsActive: 'chatbox.sessions.active',
  sessionsCreated: 'chatbox.sessions.created',
  sessionsEnded: 'chatbox.sessions.ended',
  messagesReceived: 'chatbox.messages.received',
  messagesSent: 'chatbox.messages.sent',
  messagesFailed: 'chatbox.messages.failed',
  messagesDropped: 'chatbox.messages.dropped',
  takeovers: 'chatbox.admin.takeovers',
  handbacks: 'chatbox.admin.handbacks',
  llmInFlight: 'chatbox.llm.in_flight',
  llmFinished: 'chatbox.llm.finished',
} as const;
