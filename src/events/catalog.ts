// The one catalogue of domain events. Every emitter and every subscriber imports its types from
// here; nothing else defines an event name.
//
// Payloads are flat, readonly, plain data. Only closed unions (provider, reason, role...) are
// meant to become metric labels; there is deliberately no user id, session id or free text in any
// payload, so no subscriber is ever tempted to put one into a label.

/** Configured LLM provider kinds. `demo` is the built-in model used when no API key is set. */
export const PROVIDERS = ['openai', 'anthropic', 'dify', 'demo'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const TRANSPORTS = ['uws', 'ws'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Why a socket ended. Every path a socket can end on maps to exactly one of these. */
export const CLOSE_REASONS = [
  'client', // the client sent a close frame
  'abrupt', // the TCP connection dropped without a close frame
  'idle', // ping timeout / idle timeout
  'shutdown', // server shutdown (1001)
  'too_large', // frame over the size limit (1009)
  'backpressure', // the send buffer passed its limit
  'kicked', // closed by the server for another reason (policy)
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Stable error codes. The same code appears in socket error frames, HTTP bodies and logs. */
export const ERROR_CODES = [
  'INVALID_JSON',
  'INVALID_MESSAGE',
  'UNSUPPORTED',
  'NOT_FOUND',
  'FORBIDDEN',
  'UNAUTHORIZED',
  'RATE_LIMITED',
  'LLM_UNAVAILABLE',
  'TOO_LARGE',
  'SEND_FAILED',
  'CONFLICT',
  'INTERNAL',
  // Stored content could not be decrypted (wrong/missing ENCRYPTION_KEY, or altered data).
  'CHATBOX_ERR_DECRYPT',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const DROP_REASONS = ['backpressure', 'closed', 'unreachable'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

// `sockets`: an upgrade past MAX_SOCKETS_PER_USER (429).
export const LIMITERS = ['frames', 'http', 'upgrade', 'auth', 'help', 'sockets'] as const;
export type Limiter = (typeof LIMITERS)[number];

export const LLM_FAILURE_REASONS = [
  'timeout',
  'network',
  'rate_limited',
  'server_error',
  'client_error',
  'bad_response',
  'stream_broken',
] as const;
export type LlmFailureReason = (typeof LLM_FAILURE_REASONS)[number];

/** How a reply ended: the provider's finish reason, our cancellation, or failure after every attempt. */
export const LLM_FINISH_REASONS = ['stop', 'length', 'content_filter', 'cancelled', 'error'] as const;
export type LlmFinishReason = (typeof LLM_FINISH_REASONS)[number];

/** Request methods as metric labels; any other method is `other`, so no request creates a series. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'other'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** The route label of a request whose path matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';

export const LLM_CANCEL_CAUSES = ['client_left', 'takeover', 'shutdown', 'aborted'] as const;
export type LlmCancelCause = (typeof LLM_CANCEL_CAUSES)[number];

export const SESSION_END_REASONS = ['user', 'admin', 'idle', 'shutdown'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

export const STORAGE_OPERATIONS = [
  'migrate',
  'create_session',
  'append_message',
  'end_session',
  'get_session',
  'list_sessions',
  'list_admin_sessions',
  'resume_session',
  'set_model',
  'set_admin',
  'share_session',
  'stats',
  'move_sessions',
  'count_open',
] as const;
export type StorageOperation = (typeof STORAGE_OPERATIONS)[number];

export const VIAS = ['rest', 'socket'] as const;

/** The shared broker's calls that can fail (chatbox_cluster_errors_total). */
export const CLUSTER_OPERATIONS = ['publish', 'subscribe', 'limit', 'ownership'] as const;
export type ClusterOperation = (typeof CLUSTER_OPERATIONS)[number];
export type Via = (typeof VIAS)[number];

/** Why an upgrade or a REST call was refused before it reached the chat. */
export const AUTH_FAILURE_REASONS = ['missing', 'malformed', 'expired', 'signature', 'claims', 'origin'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/**
 * The event map (a `type`, not an `interface`: mitt's generic needs a Record-compatible type).
 * `open` fields carry the authoritative count *after* the change, read from the component that
 * owns the state (the connection registry, the session store), so a subscriber that attaches
 * late or sees a duplicate still reports the truth on the next event.
 */
export type ChatEvents = {
  /** A socket finished its upgrade and joined the connection registry. Emitted by src/ws. */
  connectionOpened: { readonly role: Role; readonly transport: Transport; readonly open: number };
  /** A socket left the connection registry, on whatever path. Emitted once per socket by src/ws. */
  connectionClosed: {
    readonly role: Role;
    readonly transport: Transport;
    readonly reason: CloseReason;
    readonly durationSeconds: number;
    readonly open: number;
  };
  /** One frame arrived from a client, valid or not. Emitted by src/ws before parsing. */
  messageReceived: { readonly bytes: number };
  /** One frame was handed to a client socket (sent or buffered). Emitted by src/ws. */
  messageSent: { readonly bytes: number };
  /** One frame could not be processed or delivered. Emitted by src/ws and src/router. */
  messageFailed: { readonly code: ErrorCode };
  /** One frame was not delivered because its socket was congested or closing. Emitted by src/ws. */
  messageDropped: { readonly reason: DropReason };
  /** A request or frame was refused by a rate limiter. Emitted by src/router and src/http. */
  rateLimited: { readonly limiter: Limiter };

  /** One HTTP attempt to an LLM provider started (each retry is another). Emitted by src/llm. */
  llmRequested: {
    readonly provider: Provider;
    /** Configured model id (a closed set from configuration, never client text). */
    readonly model: string;
    readonly streaming: boolean;
    readonly attempt: number;
  };
  /** A streamed attempt produced its first token. Emitted by src/llm. */
  llmFirstToken: { readonly provider: Provider; readonly model: string; readonly seconds: number };
  /**
   * An attempt succeeded. `latencySeconds` is the contract's latency: whole time when not
   * streamed, time to first token when streamed. Emitted by src/llm.
   */
  llmResponded: {
    readonly provider: Provider;
    readonly model: string;
    readonly streaming: boolean;
    readonly latencySeconds: number;
    readonly durationSeconds: number;
    readonly inputTokens: number;
    readonly outputTokens: number;
    /** Of inputTokens, those served from the provider's prompt cache (absent: none reported). */
    readonly cachedInputTokens?: number;
    /** Of outputTokens, those spent on reasoning (absent: none reported). */
    readonly reasoningTokens?: number;
  };
  /** A streamed attempt produced a chunk after its first; the gap since the previous one. Emitted by src/llm. */
  llmChunkReceived: { readonly provider: Provider; readonly model: string; readonly gapSeconds: number };
  /** A reply that made at least one attempt ended, once, by how it ended. Emitted by src/llm. */
  llmFinished: {
    readonly provider: Provider;
    readonly model: string;
    readonly streaming: boolean;
    readonly reason: LlmFinishReason;
    readonly attempts: number;
  };
  /** An attempt failed; `willRetry` says whether another attempt follows. Emitted by src/llm. */
  llmFailed: {
    readonly provider: Provider;
    readonly model: string;
    readonly streaming: boolean;
    readonly reason: LlmFailureReason;
    readonly willRetry: boolean;
    readonly status: number;
    /** From the start of the attempt to its failure (absent from older emitters). */
    readonly durationSeconds?: number;
  };
  /** An attempt was cancelled by us (user left, takeover, shutdown): not a provider error. */
  llmCancelled: {
    readonly provider: Provider;
    readonly model: string;
    readonly streaming: boolean;
    readonly cause: LlmCancelCause;
  };

  /** A session was created and is owned by this process. Emitted by src/storage (instrumented store). */
  sessionCreated: { readonly open: number };
  /** A session owned by this process ended. Emitted by src/storage (instrumented store). */
  sessionEnded: { readonly reason: SessionEndReason; readonly open: number };
  /** An admin took a session over from the AI. Emitted by src/router. */
  adminTookOver: { readonly via: Via };
  /** An admin handed a session back to the AI. Emitted by src/router. */
  adminHandedBack: { readonly via: Via };
  /** An upgrade or REST call was refused for its token or origin. Emitted by src/auth (the auth gate). */
  authFailed: { readonly reason: AuthFailureReason; readonly via: Via };
  /** One session-store call finished. Emitted by src/storage. */
  storageOperation: { readonly operation: StorageOperation; readonly seconds: number; readonly ok: boolean };
  /**
   * One REST or page request was answered. `route` is the matched route's pattern (never the raw
   * path) or `unmatched`. Emitted by src/http at its one dispatch point, for both transports.
   */
  httpResponded: { readonly route: string; readonly method: HttpMethod; readonly status: number; readonly seconds: number };

  /** This replica handed one message to the shared broker. Emitted by src/cluster (Redis). */
  clusterPublished: { readonly bytes: number };
  /** One message from another replica arrived; `seconds` since it was published. Emitted by src/cluster (Redis). */
  clusterReceived: { readonly seconds: number };
  /** One broker call failed (the work falls back to this replica). Emitted by src/cluster (Redis). */
  clusterFailed: { readonly operation: ClusterOperation };
  /** The broker connection went up or down. Emitted by src/cluster (Redis). */
  clusterConnection: { readonly connected: boolean };
  /** The replicas this one sees alive changed (itself included). Emitted by src/cluster (Redis). */
  clusterReplicas: { readonly count: number };
};

export type EventName = keyof ChatEvents;

/** Runtime list of every event name, kept in step with the map by the type below. */
export const EVENT_NAMES = [
  'connectionOpened',
  'connectionClosed',
  'messageReceived',
  'messageSent',
  'messageFailed',
  'messageDropped',
  'rateLimited',
  'llmRequested',
  'llmFirstToken',
  'llmResponded',
  'llmFailed',
  'llmCancelled',
  'llmChunkReceived',
  'llmFinished',
  'sessionCreated',
  'sessionEnded',
  'adminTookOver',
  'adminHandedBack',
  'storageOperation',
  'httpResponded',
  'authFailed',
  'clusterPublished',
  'clusterReceived',
  'clusterFailed',
  'clusterConnection',
  'clusterReplicas',
] as const satisfies readonly EventName[];

// Fails to compile when an event is added to the map but not to EVENT_NAMES.
type Missing = Exclude<EventName, (typeof EVENT_NAMES)[number]>;
const exhaustive: [Missing] extends [never] ? true : Missing = true;
void exhaustive;
