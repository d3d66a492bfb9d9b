// The web app built by Vite (dist/web), served by the server itself: read and compressed (gzip
// and brotli) once at start, then answered from memory. Hashed assets are cached for a year;
// the HTML never, so a deploy is picked up on the next load.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { jsonError, type HttpReply, type HttpRequest, type Route } from './routes.js';

/** dist/web beside dist/ (from src/http in development, from dist/http when built). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.map', '.txt']);
const IMMUTABLE = 'public, max-age=31536000, immutable';

interface Asset {
  readonly type: string;
  readonly cache: string;
  readonly raw: Buffer;
  readonly gzip?: Buffer;
  readonly br?: Buffer;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else out.push(path);
  }
  return out;
}

function load(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const path of files(dir)) {
    const rel = relative(dir, path).split('\\').join('/');
    const ext = extname(rel);
    const raw = readFileSync(path);
    const compress = COMPRESSIBLE.has(ext) && raw.length > 256;
    assets.set(rel, {
      type: TYPES[ext] ?? 'application/octet-stream',
      // Vite names everything under assets/ by content hash.
      cache: rel.startsWith('assets/') ? IMMUTABLE : 'no-cache',
      raw,
      ...(compress
        ? {
            gzip: gzipSync(raw, { level: 9 }),
            br: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
          }
        : {}),
    });
  }
  return assets;
}

/** The encodings the client accepts (q=0 refuses one). */
function accepts(header: string | undefined, coding: string): boolean {
  if (header === undefined) return false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name?.trim().toLowerCase() !== coding) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

function reply(asset: Asset, req: HttpRequest): HttpReply {
  const ae = req.header('accept-encoding');
  const [bytes, encoding] =
    asset.br !== undefined && accepts(ae, 'br')
      ? [asset.br, 'br']
      : asset.gzip !== undefined && accepts(ae, 'gzip')
        ? [asset.gzip, 'gzip']
        : [asset.raw, undefined];
  const headers: Record<string, string> = { 'content-type': asset.type, 'cache-control': asset.cache };
  if (asset.gzip !== undefined) headers['vary'] = 'Accept-Encoding';
  if (encoding !== undefined) headers['content-encoding'] = encoding;
  return { status: 200, headers, body: '', bytes };
}

export interface WebAppRoutes {
  readonly routes: Route[];
  /** False when the web app was not built (its pages answer 503 saying so). */
  readonly built: boolean;
}

export function webAppRoutes(options: { prefix: string; dir?: string }): WebAppRoutes {
  const p = options.prefix;
  const dir = options.dir ?? DEFAULT_WEB_DIR;
  let assets = new Map<string, Asset>();
  try {
    if (existsSync(join(dir, 'index.html'))) assets = load(dir);
  } catch {
    // A build running at this moment (files vanishing under us): serve the "not built" page.
  }
  const index = assets.get('index.html');
  const page = (req: HttpRequest): HttpReply =>
    index === undefined
      ? jsonError(503, 'INTERNAL', 'the web app is not built: run `npm run build` (or `npm start`)', { 'cache-control': 'no-store' })
      : reply(index, req);
  const routes: Route[] = [
    { method: 'GET', pattern: `${p}/`, handler: page },
    { method: 'GET', pattern: `${p}/console`, handler: page },
    {
      method: 'GET',
      pattern: `${p}/assets/:file`,
      handler: (req) => {
        const asset = assets.get(`assets/${req.params['file'] ?? ''}`);
        return asset === undefined ? jsonError(404, 'NOT_FOUND', 'no such file') : reply(asset, req);
      },
    },
  ];
  if (p !== '') {
    routes.push({
      method: 'GET',
      pattern: p,
      handler: (req) => {
        const q = req.query.toString();
        return { status: 308, headers: { location: `${p}/${q === '' ? '' : `?${q}`}` }, body: '' };
      },
    });
  }
  // Top-level files of Vite's public/ (the icon).
  for (const [rel, asset] of assets) {
    if (rel.includes('/') || rel === 'index.html') continue;
    routes.push({ method: 'GET', pattern: `${p}/${rel}`, handler: (req) => reply(asset, req) });
  }
  return { routes, built: index !== undefined };
}
