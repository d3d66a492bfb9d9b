// Token counts for the history budget: a real tokenizer for the OpenAI families whose encoding
// is public (gpt-tokenizer, pure JS), a documented estimate for everything else.
//
// The encodings load on first use, synchronously (about 130 ms and 30 MB for o200k_base on this
// machine), so a process that talks only to Anthropic, Dify or the demo model never pays for them.
// Counts are cached per turn object: the router hands the same turn objects to every reply of a
// session, so each message is tokenized once, not once per reply.
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import type { ModelSpec } from './config.js';
import type { ChatTurn } from './types.js';

export type Encoding = 'o200k_base' | 'cl100k_base';
export type TokenizerKind = Encoding | 'estimate';

/** Tokens a chat format adds around each message (role and separators; OpenAI documents 3-4). */
export const PER_TURN_OVERHEAD = 4;

/**
 * The estimate where no tokenizer is public (Anthropic, Dify, local models): one token per three
 * UTF-8 bytes, rounded up. English runs near four characters a token, so this over-counts
 * English by about a third and stays close for accented and CJK text (three bytes a character);
 * a budget should err on the side of sending less, never more.
 */
export const estimateTokens = (text: string): number => Math.ceil(Buffer.byteLength(text, 'utf8') / 3);

/** Which tokenizer a configured model gets. */
export function tokenizerFor(spec: Pick<ModelSpec, 'provider' | 'model'>): TokenizerKind {
  if (spec.provider !== 'openai') return 'estimate';
  const m = spec.model.toLowerCase();
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o1|o3|o4)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5)/.test(m)) return 'cl100k_base';
  return 'estimate';
}

const require = createRequire(import.meta.url);
const loaded = new Map<Encoding, (text: string) => number>();

function encoding(name: Encoding): (text: string) => number {
  let count = loaded.get(name);
  if (count === undefined) {
    const mod = require(`gpt-tokenizer/cjs/encoding/${name}`) as { countTokens(text: string): number };
    count = (text) => mod.countTokens(text);
    loaded.set(name, count);
  }
  return count;
}

/** Counts text with the given tokenizer (the estimate needs no loading). */
export function countText(kind: TokenizerKind, text: string): number {
  return kind === 'estimate' ? estimateTokens(text) : encoding(kind)(text);
}

/** Tokens of one turn, overhead included, cached per turn object. */
export type TurnCounter = (turn: ChatTurn) => number;

export function createTurnCounter(kind: TokenizerKind): TurnCounter {
  const cache = new WeakMap<ChatTurn, number>();
  return function countTurn(turn) {
    let n = cache.get(turn);
    if (n === undefined) {
      n = countText(kind, turn.content) + PER_TURN_OVERHEAD;
      cache.set(turn, n);
    }
    return n;
  };
}
