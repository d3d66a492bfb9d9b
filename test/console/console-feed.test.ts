// The console feed over the chat socket: admins only; live metrics on subscribe and every couple
// of seconds; a session's row pushed when it starts, gets messages, changes hands or ends.
import { afterEach, describe, expect, it } from 'vitest';
import { fakeReplies } from '../support/fake-replies.js';
import { startTestServer, type TestServer } from '../support/server.js';
import type { Frame } from '../support/ws-client.js';

interface ConsoleFrame extends Frame {
  readonly session?: Record<string, unknown>;
  readonly metrics?: { points: { t: number[] }; current: { connections: number } };
}

describe.each(['uws', 'ws'] as const)('console feed over %s', (transport) => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('refuses a user, and pushes metrics and session rows to an admin', async () => {
    const s = (server = await startTestServer({ transport, replies: () => fakeReplies() }));
    const user = await s.connect(await s.token('uma', { name: 'Uma' }));
    user.send({ type: 'console_subscribe' });
    expect((await user.next((f) => f.type === 'error')).error?.code).toBe('FORBIDDEN');

    const admin = await s.connect(await s.token('root', { admin: true, name: 'Rita' }));
    admin.send({ type: 'console_subscribe' });
    const first = (await admin.next((f) => f.type === 'console_metrics')) as ConsoleFrame;
    expect(first.metrics?.current.connections).toBe(2);

    user.send({ type: 'user_message', content: 'hello console' });
    await user.reply();
    const row = (await admin.next((f) => f.type === 'console_session' && (f as ConsoleFrame).session?.['message_count'] === 2)) as ConsoleFrame;
    expect(row.session).toMatchObject({ user_id: 'uma', name: 'hello console', is_active: true, admin_name: null });
    const id = row.session_id as string;

    admin.send({ type: 'admin_join', session_id: id });
    await admin.next((f) => f.type === 'console_session' && (f as ConsoleFrame).session?.['admin_name'] === 'Rita');
    const mark = admin.frames.length;
    admin.send({ type: 'admin_leave', session_id: id });
    await admin.next((f) => f.type === 'console_session' && (f as ConsoleFrame).session?.['admin_name'] === null, { from: mark });
    user.send({ type: 'help_request' });
    await admin.next((f) => f.type === 'console_session' && (f as ConsoleFrame).session?.['help_requested'] === true);
    // Watching streams the session's frames without taking it over; users may not watch.
    user.send({ type: 'console_watch', session_id: id });
    expect((await user.next((f) => f.type === 'error' && f.error?.message.includes('watch') === true)).error?.code).toBe('FORBIDDEN');
    const sync = admin.frames.length;
    admin.send({ type: 'console_watch', session_id: id });
    // Frames of one socket are handled in order: this answer means the watch is in place.
    admin.send({ type: 'model_select', model_id: 'fake-1' });
    await admin.next((f) => f.type === 'connection_status', { from: sync });
    const before = admin.frames.length;
    const userMark = user.frames.length;
    user.send({ type: 'user_message', content: 'stream it' });
    await user.reply({ from: userMark });
    const chunk = await admin.next((f) => f.type === 'ai_response' && f.session_id === id && f.metadata?.['done'] === 'false', { from: before });
    expect(chunk.sender).toBe('ai');
    // The periodic push carries the newest seconds.
    const later = (await admin.next((f) => f.type === 'console_metrics', { from: admin.frames.indexOf(first) + 1, timeoutMs: 5000 })) as ConsoleFrame;
    expect(later.metrics?.points.t.length).toBeGreaterThan(0);
  });
});
