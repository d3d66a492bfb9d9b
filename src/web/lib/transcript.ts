// A conversation as the page shows it, built from history messages and live frames alike.
import type { MessageJson, ServerFrame } from './wire.js';

export interface Line {
  readonly id: number;
  readonly sender: 'user' | 'ai' | 'admin' | 'system';
  text: string;
  readonly who: string;
  streaming: boolean;
  readonly at: string;
}

let nextId = 1;

export function line(sender: Line['sender'], text: string, who: string, at: string, streaming = false): Line {
  return { id: nextId++, sender, text, who, streaming, at };
}

export function whoOf(sender: Line['sender'], metadata: Readonly<Record<string, string>> | undefined): string {
  if (sender === 'admin') return metadata?.['admin_name'] ?? 'Admin';
  if (sender === 'ai') return 'AI';
  if (sender === 'user') return metadata?.['user_name'] ?? 'You';
  return 'chatbox';
}

/** `user` names the user's lines (the console shows whose they are; the chat says "You"). */
export function fromHistory(messages: readonly MessageJson[], user?: string): Line[] {
  return messages.map((m) => line(m.sender, m.content, m.sender === 'user' && user !== undefined ? user : whoOf(m.sender, m.metadata), m.timestamp));
}

/** Applies a streamed `ai_response` chunk (or a whole admin reply); returns the new list. */
export function applyReply(lines: readonly Line[], frame: ServerFrame): Line[] {
  const out = [...lines];
  const last = out[out.length - 1];
  const done = frame.metadata?.['done'] !== 'false';
  const text = frame.content ?? '';
  if (last !== undefined && last.streaming && last.sender === frame.sender) {
    out[out.length - 1] = { ...last, text: last.text + text, streaming: !done };
    return out;
  }
  if (text === '' && done) return out;
  out.push(line(frame.sender, text, whoOf(frame.sender, frame.metadata), frame.timestamp, !done));
  return out;
}
