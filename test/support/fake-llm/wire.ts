// What the three wire formats share: the shape of one provider's events, the SSE framing, and
// which wire a path speaks. Apart so that each provider's file holds only its own words.
import type { FakeProvider, FakeUsage } from '../fake-llm-server.js';

/** One event as it goes on the wire, per provider. `finish` is the wire's own word. */
export interface Wire {
  start(): string[];
  text(text: string, index: number): string;
  end(usage: FakeUsage | undefined, finish: string): string[];
  malformed(): string;
  errorEvent(): string;
  whole(text: string, usage: FakeUsage | undefined, finish: string): unknown;
  error(status: number): unknown;
}

/**
 * Which wire a path speaks. Any path ending in /chat/completions is OpenAI's, so the
 * OpenAI-compatible layouts are reachable by base URL: `/openai/v1` (ours), `/v1` (vLLM, Ollama,
 * LiteLLM), `/openai/deployments/NAME` with `?api-version=` (Azure).
 */
export function routeOf(path: string): FakeProvider | undefined {
  if (path.endsWith('/chat/completions')) return 'openai';
  if (path === '/anthropic/v1/messages') return 'anthropic';
  if (path === '/dify/v1/chat-messages') return 'dify';
  return undefined;
}

export const sse = (data: unknown, event?: string): string =>
  `${event === undefined ? '' : `event: ${event}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
