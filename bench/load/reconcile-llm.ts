// The LLM series of /metrics against what the fake provider itself saw and sent. Exact where the
// two must agree; a bound where a race is real (a reply stopped while its request or its usage was
// on the wire), and the bound is what the race can explain, no more.

/** What the provider saw and sent over the run (its own tally). */
export interface ProviderTally {
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface LlmReadings {
  /** A counter's value in the final scrape (0 when absent). */
  readonly value: (name: string, labels?: Record<string, string>) => number;
  readonly provider: string;
  readonly tally: ProviderTally;
  /** Tokens the provider delivered in replies no client saw whole: the most the server may have missed. */
  readonly unseenTokensAtMost: number;
  /** Faults were injected (errors are expected). */
  readonly faults: boolean;
  /** LLM_UNAVAILABLE frames the clients got. */
  readonly llmUnavailable: number;
}

/** The mismatches, as lines for the report (none when everything agrees). */
export function reconcileLlm(r: LlmReadings): string[] {
  const out: string[] = [];
  const p = r.provider;
  // A reply stopped (a takeover, the user gone) while its request was still on its way out is an
  // attempt the server counted and the provider never saw: at most one per cancelled reply.
  const attempts = r.value('chatbox_llm_requests_total', { provider: p });
  const cancelledReplies = r.value('chatbox_llm_finished_total', { provider: p, reason: 'cancelled' });
  if (attempts < r.tally.requests || attempts > r.tally.requests + cancelledReplies) {
    out.push(
      `chatbox_llm_requests_total{provider="${p}"}: /metrics says ${attempts}, the provider saw ${r.tally.requests} (${cancelledReplies} replies were cancelled)`,
    );
  }
  // A reply can be stopped (takeover, the user's socket gone, a timeout) after the provider wrote
  // its usage but before the server read it: those tokens were delivered and never seen.
  const delivered = r.tally.inputTokens + r.tally.outputTokens;
  const tokensSeen = r.value('chatbox_tokens_used_total', { provider: p });
  if (tokensSeen > delivered || tokensSeen < delivered - r.unseenTokensAtMost) {
    out.push(
      `chatbox_tokens_used_total{provider="${p}"}: /metrics says ${tokensSeen}, the provider delivered ${delivered} (of which ${r.unseenTokensAtMost} in replies no client saw whole)`,
    );
  }
  const errors = r.value('chatbox_llm_errors_total', { provider: p });
  if (!r.faults && errors !== 0) out.push(`chatbox_llm_errors_total{provider="${p}"} (no faults): /metrics says ${errors}, harness counted 0`);
  if (errors > r.tally.requests) out.push(`chatbox_llm_errors_total ${errors} exceeds the attempts the provider saw (${r.tally.requests})`);
  if (!r.faults && r.llmUnavailable > 0) out.push(`${r.llmUnavailable} LLM_UNAVAILABLE errors without faults`);
  return out;
}
