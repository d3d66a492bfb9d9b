// The web app served by the server itself, on both transports: content types, caching by hash,
// precompressed gzip/brotli per Accept-Encoding, and the security headers on every answer.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeReplies } from '../support/fake-replies.js';
import { startTestServer, type TestServer } from '../support/server.js';

let dir: string;
const script = `console.log(${JSON.stringify('x'.repeat(2000))});\n`;
const html = `<!doctype html><html><head><script type="module" src="./assets/index-AbC123.js"></script></head><body>${'<p>chatbox</p>'.repeat(40)}</body></html>`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chatbox-static-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), html);
  writeFileSync(join(dir, 'assets', 'index-AbC123.js'), script);
  writeFileSync(join(dir, 'assets', 'index-AbC123.css'), 'body{margin:0}');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A raw GET (fetch would decode the body and hide the encoding). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function expectSecurityHeaders(h: Record<string, string | string[] | undefined>, ancestors = "'self'"): void {
  const csp = String(h['content-security-policy']);
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).toContain(`frame-ancestors ${ancestors}`);
  expect(h['x-content-type-options']).toBe('nosniff');
  expect(h['referrer-policy']).toBe('no-referrer');
}

describe.each(['uws', 'ws'] as const)('web app over %s', (transport) => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  const start = async (env: Record<string, string> = {}) => (server = await startTestServer({ transport, env, webDir: dir, replies: () => fakeReplies() }));

  it('serves the pages uncached and the hashed assets for a year, compressed as the client accepts', async () => {
    const s = await start();
    for (const path of ['/chatbox/', '/chatbox/console']) {
      const page = await get(`${s.app.url}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(page.body.toString()).toBe(html);
      expectSecurityHeaders(page.headers);
    }
    const url = `${s.app.url}/chatbox/assets/index-AbC123.js`;
    const br = await get(url, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers['vary']).toBe('Accept-Encoding');
    expect(brotliDecompressSync(br.body).toString()).toBe(script);
    const gz = await get(url, { 'accept-encoding': 'gzip, br;q=0' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(script);
    const plain = await get(url);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(script);
    expect((await get(`${s.app.url}/chatbox/assets/index-AbC123.css`)).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get(`${s.app.url}/chatbox/favicon.svg`)).headers['content-type']).toBe('image/svg+xml');
    const head = await get(url, { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(gz.body.length);
    const redirect = await get(`${s.app.url}/chatbox?share=abc`);
    expect(redirect.status).toBe(308);
    expect(redirect.headers['location']).toBe('/chatbox/?share=abc');
  });

  it('puts the security headers on API answers, errors and /metrics too', async () => {
    const s = await start();
    for (const path of ['/chatbox/assets/missing.js', '/chatbox/sessions', '/nowhere', '/metrics', '/chatbox/healthz']) {
      const res = await get(`${s.app.url}${path}`);
      expectSecurityHeaders(res.headers);
    }
    expect((await get(`${s.app.url}/chatbox/assets/missing.js`)).status).toBe(404);
  });

  it('lets the CORS_ORIGINS sites embed the pages', async () => {
    const s = await start({ CORS_ORIGINS: 'https://shop.example, https://help.example' });
    const page = await get(`${s.app.url}/chatbox/`);
    expectSecurityHeaders(page.headers, "'self' https://shop.example https://help.example");
    expect(page.headers['x-frame-options']).toBeUndefined();
  });

  it('says so when the web app is not built', async () => {
    server = await startTestServer({ transport, webDir: join(dir, 'nothing-here'), replies: () => fakeReplies() });
    const page = await get(`${server.app.url}/chatbox/`);
    expect(page.status).toBe(503);
    expect(JSON.parse(page.body.toString()).error.message).toContain('npm run build');
  });
});
