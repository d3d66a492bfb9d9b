// The conversation: an ARIA `log`, so screen readers announce new lines.
import { useEffect, useRef } from 'preact/hooks';
import type { Line } from '../lib/transcript.js';

export function MessageLog(props: { lines: readonly Line[]; label: string; typing?: string | undefined; empty?: string }) {
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'end' });
  }, [props.lines, props.typing]);
  return (
    <div class="log" role="log" aria-label={props.label} aria-live="polite">
      {props.lines.length === 0 && <p class="empty">{props.empty ?? 'No messages yet.'}</p>}
      {props.lines.map((l) => (
        <div key={l.id} class={`msg msg-${l.sender}`} data-sender={l.sender} data-streaming={l.streaming ? 'true' : 'false'}>
          <span class="who">{l.who}</span>
          <span class="text">{l.text}</span>
        </div>
      ))}
      {props.typing !== undefined && (
        <p class="typing" aria-live="polite">
          {props.typing}
        </p>
      )}
      <div ref={end} />
    </div>
  );
}
