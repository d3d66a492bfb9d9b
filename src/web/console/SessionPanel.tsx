// One session opened in the console: its transcript, read live, and the admin's message box.
import type { Line } from '../lib/transcript.js';
import type { SessionJson } from '../lib/wire.js';
import { Composer } from '../chat/Composer.js';
import { MessageLog } from '../shared/MessageLog.js';

export function SessionPanel(props: { session: SessionJson | undefined; lines: readonly Line[]; holding: boolean; onSend: (text: string) => boolean; onTyping?: () => void; typing?: string | undefined }) {
  const s = props.session;
  if (s === undefined) return null;
  return (
    <section class="panel" aria-label="Open session">
      <h2>
        {s.name ?? 'Conversation'} <span class="meta">({s.user_id})</span>
      </h2>
      <MessageLog lines={props.lines} label="Transcript" typing={props.typing} />
      {props.holding ? (
        <Composer onSend={props.onSend} label="Message" {...(props.onTyping === undefined ? {} : { onTyping: props.onTyping })} />
      ) : (
        <p class="meta">Take the session over to talk to the user as the admin.</p>
      )}
    </section>
  );
}
