// The message box: Enter sends, Shift+Enter is a new line; typing tells the other side.
import { useRef, useState } from 'preact/hooks';

export function Composer(props: { onSend: (text: string) => boolean; onTyping?: () => void; disabled?: boolean; label?: string }) {
  const [text, setText] = useState('');
  const lastTyping = useRef(0);
  const submit = (event?: Event): void => {
    event?.preventDefault();
    if (props.onSend(text)) setText('');
  };
  return (
    <form class="composer" onSubmit={submit}>
      <label for="message-box" class="sr-only">
        {props.label ?? 'Message'}
      </label>
      <textarea
        id="message-box"
        rows={2}
        value={text}
        placeholder="Type a message"
        disabled={props.disabled}
        onInput={(e) => {
          setText((e.currentTarget as HTMLTextAreaElement).value);
          const now = Date.now();
          if (props.onTyping !== undefined && now - lastTyping.current > 2000) {
            lastTyping.current = now;
            props.onTyping();
          }
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) submit(e);
        }}
      />
      <button type="submit" disabled={props.disabled}>
        Send
      </button>
    </form>
  );
}
