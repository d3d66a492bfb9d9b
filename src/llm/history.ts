// What is sent to a model: its configured system prompt, then as much of the conversation as
// fits the model's token budget, newest turns first. Applied once per reply, before any attempt.
import type { ModelSpec } from './config.js';
import type { ChatTurn } from './types.js';
import { createTurnCounter, tokenizerFor, type TurnCounter } from './tokens.js';

export type Prepare = (messages: readonly ChatTurn[]) => readonly ChatTurn[];

/**
 * Builds the preparation step for one model. The newest turn is always sent, even alone over the
 * budget (the provider then says the request is too long, a clearer error than an empty prompt);
 * older turns are dropped whole, oldest first, never cut in the middle.
 */
export function createPrepare(spec: ModelSpec, counter: TurnCounter = createTurnCounter(tokenizerFor(spec))): Prepare {
  const system: ChatTurn | undefined = spec.systemPrompt === undefined ? undefined : { role: 'system', content: spec.systemPrompt };
  const budget = spec.historyTokens;
  if (budget === undefined) return system === undefined ? (m) => m : (m) => [system, ...m];
  return function prepare(messages) {
    let used = system === undefined ? 0 : counter(system);
    let from = messages.length;
    while (from > 0) {
      const cost = counter(messages[from - 1] as ChatTurn);
      if (from < messages.length && used + cost > budget) break;
      used += cost;
      from--;
    }
    const kept = from === 0 ? messages : messages.slice(from);
    return system === undefined ? kept : [system, ...kept];
  };
}
