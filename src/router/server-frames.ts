// The frames the router builds (the wire shapes themselves live in src/protocol).
import type { Connection } from '../ws/connections.js';
import { now, type ServerFrame } from '../protocol/frames.js';

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
 * A frame about one session, stamped now. Built field by field, not by spreading: every chunk of
 * a reply makes one, and one object shape keeps this monomorphic (fields left undefined are not
 * serialised).
 */
export function sessionFrame(sessionId: string, frame: SessionFrameFields): ServerFrame {
  return {
    type: frame.type,
    sender: frame.sender,
    content: frame.content,
    model_id: frame.model_id,
    metadata: frame.metadata,
    session_id: sessionId,
    timestamp: now(),
  } as ServerFrame;
}
