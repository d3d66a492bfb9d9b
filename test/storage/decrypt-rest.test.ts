// A read that cannot decrypt, seen from REST: a 500 whose JSON names CHATBOX_ERR_DECRYPT (not a
// bare INTERNAL), and the store reports it to the hook the app logs through.
import { afterAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth/jwt.js';
import { createRouter, type HttpRequest } from '../../src/http/routes.js';
import { sessionRoutes } from '../../src/http/session-routes.js';
import { createSqlStore } from '../../src/storage/sql/sql-store.js';
import { KEY_A, KEY_B, shared, sqliteDriverForRun, uniqueId } from './support.js';

const run = await sqliteDriverForRun();
afterAll(() => run.cleanup());
const auth = createAuthenticator('decrypt-rest-secret-that-is-long-enough-0123456789');

describe('REST over content it cannot decrypt', () => {
  it('answers 500 CHATBOX_ERR_DECRYPT and reports the error', async () => {
    const writer = createSqlStore(shared(run.driver), { instanceId: uniqueId('i'), encryptionKey: KEY_A });
    await writer.init();
    const s = await writer.createSession({ userId: 'dana', modelId: 'm' });
    await writer.appendMessage(s.id, { sender: 'user', content: 'secret' });
    const logged: string[] = [];
    // A store with another key that skipped the start check (as data altered after start would).
    const reader = createSqlStore(shared(run.driver), { instanceId: uniqueId('i'), encryptionKey: KEY_B, onDecryptError: (e) => logged.push(e.code) });
    const router = createRouter(sessionRoutes({ prefix: '/chatbox', store: reader, auth, onSessionEnded: () => undefined }));
    const token = await auth.mint({ userId: 'dana', roles: ['user'] });
    const path = `/chatbox/sessions/${s.id}`;
    const matched = router.match('GET', path);
    if ('status' in matched) throw new Error('route not found');
    const req: HttpRequest = {
      method: 'GET',
      path,
      query: new URLSearchParams(),
      header: (name) => (name === 'authorization' ? `Bearer ${token}` : undefined),
      params: matched.params,
      body: '',
      remoteAddress: '127.0.0.1',
    };
    const reply = await matched.handler(req);
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'CHATBOX_ERR_DECRYPT' } });
    expect(logged.length).toBeGreaterThanOrEqual(1);
    expect(new Set(logged)).toEqual(new Set(['CHATBOX_ERR_DECRYPT']));
  });
});
