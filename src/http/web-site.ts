// The web page (web/, built by Vite into web/dist) as the deployment serves it: the same files and headers from
// Vercel's static output (scripts/build.ts) and from the node server (`npm run dev`, the browser tests).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * Every page response: scripts, styles and API calls from the page's own origin only, nothing framed or framing,
 * no inline code (Vite emits none), so an injected string can never run.
 */
export const WEB_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Vite names every asset by its content hash, so browsers and the CDN may keep them for good; index.html never. */
export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const PAGE_CACHE_CONTROL = 'public, max-age=0, must-revalidate';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** Serves GET/HEAD of `/` and the built files under dir; false when the request is not one (the API handles it). */
export async function serveWebFile(req: IncomingMessage, res: ServerResponse, dir = WEB_DIST): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  let path: string;
  try {
    path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
  } catch {
    path = '/not-found'; // a malformed escape names no file
  }
  if (path.startsWith('/api/')) return false;
  const file = normalize(join(dir, path === '/' ? 'index.html' : path));
  const type = TYPES[extname(file)];
  const found = type && file.startsWith(dir + sep) && (await stat(file).catch(() => null))?.isFile();
  if (!found) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...WEB_HEADERS }).end('Not found');
    return true;
  }
  const cacheControl = file.startsWith(join(dir, 'assets') + sep) ? ASSET_CACHE_CONTROL : PAGE_CACHE_CONTROL;
  res.writeHead(200, { 'content-type': type, 'cache-control': cacheControl, ...WEB_HEADERS });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
  return true;
}
