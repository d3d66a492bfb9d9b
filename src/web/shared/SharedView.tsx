// `{prefix}/?share=<token>`: a shared conversation, read-only, no sign-in.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../lib/api.js';
import { fromHistory, type Line } from '../lib/transcript.js';
import type { TranscriptJson } from '../lib/wire.js';
import { MessageLog } from './MessageLog.js';
import { Notice } from './Notice.js';

export function SharedView(props: { token: string }) {
  const [lines, setLines] = useState<Line[]>([]);
  const [title, setTitle] = useState('Shared conversation');
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<TranscriptJson>(`/shared/${encodeURIComponent(props.token)}`).then(
      (t) => {
        setLines(fromHistory(t.messages));
        setTitle(t.name ?? 'Shared conversation');
      },
      (e: unknown) => setError(e instanceof ApiError && e.status === 404 ? 'This link does not exist or was revoked.' : String((e as Error).message)),
    );
  }, [props.token]);
  return (
    <main class="page shared">
      <header class="bar">
        <h1>{title}</h1>
        <span class="tag">read-only</span>
      </header>
      <Notice kind="error" text={error} />
      <MessageLog lines={lines} label="Conversation" empty={error === undefined ? 'Loading…' : ''} />
    </main>
  );
}
