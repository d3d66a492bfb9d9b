// The LLM layer's public surface: configuration and the reply source.
export { loadModelConfig, configuredProviders, unpricedModels, DEMO_MODEL, DEFAULT_HISTORY_TOKENS } from './config.js';
export type { LlmConfig, ModelSpec, RetryPolicy, Timeouts } from './config.js';
export type { ModelPrices } from './types.js';
export { createReplySource, CANCELLED, LLM_UNAVAILABLE } from './reply-source.js';
export type { ReplySourceOptions } from './reply-source.js';
export type { ChatTurn, ModelInfo, Reply, ReplyChunk, ReplyRequest, ReplySource, Usage } from './types.js';
