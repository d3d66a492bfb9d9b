// The "LLM depth" rows of the metrics contract (../shared/metrics-contract.md) as data.
import type { MetricSpec } from './contract.js';

export const INTER_TOKEN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5] as const;
// REST calls answer in well under a millisecond (health) to tens of milliseconds (store writes).
// Nine bounds, not thirteen: one series per route and method, so every bound is ~routes x 4 lines
// of each scrape (the 2 ms render budget, bench/metrics/render.bench.ts).
export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5] as const;

const spec = <const S extends MetricSpec>(s: S): S => s;

export const DEPTH_METRICS = {
  llmInterToken: spec({
    name: 'chatbox_llm_inter_token_seconds',
    type: 'histogram',
    help: 'Gap between two consecutive streamed chunks of one LLM attempt.',
    labels: ['provider'],
    buckets: INTER_TOKEN_BUCKETS,
  }),
  llmFinished: spec({
    name: 'chatbox_llm_finished_total',
    type: 'counter',
    help: "LLM replies that ended, by how: the provider's finish reason, our cancellation, or failure after every attempt.",
    labels: ['provider', 'reason'],
  }),
  llmInFlight: spec({
    name: 'chatbox_llm_in_flight',
    type: 'gauge',
    help: 'LLM attempts started and not yet finished, now.',
    labels: ['provider'],
  }),
  llmModelRequests: spec({
    name: 'chatbox_llm_model_requests_total',
    type: 'counter',
    help: 'LLM attempts per configured model id.',
    labels: ['provider', 'model'],
  }),
  llmTokenDetails: spec({
    name: 'chatbox_llm_token_details_total',
    type: 'counter',
    help: 'Tokens inside the input/output counts that the provider reports as cached input or reasoning.',
    labels: ['provider', 'type'],
  }),
  llmCost: spec({
    name: 'chatbox_llm_cost_usd_total',
    type: 'counter',
    help: 'LLM spend in USD, from the per-model prices of the models configuration.',
    labels: ['provider', 'model'],
  }),
  httpRequests: spec({
    name: 'chatbox_http_requests_total',
    type: 'counter',
    help: 'REST and page requests answered, by route pattern, method and status class.',
    labels: ['route', 'method', 'status'],
  }),
  httpDuration: spec({
    name: 'chatbox_http_request_duration_seconds',
    type: 'histogram',
    help: 'Time to answer a REST or page request.',
    labels: ['route', 'method'],
    buckets: HTTP_DURATION_BUCKETS,
  }),
} as const satisfies Record<string, MetricSpec>;
