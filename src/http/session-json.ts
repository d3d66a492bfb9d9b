// The session object of both REST listings and of the console's `console_session` frame.
import type { SessionJson } from '../protocol/wire.js';
import type { SessionRecord } from '../storage/types.js';

export function sessionJson(s: SessionRecord, now: number = Date.now()): SessionJson {
  const end = s.endedAt === null ? now : s.endedAt.getTime();
  return {
    id: s.id,
    name: s.name,
    model_id: s.modelId,
    is_active: s.isActive,
    started_at: s.startedAt.toISOString(),
    ended_at: s.endedAt === null ? null : s.endedAt.toISOString(),
    message_count: s.messageCount,
    admin_assisted: s.adminAssisted,
    user_id: s.userId,
    last_activity: s.lastActivity.toISOString(),
    duration_seconds: Math.max(0, Math.round((end - s.startedAt.getTime()) / 100) / 10),
    tokens: s.tokens,
    admin_name: s.adminName,
    help_requested: s.helpRequested,
  };
}
