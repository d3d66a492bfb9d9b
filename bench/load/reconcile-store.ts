// The store against what the clients sent: this run's sessions and messages, counted through the
// admin REST API as an auditor would, must be every one the users and admins sent.

const PREFIX = '/chatbox';

/** This run's stored sessions (those with a user message) and their messages by sender. */
export interface StoredCounts {
  readonly sessions: number;
  readonly user: number;
  readonly admin: number;
}

/** A JSON answer of the REST API; a refusal or an error fails the audit with what the server said. */
async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  const res = await fetch(url, { headers });
  if (!res.ok) throw new Error(`store audit: GET ${new URL(url).pathname} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

/** Counts stored sessions and messages through the admin REST API, as an auditor would. */
export async function countStored(url: string, adminToken: string, userPrefix: string): Promise<StoredCounts> {
  const headers = { authorization: `Bearer ${adminToken}` };
  let cursor: string | null = null;
  let sessions = 0;
  let user = 0;
  let admin = 0;
  do {
    const q = new URLSearchParams({ limit: '100' });
    if (cursor !== null) q.set('cursor', cursor);
    const page = (await getJson(`${url}${PREFIX}/admin/sessions?${q.toString()}`, headers)) as {
      sessions: { id: string; user_id?: string }[];
      next_cursor: string | null;
    };
    for (const s of page.sessions) {
      if (s.user_id?.startsWith(userPrefix) !== true) continue;
      const detail = (await getJson(`${url}${PREFIX}/sessions/${s.id}`, headers)) as { messages: { sender: string }[] };
      if (!detail.messages.some((m) => m.sender === 'user')) continue;
      sessions++;
      for (const m of detail.messages) {
        if (m.sender === 'user') user++;
        else if (m.sender === 'admin') admin++;
      }
    }
    cursor = page.next_cursor;
  } while (cursor !== null);
  return { sessions, user, admin };
}

/** The mismatches between the store and what the clients sent (none when they agree). */
export function reconcileStore(stored: StoredCounts, sent: StoredCounts): string[] {
  const mismatches: string[] = [];
  const expectStored = (what: string, actual: number, expected: number): void => {
    if (actual !== expected) mismatches.push(`stored ${what}: the store has ${actual}, clients sent ${expected}`);
  };
  expectStored('user messages', stored.user, sent.user);
  expectStored('admin messages', stored.admin, sent.admin);
  expectStored('sessions', stored.sessions, sent.sessions);
  return mismatches;
}
