// The web app in a real browser against the real server: chat, second tab, reload, shared link,
// admin console takeover, live metrics against /metrics, and bad input.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createReplySource, loadModelConfig } from '../../src/llm/index.js';
import { eventually, startTestServer, type TestServer } from '../support/server.js';
import { buildWebApp, CHROMIUM, launch, SHOTS, watchedPage } from './support.js';

let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let removeBuild: () => void;
const contexts: BrowserContext[] = [];
let problems: string[] = [];

async function context(): Promise<BrowserContext> {
  const c = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(c);
  return c;
}

async function chatPage(c: BrowserContext, token: string): Promise<Page> {
  const page = await watchedPage(c, problems);
  await page.goto(`${server.app.url}/chatbox/?token=${token}`);
  await page.getByRole('status').filter({ hasText: 'connected' }).waitFor();
  return page;
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

const log = (page: Page) => page.getByRole('log');

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`).toBe(true);
  const build = await buildWebApp();
  removeBuild = build.remove;
  const llm = await loadModelConfig({});
  server = await startTestServer({
    webDir: build.dir,
    env: { RATE_LIMIT_PER_MINUTE: '40' },
    // The built-in demo model, slowed so a reply streams for a second or so.
    replies: (bus) => createReplySource({ config: llm, bus, demoChunkDelayMs: 40 }),
  });
  ({ browser, close: closeBrowser } = await launch());
}, 120_000);

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
  const seen = problems;
  problems = [];
  expect(seen).toEqual([]);
});

afterAll(async () => {
  await closeBrowser?.();
  await server?.stop();
  removeBuild?.();
});

describe('chat page', () => {
  it('streams a reply, shows it in a second tab, resumes on reload and shares read-only', async () => {
    const alice = await server.token('alice', { name: 'Alice' });
    const c = await context();
    const page = await chatPage(c, alice);
    expect(page.url()).not.toContain('token=');

    await send(page, 'hello there');
    // The reply streams in: first a part of it, then the whole.
    await log(page).locator('[data-sender="ai"][data-streaming="true"]').waitFor();
    await log(page).locator('[data-sender="ai"][data-streaming="false"]', { hasText: 'You said: "hello there"' }).waitFor();

    // A second tab picks the same session from the list and sees the next reply stream too.
    const second = await chatPage(c, alice);
    await second.getByRole('navigation', { name: 'Your conversations' }).getByRole('button', { name: /hello there/ }).click();
    await log(second).getByText('hello there', { exact: false }).first().waitFor();
    await send(page, 'second question');
    await log(second).locator('[data-sender="ai"]', { hasText: 'You said: "second question"' }).waitFor();
    await log(second).locator('[data-sender="user"]', { hasText: 'second question' }).waitFor();

    // Reload: same session, with its history.
    await page.reload();
    await log(page).locator('[data-sender="user"]', { hasText: 'hello there' }).waitFor();
    await log(page).locator('[data-sender="ai"]', { hasText: 'You said: "second question"' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'chat.png') });

    // The connection drops: the page reconnects (with backoff) to the same session and carries on.
    const sessionId = [...server.app.connections.all()].find((c) => c.principal.userId === 'alice' && c.sessionId !== undefined)?.sessionId;
    expect(sessionId).toBeDefined();
    for (const conn of [...server.app.connections.all()]) if (conn.principal.userId === 'alice') conn.port.terminate();
    await eventually(() => {
      const back = [...server.app.connections.all()].filter((c) => c.principal.userId === 'alice' && c.sessionId === sessionId);
      expect(back.length).toBe(2);
    }, 15_000);
    await page.getByRole('status').filter({ hasText: 'connected' }).waitFor();
    await send(page, 'after the drop');
    await log(page).locator('[data-sender="ai"]', { hasText: 'You said: "after the drop"' }).waitFor();
    expect((await server.store.listUserSessions('alice')).length).toBe(1);

    // Share: a read-only link that opens without a token in a fresh context.
    await page.getByRole('button', { name: 'Share' }).click();
    const url = await page.getByRole('textbox', { name: 'Read-only link' }).inputValue();
    expect(url).toMatch(/\/chatbox\/\?share=[A-Za-z0-9_-]{16,}$/);
    const stranger = await watchedPage(await context(), problems);
    await stranger.goto(url);
    await log(stranger).locator('[data-sender="ai"]', { hasText: 'You said: "hello there"' }).waitFor();
    await stranger.getByText('read-only').waitFor();
    expect(await stranger.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
  });

  it('explains bad input and server error frames instead of failing', async () => {
    const page = await chatPage(await context(), await server.token('mallory'));
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('alert').filter({ hasText: 'Type a message first.' }).waitFor();
    await send(page, 'x'.repeat(70_000));
    await page.getByRole('alert').filter({ hasText: 'too long' }).waitFor();
    // Past the per-user frame limit the server answers RATE_LIMITED: the page says when to retry.
    for (let i = 0; i < 45; i++) {
      await send(page, `spam ${i}`);
      if ((await page.getByRole('alert').filter({ hasText: 'too fast' }).count()) > 0) break;
    }
    await page.getByRole('alert').filter({ hasText: /too fast\. Try again in \d+ seconds?\./ }).waitFor();
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
  });
});

describe('layout and embedding', () => {
  it('fits a phone screen', async () => {
    const c = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    contexts.push(c);
    const page = await chatPage(c, await server.token('pia'));
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    for (const control of [page.getByRole('textbox', { name: 'Message' }), page.getByRole('button', { name: 'Send' })]) {
      const box = await control.boundingBox();
      expect(box !== null && box.x >= 0 && box.x + box.width <= 390).toBe(true);
    }
    await send(page, 'small screen');
    await log(page).locator('[data-sender="ai"]', { hasText: 'small screen' }).waitFor();
  });

  it('takes its token from the embedding page by postMessage', async () => {
    const parent = await watchedPage(await context(), problems);
    // An embedding page of this origin (frame-ancestors allows 'self' and CORS_ORIGINS).
    await parent.route(`${server.app.url}/embed.html`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><iframe src="/chatbox/" width="700" height="600"></iframe>' }),
    );
    await parent.goto(`${server.app.url}/embed.html`);
    const frame = parent.frameLocator('iframe');
    await frame.getByRole('alert').filter({ hasText: 'No sign-in token' }).waitFor();
    const message = JSON.stringify({ type: 'chatbox_token', token: await server.token('emma') });
    await parent.evaluate(`document.querySelector('iframe').contentWindow.postMessage(${message}, '*')`);
    await frame.getByRole('status').filter({ hasText: 'connected' }).waitFor();
    await frame.getByRole('textbox', { name: 'Message' }).fill('from the widget');
    await frame.getByRole('button', { name: 'Send' }).click();
    await frame.getByRole('log').locator('[data-sender="ai"]', { hasText: 'from the widget' }).waitFor();
  });
});

describe('admin console', () => {
  it('sees a session appear live, takes it over, talks, hands back, and the AI answers again', async () => {
    const admin = await watchedPage(await context(), problems);
    await admin.goto(`${server.app.url}/chatbox/console?token=${await server.token('root', { admin: true, name: 'Rita' })}`);
    await admin.getByRole('status').filter({ hasText: 'live' }).waitFor();

    const user = await chatPage(await context(), await server.token('bob', { name: 'Bob' }));
    await send(user, 'I need a human');
    await log(user).locator('[data-sender="ai"][data-streaming="false"]').waitFor();
    // Pushed to the console (it loaded before bob's session existed).
    const row = admin.getByRole('row').filter({ hasText: 'bob' });
    await row.waitFor();
    await user.getByRole('button', { name: 'Ask a person' }).click();
    await admin.getByRole('alert').filter({ hasText: 'Bob asked for help' }).waitFor();

    await row.getByRole('button', { name: 'Take over' }).click();
    await user.getByText('Rita (a person) joined the conversation.').waitFor();
    await row.getByRole('button', { name: 'Hand back' }).waitFor();
    await admin.getByRole('region', { name: 'Open session' }).getByRole('textbox', { name: 'Message' }).fill('Hi Bob, Rita here.');
    await user.getByText('Admin is typing…').waitFor();
    await admin.getByRole('region', { name: 'Open session' }).getByRole('button', { name: 'Send' }).click();
    await log(user).locator('[data-sender="admin"]', { hasText: 'Hi Bob, Rita here.' }).waitFor();
    await send(user, 'thanks Rita');
    await admin.getByRole('log', { name: 'Transcript' }).getByText('thanks Rita').waitFor();
    await admin.getByRole('region', { name: 'Stats' }).getByText('Avg response').waitFor();
    await admin.screenshot({ path: join(SHOTS, 'console.png'), fullPage: true });

    await row.getByRole('button', { name: 'Hand back' }).click();
    await user.getByText('Rita left; the AI answers again.').waitFor();
    await send(user, 'back to the bot');
    await log(user).locator('[data-sender="ai"]', { hasText: 'You said: "back to the bot"' }).waitFor();
    await row.getByRole('button', { name: 'Take over' }).waitFor();
  });

  it('shows the same connection and session counts in Live metrics as /metrics', async () => {
    const admin = await watchedPage(await context(), problems);
    await admin.goto(`${server.app.url}/chatbox/console?token=${await server.token('root2', { admin: true })}`);
    const user = await chatPage(await context(), await server.token('carol'));
    await send(user, 'count me');
    await log(user).locator('[data-sender="ai"][data-streaming="false"]').waitFor();
    const region = admin.getByRole('region', { name: 'Live metrics' });
    const figure = async (label: string): Promise<number> => Number(await region.getByLabel(label, { exact: true }).innerText());
    // The console is pushed every 2 s; poll until it shows what a scrape shows at that moment.
    const agree = async (): Promise<boolean> => {
      const [conns, sessions] = [await server.metric('chatbox_websocket_connections_total'), await server.metric('chatbox_active_sessions_total')];
      return (await figure('Connections')) === conns && (await figure('Active sessions')) === sessions && conns >= 2 && sessions >= 1;
    };
    const deadline = Date.now() + 15_000;
    let ok = await agree();
    while (!ok && Date.now() < deadline) {
      await admin.waitForTimeout(250);
      ok = await agree();
    }
    expect(ok).toBe(true);
    // The charts are drawn (uPlot canvases), one per series group.
    expect(await region.locator('canvas').count()).toBeGreaterThanOrEqual(4);
  });
});
