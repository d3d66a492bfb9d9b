// The wire protocol's shapes as plain types (../shared/protocol.md): server frames, the console's
// frames and the REST bodies the web app reads. Types only and no imports but the catalogue's
// types, so the browser app (src/web) can import them without pulling in any server module.
import type { ErrorCode, Provider } from '../events/catalog.js';

export type Sender = 'user' | 'ai' | 'admin' | 'system';

export type ServerFrameType =
  | 'connection_status'
  | 'loading'
  | 'ai_response'
  | 'user_message'
  | 'admin_join'
  | 'admin_leave'
  | 'notification'
  | 'typing_indicator'
  | 'error'
  // Console frames (admins that sent `console_subscribe`); see README "Web app".
  | 'console_session'
  | 'console_metrics';

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly recoverable: boolean;
  /** Milliseconds. */
  readonly retry_after?: number;
}

export interface ServerFrame {
  readonly type: ServerFrameType;
  readonly session_id?: string | undefined;
  readonly content?: string;
  readonly sender: Sender;
  readonly timestamp: string;
  readonly model_id?: string;
  readonly models?: readonly { readonly id: string; readonly name: string }[];
  readonly user_id?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly error?: WireError;
  /** `console_session`: the session as in `GET {prefix}/admin/sessions`. */
  readonly session?: SessionJson;
  /** `console_metrics`: the live metrics rollup. */
  readonly metrics?: LiveMetricsJson;
}

/** A session in both REST listings (and in `console_session`). */
export interface SessionJson {
  readonly id: string;
  readonly name: string | null;
  readonly model_id: string;
  readonly is_active: boolean;
  readonly started_at: string;
  readonly ended_at: string | null;
  readonly message_count: number;
  readonly admin_assisted: boolean;
  readonly user_id: string;
  readonly last_activity: string;
  readonly duration_seconds: number;
  readonly tokens: number;
  readonly admin_name: string | null;
  readonly help_requested: boolean;
  readonly end_reason?: string | null;
}

/** One history message: the live frame's fields. */
export interface MessageJson {
  readonly type: ServerFrameType;
  readonly content: string;
  readonly sender: Sender;
  readonly timestamp: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface TranscriptJson {
  readonly session_id: string;
  readonly name: string | null;
  readonly model_id?: string;
  readonly is_active?: boolean;
  readonly messages: readonly MessageJson[];
}

export interface StatsJson {
  readonly from: string;
  readonly to: string;
  readonly sessions: number;
  readonly active_sessions: number;
  readonly admin_assisted: number;
  readonly messages: number;
  readonly tokens: number;
  readonly avg_response_seconds: number | null;
  readonly max_response_seconds: number | null;
}

export interface HttpErrorJson {
  readonly error: { readonly code: string; readonly message: string };
}

/**
 * Per-second points of the live metrics (oldest first): `t` is the second's start in epoch
 * seconds; rates are per second; gauges are read at the end of the second. `current` holds the
 * readings now and the totals since the server started, the same figures as `/metrics`.
 */
export interface LiveMetricsJson {
  readonly interval_seconds: number;
  readonly providers: readonly Provider[];
  readonly points: {
    readonly t: readonly number[];
    readonly connections: readonly number[];
    readonly sessions: readonly number[];
    readonly frames_in: readonly number[];
    readonly frames_out: readonly number[];
    readonly llm_attempts: Readonly<Partial<Record<Provider, readonly number[]>>>;
    readonly llm_errors: Readonly<Partial<Record<Provider, readonly number[]>>>;
    readonly ttft_p50: readonly (number | null)[];
    readonly ttft_p95: readonly (number | null)[];
  };
  readonly current: LiveCurrentJson;
}

export interface LiveCurrentJson {
  readonly connections: number;
  readonly sessions: number;
  readonly frames_in_total: number;
  readonly frames_out_total: number;
  readonly llm_attempts_total: Readonly<Partial<Record<Provider, number>>>;
  readonly llm_errors_total: Readonly<Partial<Record<Provider, number>>>;
  /** Over the last minute, seconds; null with no sample. */
  readonly ttft_p50: number | null;
  readonly ttft_p95: number | null;
}
