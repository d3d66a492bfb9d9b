// `{prefix}/`: the chat. One socket (resumed on reconnect), the user's sessions, streamed replies.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { checkMessage, describeError } from '../lib/errors.js';
import { ChatSocket, type SocketState } from '../lib/socket.js';
import { claims } from '../lib/token.js';
import { applyReply, fromHistory, line, type Line } from '../lib/transcript.js';
import type { ServerFrame, SessionJson, TranscriptJson } from '../lib/wire.js';
import { MessageLog } from '../shared/MessageLog.js';
import { Notice } from '../shared/Notice.js';
import { Composer } from './Composer.js';
import { SessionList } from './SessionList.js';

const SESSION_KEY = 'chatbox_session';

export function ChatPage(props: { token: string }) {
  const { token } = props;
  const me = claims(token);
  const [sessionId, setSessionId] = useState<string>(() => sessionStorage.getItem(SESSION_KEY) ?? crypto.randomUUID());
  const [lines, setLines] = useState<Line[]>([]);
  const [sessions, setSessions] = useState<SessionJson[]>([]);
  const [models, setModels] = useState<readonly { id: string; name: string }[]>([]);
  const [modelId, setModelId] = useState<string>();
  const [conn, setConn] = useState<{ state: SocketState; detail?: string | undefined }>({ state: 'connecting' });
  const [error, setError] = useState<string>();
  const [banner, setBanner] = useState<string>();
  const [typing, setTyping] = useState<string>();
  const [share, setShare] = useState<string>();
  const socket = useRef<ChatSocket | undefined>(undefined);
  const waiting = useRef(false);
  const current = useRef(sessionId);
  current.current = sessionId;

  const loadSessions = (): Promise<SessionJson[]> =>
    api<{ sessions: SessionJson[] }>('/sessions', { token }).then(
      (r) => {
        setSessions(r.sessions);
        return r.sessions;
      },
      (e: unknown) => {
        setError((e as Error).message);
        return [];
      },
    );
  const loadHistory = (id: string): void => {
    // A fresh id has no history yet: only sessions the server lists are asked for.
    loadSessions().then((list) => {
      if (!list.some((s) => s.id === id)) return;
      api<TranscriptJson>(`/sessions/${encodeURIComponent(id)}`, { token }).then(
        (t) => {
          if (current.current === id) setLines(fromHistory(t.messages));
        },
        (e: unknown) => setError((e as Error).message),
      );
    });
  };

  function onFrame(f: ServerFrame): void {
    if (f.session_id !== undefined && f.session_id !== current.current && f.type !== 'connection_status') return;
    switch (f.type) {
      case 'connection_status':
        if (f.models !== undefined) setModels(f.models);
        if (f.model_id !== undefined) setModelId(f.model_id);
        if (f.metadata?.['session_ended'] !== undefined) setBanner('This conversation ended. Send a message to continue it.');
        return;
      case 'loading':
        setTyping('AI is typing…');
        return;
      case 'ai_response':
        setTyping(undefined);
        setLines((ls) => applyReply(ls, f));
        if (f.metadata?.['done'] !== 'false') {
          // Another tab asked: fetch the question we never saw, with the answer.
          if (!waiting.current) loadHistory(current.current);
          else void loadSessions();
          waiting.current = false;
        }
        return;
      case 'user_message':
        setLines((ls) => [...ls, line('user', f.content ?? '', 'You', f.timestamp)]);
        return;
      case 'admin_join':
        setTyping(undefined);
        setBanner(`${f.metadata?.['admin_name'] ?? 'An admin'} (a person) joined the conversation.`);
        return;
      case 'admin_leave':
        setBanner(`${f.metadata?.['admin_name'] ?? 'The admin'} left; the AI answers again.`);
        return;
      case 'typing_indicator':
        setTyping(f.sender === 'admin' ? 'Admin is typing…' : 'Typing…');
        window.setTimeout(() => setTyping((t) => (t === 'AI is typing…' ? t : undefined)), 3000);
        return;
      case 'notification':
        if (f.content !== undefined) setBanner(f.content);
        return;
      case 'error':
        setTyping(undefined);
        waiting.current = false;
        setError(describeError(f.error));
        return;
      default:
        return;
    }
  }

  useEffect(() => {
    const s = new ChatSocket(token, sessionId, {
      frame: onFrame,
      state: (state, detail) => setConn({ state, detail }),
    });
    socket.current = s;
    return () => s.close();
  }, [token]);

  useEffect(() => {
    sessionStorage.setItem(SESSION_KEY, sessionId);
    setLines([]);
    setShare(undefined);
    setBanner(undefined);
    loadHistory(sessionId);
  }, [sessionId]);

  const switchTo = (id: string): void => {
    setSessionId(id);
    socket.current?.switchTo(id);
  };

  const send = (text: string): boolean => {
    const problem = checkMessage(text);
    if (problem !== undefined) {
      setError(problem);
      return false;
    }
    const frame: Record<string, unknown> = { type: 'user_message', content: text, session_id: sessionId };
    if (modelId !== undefined) frame['model_id'] = modelId;
    if (socket.current?.send(frame) !== true) {
      setError('Not connected yet; your message was not sent. Try again when the status says connected.');
      return false;
    }
    setError(undefined);
    waiting.current = true;
    setLines((ls) => [...ls, line('user', text, me.name ?? 'You', new Date().toISOString())]);
    return true;
  };

  const makeShare = (): void => {
    api<{ url: string }>(`/sessions/${encodeURIComponent(sessionId)}/share`, { token, method: 'POST' }).then(
      (r) => setShare(r.url),
      (e: unknown) => setError(`Cannot share yet: ${(e as Error).message}. Send a message first.`),
    );
  };

  const status = conn.state === 'open' ? 'connected' : conn.state === 'connecting' ? 'connecting…' : (conn.detail ?? conn.state);
  return (
    <main class="page chat">
      <header class="bar">
        <h1>chatbox</h1>
        <span class={`status status-${conn.state}`} role="status">
          {status}
        </span>
        <label class="model">
          Model{' '}
          <select
            value={modelId}
            onChange={(e) => {
              const id = (e.currentTarget as HTMLSelectElement).value;
              setModelId(id);
              socket.current?.send({ type: 'model_select', model_id: id });
            }}
          >
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
      </header>
      <div class="layout">
        <SessionList sessions={sessions} current={sessionId} onPick={switchTo} onNew={() => switchTo(crypto.randomUUID())} />
        <section class="conversation" aria-label="Conversation">
          <Notice kind="banner" text={banner} onClose={() => setBanner(undefined)} />
          <MessageLog lines={lines} label="Messages" typing={typing} empty="Say hello to start." />
          <Notice kind="error" text={error} onClose={() => setError(undefined)} />
          <Composer onSend={send} onTyping={() => socket.current?.send({ type: 'typing_indicator', session_id: sessionId })} />
          <div class="actions">
            <button
              type="button"
              onClick={() => {
                if (socket.current?.send({ type: 'help_request', session_id: sessionId }) === true) setBanner('A person has been asked to help.');
                else setError('Not connected; the help request was not sent.');
              }}
            >
              Ask a person
            </button>
            <button type="button" onClick={makeShare}>
              Share
            </button>
          </div>
          {share !== undefined && (
            <p class="share">
              <label>
                Read-only link <input readOnly value={share} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
              </label>
            </p>
          )}
        </section>
      </div>
    </main>
  );
}
