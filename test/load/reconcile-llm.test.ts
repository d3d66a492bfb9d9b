// The load run's LLM reconciliation: exact where the server and the provider must agree, and a
// bound only as wide as the race it stands for (a reply cancelled while its request was on its way).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { reconcileLlm, type LlmReadings } from '../../bench/load/reconcile-llm.js';

function readings(metrics: Record<string, number>, over: Partial<LlmReadings> = {}): LlmReadings {
  return {
    value: (name, labels) => metrics[`${name}${labels?.['reason'] === undefined ? '' : `/${labels['reason']}`}`] ?? 0,
    provider: 'openai',
    tally: { requests: 100, inputTokens: 1200, outputTokens: 800 },
    unseenTokensAtMost: 0,
    faults: false,
    llmUnavailable: 0,
    ...over,
  };
}

const agreeing = { chatbox_llm_requests_total: 100, chatbox_tokens_used_total: 2000 };

describe('reconcileLlm', () => {
  it('passes when the server and the provider agree', () => {
    expect(reconcileLlm(readings(agreeing))).toEqual([]);
  });

  it('allows one unseen attempt per cancelled reply, and no more', () => {
    fc.assert(
      fc.property(fc.nat(20), fc.nat(25), (cancelled, extra) => {
        const r = readings({ ...agreeing, chatbox_llm_requests_total: 100 + extra, 'chatbox_llm_finished_total/cancelled': cancelled });
        const out = reconcileLlm(r);
        if (extra <= cancelled) expect(out).toEqual([]);
        else expect(out).toEqual([expect.stringContaining(`/metrics says ${100 + extra}, the provider saw 100`)]);
      }),
    );
  });

  it('never allows fewer attempts than the provider saw', () => {
    const out = reconcileLlm(readings({ ...agreeing, chatbox_llm_requests_total: 99, 'chatbox_llm_finished_total/cancelled': 5 }));
    expect(out).toHaveLength(1);
  });

  it('bounds missed tokens by the replies no client saw whole, and never allows more than delivered', () => {
    expect(reconcileLlm(readings({ ...agreeing, chatbox_tokens_used_total: 1990 }, { unseenTokensAtMost: 10 }))).toEqual([]);
    expect(reconcileLlm(readings({ ...agreeing, chatbox_tokens_used_total: 1989 }, { unseenTokensAtMost: 10 }))).toHaveLength(1);
    expect(reconcileLlm(readings({ ...agreeing, chatbox_tokens_used_total: 2001 }, { unseenTokensAtMost: 10 }))).toHaveLength(1);
  });

  it('refuses errors without faults, and more errors than attempts with them', () => {
    expect(reconcileLlm(readings({ ...agreeing, chatbox_llm_errors_total: 1 }))).toHaveLength(1);
    expect(reconcileLlm(readings({ ...agreeing, chatbox_llm_errors_total: 1 }, { faults: true }))).toEqual([]);
    expect(reconcileLlm(readings({ ...agreeing, chatbox_llm_errors_total: 101 }, { faults: true }))).toHaveLength(1);
    expect(reconcileLlm(readings(agreeing, { llmUnavailable: 2 }))).toHaveLength(1);
  });
});
