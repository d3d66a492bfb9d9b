// The sessions table with its filters: one row per session, kept current by pushed updates.
import type { SessionJson } from '../lib/wire.js';
import type { Filters } from './filters.js';

function Select(props: { label: string; value: string; options: readonly [string, string][]; onChange: (v: string) => void }) {
  return (
    <label>
      {props.label}{' '}
      <select value={props.value} onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}>
        {props.options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
}

export function SessionsTable(props: {
  rows: readonly SessionJson[];
  filters: Filters;
  onFilters: (f: Filters) => void;
  selected: string | undefined;
  onOpen: (id: string) => void;
  onTakeover: (id: string) => void;
  onHandback: (id: string) => void;
}) {
  const f = props.filters;
  const set = (patch: Partial<Filters>): void => props.onFilters({ ...f, ...patch });
  return (
    <section class="panel" aria-label="Sessions">
      <h2>Sessions</h2>
      <div class="filters">
        <Select label="Status" value={f.active} options={[['', 'any'], ['true', 'active'], ['false', 'ended']]} onChange={(v) => set({ active: v as Filters['active'] })} />
        <label>
          User <input value={f.user} size={10} onChange={(e) => set({ user: (e.currentTarget as HTMLInputElement).value })} />
        </label>
        <label>
          From <input type="datetime-local" value={f.from} onChange={(e) => set({ from: (e.currentTarget as HTMLInputElement).value })} />
        </label>
        <label>
          To <input type="datetime-local" value={f.to} onChange={(e) => set({ to: (e.currentTarget as HTMLInputElement).value })} />
        </label>
        <Select label="Admin-assisted" value={f.assisted} options={[['', 'any'], ['true', 'yes'], ['false', 'no']]} onChange={(v) => set({ assisted: v as Filters['assisted'] })} />
        <Select
          label="Sort"
          value={f.sort}
          options={[['started_at', 'started'], ['last_activity', 'last activity'], ['message_count', 'messages'], ['tokens', 'tokens'], ['user_id', 'user']]}
          onChange={(v) => set({ sort: v as Filters['sort'] })}
        />
        <Select label="Order" value={f.order} options={[['desc', 'descending'], ['asc', 'ascending']]} onChange={(v) => set({ order: v as Filters['order'] })} />
      </div>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Conversation</th>
              <th scope="col">Started</th>
              <th scope="col">Last activity</th>
              <th scope="col">Messages</th>
              <th scope="col">Tokens</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((s) => (
              <tr key={s.id} data-session-id={s.id} class={s.id === props.selected ? 'selected' : undefined}>
                <td>{s.user_id}</td>
                <td>
                  {s.name ?? '(no messages)'}
                  {s.help_requested && <span class="tag alert"> help asked</span>}
                </td>
                <td>{new Date(s.started_at).toLocaleTimeString()}</td>
                <td>{new Date(s.last_activity).toLocaleTimeString()}</td>
                <td>{s.message_count}</td>
                <td>{s.tokens}</td>
                <td>{s.is_active ? (s.admin_name !== null ? `with ${s.admin_name}` : 'AI') : 'ended'}</td>
                <td class="buttons">
                  <button type="button" onClick={() => props.onOpen(s.id)}>
                    Open
                  </button>
                  {s.admin_name === null ? (
                    <button type="button" disabled={!s.is_active} onClick={() => props.onTakeover(s.id)}>
                      Take over
                    </button>
                  ) : (
                    <button type="button" onClick={() => props.onHandback(s.id)}>
                      Hand back
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {props.rows.length === 0 && <p class="empty">No sessions match.</p>}
      </div>
    </section>
  );
}
