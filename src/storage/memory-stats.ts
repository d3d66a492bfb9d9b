// SessionStore.stats over the memory store's rows: the reference the SQL aggregate is checked against.
import type { MessageRecord, SessionRecord, SessionStats } from './types.js';

export function memoryStats(
  rows: Iterable<{ readonly session: SessionRecord; readonly messages: readonly MessageRecord[] }>,
  range: { readonly from: Date; readonly to: Date },
): SessionStats {
  const from = range.from.getTime();
  const to = range.to.getTime();
  const inRange = (d: Date): boolean => d.getTime() >= from && d.getTime() < to;
  let sessions = 0;
  let activeSessions = 0;
  let adminAssisted = 0;
  let messages = 0;
  let tokens = 0;
  let timed = 0;
  let responseSum = 0;
  let responseMax: number | null = null;
  for (const { session: s, messages: list } of rows) {
    if (inRange(s.startedAt)) {
      sessions++;
      if (s.isActive) activeSessions++;
      if (s.adminAssisted) adminAssisted++;
    }
    for (const m of list) {
      if (!inRange(m.createdAt)) continue;
      messages++;
      tokens += m.inputTokens + m.outputTokens;
      if (m.responseMs !== null) {
        timed++;
        responseSum += m.responseMs;
        responseMax = Math.max(responseMax ?? 0, m.responseMs);
      }
    }
  }
  return {
    sessions,
    activeSessions,
    adminAssisted,
    messages,
    tokens,
    avgResponseSeconds: timed === 0 ? null : responseSum / timed / 1000,
    maxResponseSeconds: responseMax === null ? null : responseMax / 1000,
  };
}
