// `{prefix}/console`: the admin console. Its socket subscribes to the console feed (session rows
// and live metrics pushed by the server); takeover, talk and handback go over the same socket.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { describeError } from '../lib/errors.js';
import { ChatSocket, type SocketState } from '../lib/socket.js';
import { claims } from '../lib/token.js';
import { applyReply, fromHistory, line, type Line } from '../lib/transcript.js';
import type { ServerFrame, SessionJson, TranscriptJson } from '../lib/wire.js';
import { Notice } from '../shared/Notice.js';
import { matches, NO_FILTERS, query, sorted, type Filters } from './filters.js';
import { LiveMetrics } from './LiveMetrics.js';
import { emptyBuffer, merge, type MetricsBuffer } from './metrics-buffer.js';
import { SessionPanel } from './SessionPanel.js';
import { SessionsTable } from './SessionsTable.js';
import { StatsPanel } from './StatsPanel.js';

interface Alert {
  readonly id: number;
  readonly text: string;
  readonly sessionId: string | undefined;
}

export function ConsolePage(props: { token: string }) {
  const { token } = props;
  const me = claims(token);
  const [rows, setRows] = useState<SessionJson[]>([]);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [selected, setSelected] = useState<string>();
  const [lines, setLines] = useState<Line[]>([]);
  const [holding, setHolding] = useState<string>();
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [error, setError] = useState<string>();
  const [typing, setTyping] = useState<string>();
  const [buf, setBuf] = useState<MetricsBuffer>(emptyBuffer);
  const [conn, setConn] = useState<SocketState>('connecting');
  const socket = useRef<ChatSocket | undefined>(undefined);
  const state = useRef({ filters, selected, holding, rows });
  state.current = { filters, selected, holding, rows };

  const loadTranscript = (id: string): void => {
    api<TranscriptJson>(`/sessions/${encodeURIComponent(id)}`, { token }).then(
      (t) => {
        const owner = state.current.rows.find((r) => r.id === id)?.user_id;
        // A reply streaming in is shown as it comes; the stored transcript replaces it once it is whole.
        if (state.current.selected === id) setLines((ls) => (ls.some((l) => l.streaming) ? ls : fromHistory(t.messages, owner ?? 'User')));
      },
      (e: unknown) => setError((e as Error).message),
    );
  };

  function onFrame(f: ServerFrame): void {
    const { selected: open } = state.current;
    switch (f.type) {
      case 'console_metrics':
        if (f.metrics !== undefined) {
          const m = f.metrics;
          setBuf((b) => merge(b, m));
        }
        return;
      case 'console_session': {
        const s = f.session;
        if (s === undefined) return;
        setRows((rs) => {
          const others = rs.filter((r) => r.id !== s.id);
          return matches(state.current.filters, s) ? sorted([...others, s], state.current.filters) : others;
        });
        if (s.id === open) loadTranscript(s.id);
        return;
      }
      case 'notification':
        if (f.metadata?.['kind'] === 'help_request') {
          const who = f.metadata['user_name'] ?? f.metadata['user_id'] ?? 'A user';
          setAlerts((a) => [{ id: Date.now() + Math.random(), text: `${who} asked for help`, sessionId: f.session_id }, ...a].slice(0, 5));
        }
        return;
      case 'user_message':
        if (f.session_id === open) setLines((ls) => [...ls, line('user', f.content ?? '', f.metadata?.['user_id'] ?? 'User', f.timestamp)]);
        return;
      case 'ai_response':
        if (f.session_id === open) setLines((ls) => applyReply(ls, f));
        return;
      case 'typing_indicator':
        if (f.session_id === open && f.sender === 'user') {
          setTyping('User is typing…');
          window.setTimeout(() => setTyping(undefined), 3000);
        }
        return;
      case 'admin_join':
        if (f.session_id !== undefined && f.metadata?.['admin_name'] === me.name) setHolding(f.session_id);
        return;
      case 'admin_leave':
        if (f.session_id === state.current.holding) setHolding(undefined);
        return;
      case 'error':
        setError(describeError(f.error));
        return;
      default:
        return;
    }
  }

  useEffect(() => {
    const s = new ChatSocket(token, undefined, {
      frame: onFrame,
      state: (st) => {
        setConn(st);
        if (st !== 'open') return;
        s.send({ type: 'console_subscribe' });
        const watching = state.current.selected;
        if (watching !== undefined) s.send({ type: 'console_watch', session_id: watching });
      },
    });
    socket.current = s;
    return () => s.close();
  }, [token]);

  useEffect(() => {
    api<{ sessions: SessionJson[] }>(`/admin/sessions?${query(filters)}`, { token }).then(
      (r) => setRows(r.sessions),
      (e: unknown) => setError((e as Error).message),
    );
  }, [filters, token]);

  const open = (id: string): void => {
    setSelected(id);
    state.current = { ...state.current, selected: id };
    setLines([]);
    loadTranscript(id);
    // Streams the session's frames to this socket (its replies chunk by chunk) without taking it over.
    socket.current?.send({ type: 'console_watch', session_id: id });
  };
  const takeover = (id: string): void => {
    open(id);
    if (socket.current?.send({ type: 'admin_join', session_id: id }) === true) setHolding(id);
    else setError('Not connected; try again in a moment.');
  };
  const handback = (id: string): void => {
    if (socket.current?.send({ type: 'admin_leave', session_id: id }) === true) setHolding(undefined);
    else setError('Not connected; try again in a moment.');
  };
  const talk = (text: string): boolean => {
    if (text.trim() === '' || selected === undefined) {
      setError('Type a message first.');
      return false;
    }
    if (socket.current?.send({ type: 'user_message', content: text, session_id: selected }) !== true) {
      setError('Not connected; the message was not sent.');
      return false;
    }
    setLines((ls) => [...ls, line('admin', text, me.name ?? 'Admin', new Date().toISOString())]);
    return true;
  };

  return (
    <main class="page console">
      <header class="bar">
        <h1>chatbox console</h1>
        <span class={`status status-${conn}`} role="status">
          {conn === 'open' ? `live · ${me.name ?? me.user_id ?? 'admin'}` : conn}
        </span>
      </header>
      <Notice kind="error" text={error} onClose={() => setError(undefined)} />
      {alerts.length > 0 && (
        <ul class="alerts" aria-label="Help requests">
          {alerts.map((a) => (
            <li key={a.id} role="alert">
              {a.text}
              {a.sessionId !== undefined && (
                <button type="button" class="link" onClick={() => open(a.sessionId as string)}>
                  open
                </button>
              )}
              <button type="button" class="link" aria-label="Dismiss" onClick={() => setAlerts((x) => x.filter((y) => y.id !== a.id))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="console-grid">
        <SessionsTable rows={rows} filters={filters} onFilters={setFilters} selected={selected} onOpen={open} onTakeover={takeover} onHandback={handback} />
        <SessionPanel
          session={rows.find((r) => r.id === selected)}
          lines={lines}
          holding={holding === selected && selected !== undefined}
          onSend={talk}
          onTyping={() => socket.current?.send({ type: 'typing_indicator', session_id: selected })}
          typing={typing}
        />
        <LiveMetrics buf={buf} />
        <StatsPanel token={token} onError={setError} />
      </div>
    </main>
  );
}
