// Library entry point: embed the bus and its subscribers in another service without starting
// the chat server.
export * from './events/catalog.js';
export { createBus, subscribe, type Bus, type EventHandler, type HandlerMap, type SubscriberErrorListener } from './events/bus.js';
export { attachRecorder, type Recorder, type RecordedEvent } from './events/recorder.js';
export { attachLogger } from './logging/attach-logger.js';
export { attachMetrics, type GaugeSources, type MetricsOptions } from './metrics/attach.js';
export { METRICS, METRIC_SPECS, type MetricSpec, type MetricType } from './metrics/contract.js';
export { DEPTH_METRICS } from './metrics/depth-contract.js';
export {
  createMetricsRegistry,
  negotiateFormat,
  renderMetrics,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  type Exposition,
  type ExpositionFormat,
  type MetricsRegistry,
} from './metrics/render.js';
export { attachOpenTelemetry, type OpenTelemetryOptions } from './otel/attach.js';
export { createOtlpExport, otlpFromEnv, otlpSettings, type OtlpExport, type OtlpProtocol, type OtlpSettings } from './otel/env.js';
export { attachDiagnostics, channels, channelName } from './diagnostics/channels.js';
export { metricsRoute, metricsReply } from './http/metrics-route.js';
export { uwsMetricsHandler } from './http/uws-metrics.js';
export { ChatboxError, isChatboxError } from './errors.js';
