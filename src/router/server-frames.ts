// The frames the router builds (the wire shapes themselves live in src/protocol).
import type { Connection } from '../ws/connections.js';
import { now, type ServerFrame } from '../protocol/frames.js';
import { SessionFrame } from '../protocol/frame-text.js';

export type ModelList = readonly { readonly id: string; readonly name: string }[];

/** `connection_status` for one socket: its session, user, the models and its current model. */
export function statusFrame(conn: Connection, models: ModelList, extra: Partial<ServerFrame> = {}): ServerFrame {
  return {
    type: 'connection_status',
    ...(conn.sessionId === undefined ? {} : { session_id: conn.sessionId }),
    sender: 'system',
    timestamp: now(),
    user_id: conn.principal.userId,
    models,
    model_id: conn.modelId,
    ...extra,
  };
}

type SessionFrameFields = Pick<ServerFrame, 'type' | 'sender' | 'content' | 'model_id' | 'metadata'>;

/**
 * A frame about one session, stamped now: a SessionFrame, one object shape for every chunk of a
 * reply, which the fan-out serialises by hand (protocol/frame-text.ts).
 */
export function sessionFrame(sessionId: string, frame: SessionFrameFields): ServerFrame {
  return new SessionFrame(frame.type, frame.sender, frame.content, frame.model_id, frame.metadata, sessionId, now());
}
