// kill -9 in the middle of a conversation: the real server (src/main.ts) on the embedded store,
// restarted on the same data. Every acknowledged user message and every completed reply is
// there, and the sessions gauge agrees with the store from the first scrape.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../../bench/load/server-process.js';
import { parseExposition } from '../support/exposition.js';
import { connectClient } from '../support/ws-client.js';

const SECRET = 'crash-secret-crash-secret-crash-secret-0123456789';
const dataDir = mkdtempSync(join(tmpdir(), 'chatbox-crash-'));
const env = { JWT_SECRET: SECRET, DATA_DIR: dataDir, STORE: 'sqlite', INSTANCE_ID: 'crash-test', LOG_LEVEL: 'warn' };
const running: ServerProcess[] = [];

const mint = (userId: string, roles: string[]) =>
  new SignJWT({ user_id: userId, roles }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

afterAll(async () => {
  for (const s of running) await s.stop(2000);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('crash and restart on the embedded store', () => {
  it('keeps every acknowledged message and completed reply, and the gauges agree with the store', async () => {
    const first = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
    running.push(first);
    const token = await mint('carla', ['user']);
    const client = await connectClient(`${first.wsUrl}?token=${token}`);
    const replies: string[] = [];
    for (const text of ['first', 'second', 'third']) {
      const from = client.frames.length;
      client.send({ type: 'user_message', content: text });
      replies.push(await client.reply({ from, timeoutMs: 15_000 }));
    }
    const sessionId = client.frames.find((f) => f.session_id !== undefined)?.session_id as string;
    // A fourth message is acknowledged (`loading` means it is stored), then the process dies
    // before the reply completes.
    const from = client.frames.length;
    client.send({ type: 'user_message', content: 'fourth, cut short' });
    await client.next((f) => f.type === 'loading', { from, timeoutMs: 10_000 });
    first.child.kill('SIGKILL');
    await first.exited;
    client.terminate();

    const second = await startServerProcess({ ...env, LOG_LEVEL: 'info' });
    running.push(second);
    const x = parseExposition(await (await fetch(`${second.url}/metrics`)).text());
    const admin = await mint('auditor', ['admin']);
    const open = (await (await fetch(`${second.url}/chatbox/admin/sessions?active=true`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
      sessions: unknown[];
    };
    // Policy: sessions this instance had open when it died are ended (reason shutdown) at start.
    expect(x.value('chatbox_active_sessions_total')).toBe(0);
    expect(open.sessions).toHaveLength(0);
    expect(x.value('chatbox_websocket_connections_total')).toBe(0);

    const res = await fetch(`${second.url}/chatbox/sessions/${sessionId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const stored = (await res.json()) as { is_active: boolean; messages: { sender: string; content: string }[] };
    expect(stored.is_active).toBe(false);
    const user = stored.messages.filter((m) => m.sender === 'user').map((m) => m.content);
    const ai = stored.messages.filter((m) => m.sender === 'ai').map((m) => m.content);
    expect(user).toEqual(['first', 'second', 'third', 'fourth, cut short']);
    expect(ai.slice(0, 3)).toEqual(replies);

    // The user comes back to the same session: it reopens with its history.
    const again = await connectClient(`${second.wsUrl}?token=${token}&session_id=${sessionId}`);
    expect((await again.next((f) => f.type === 'connection_status')).session_id).toBe(sessionId);
    again.send({ type: 'user_message', content: 'back again' });
    await again.reply({ timeoutMs: 15_000 });
    const after = parseExposition(await (await fetch(`${second.url}/metrics`)).text());
    expect(after.value('chatbox_active_sessions_total')).toBe(1);
    const reopened = (await (await fetch(`${second.url}/chatbox/sessions/${sessionId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      is_active: boolean;
      messages: unknown[];
    };
    expect(reopened.is_active).toBe(true);
    expect(reopened.messages.length).toBeGreaterThanOrEqual(9);
    again.terminate();

    // A graceful stop ends the session and exits 0 with the gauges at 0.
    expect(await second.stop()).toBe(0);
    running.length = 0;
  }, 90_000);
});
