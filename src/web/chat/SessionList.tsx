// The user's sessions: resume any, or start a new one.
import type { SessionJson } from '../lib/wire.js';

export function SessionList(props: { sessions: readonly SessionJson[]; current: string | undefined; onPick: (id: string) => void; onNew: () => void }) {
  return (
    <nav class="sessions" aria-label="Your conversations">
      <button type="button" onClick={props.onNew}>
        New chat
      </button>
      <ul>
        {props.sessions.map((s) => (
          <li key={s.id}>
            <button
              type="button"
              class={s.id === props.current ? 'session current' : 'session'}
              aria-current={s.id === props.current ? 'true' : undefined}
              onClick={() => props.onPick(s.id)}
            >
              <span class="name">{s.name ?? 'New conversation'}</span>
              <span class="meta">
                {new Date(s.started_at).toLocaleString()} · {s.message_count} messages{s.is_active ? '' : ' · ended'}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
