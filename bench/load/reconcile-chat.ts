// The chat counters of /metrics (connections, frames, errors, sessions, takeovers) against what
// the clients themselves counted: each must agree exactly. The LLM series, where a race is real,
// are reconciled apart (reconcile-llm.ts).
import type { Exposition } from '../../test/support/exposition.js';
import type { Tally } from './client.js';
import type { Counts } from './run-state.js';

/** The mismatches, as lines for the report (none when everything agrees). */
export function reconcileChat(final: Exposition, tally: Tally, counts: Counts, sessionsUsed: ReadonlySet<string>): string[] {
  const mismatches: string[] = [];
  // Reconcile every counter against the harness's tally.
  const expectEq = (what: string, actual: number | undefined, expected: number): void => {
    if (actual !== expected) mismatches.push(`${what}: /metrics says ${actual ?? 'absent'}, harness counted ${expected}`);
  };
  const v = (name: string, labels?: Record<string, string>) => final.value(name, labels) ?? 0;
  expectEq('chatbox_websocket_connections_total (all clients gone)', final.value('chatbox_websocket_connections_total'), 0);
  expectEq('chatbox_messages_received_total', v('chatbox_messages_received_total'), tally.framesSent);
  expectEq('chatbox_messages_sent_total', v('chatbox_messages_sent_total'), tally.framesReceived);
  expectEq(
    'chatbox_message_errors_total',
    v('chatbox_message_errors_total'),
    tally.frameErrors + counts.llmUnavailable + tally.oversizeSent + v('chatbox_messages_dropped_total', { reason: 'backpressure' }) + v('chatbox_messages_dropped_total', { reason: 'closed' }),
  );
  expectEq('chatbox_sessions_created_total', v('chatbox_sessions_created_total'), sessionsUsed.size);
  expectEq('chatbox_active_sessions_total', v('chatbox_active_sessions_total'), sessionsUsed.size - v('chatbox_sessions_ended_total'));
  expectEq('chatbox_admin_takeovers_total', v('chatbox_admin_takeovers_total'), counts.takeovers);
  expectEq('chatbox_admin_handbacks_total', v('chatbox_admin_handbacks_total'), counts.handbacks);
  return mismatches;
}
