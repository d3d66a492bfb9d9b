// Browser tests: the web app built by Vite into a temporary folder, served by a real server on
// 127.0.0.1, driven through Debian's Chromium by playwright-core. Any page error or console
// error fails the test that caused it.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Git-ignored; one of each is copied to docs/ by hand for the README. */
export const SHOTS = join(ROOT, 'test-results', 'web');

/** Builds src/web into a fresh folder (so a build elsewhere never races a running test). */
export async function buildWebApp(): Promise<{ dir: string; remove: () => void }> {
  const { build } = await import('vite');
  const dir = mkdtempSync(join(tmpdir(), 'chatbox-web-'));
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'error', build: { outDir: dir, emptyOutDir: true } });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function launch(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  // Playwright gives a non-persistent launch a fresh temporary profile (user-data dir) of its
  // own, removed on close; the flag itself is refused here.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(SHOTS, { recursive: true });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

/** A page whose uncaught errors and console errors are collected into `problems`. */
export async function watchedPage(context: BrowserContext, problems: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  return page;
}
