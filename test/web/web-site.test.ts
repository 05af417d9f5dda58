// The node server's static side (npm run dev): the built page and its assets with their headers, nothing outside the
// build folder whatever the path says, and every /api/ path left to the API.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ASSET_CACHE_CONTROL, PAGE_CACHE_CONTROL, WEB_HEADERS } from '../../src/http/web-site.js';
import { createNodeServer } from '../../src/node-server.js';

let root: string;
let server: Server;
let port: number;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'web-site-'));
  await mkdir(join(root, 'dist', 'assets'), { recursive: true });
  await writeFile(join(root, 'dist', 'index.html'), '<!doctype html><title>page</title>');
  await writeFile(join(root, 'dist', 'assets', 'index-abc.js'), 'console.log(1)');
  await writeFile(join(root, 'secret.js'), 'not for the web');
  server = createNodeServer({ webDir: join(root, 'dist') });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(root, { recursive: true, force: true });
});

/** A raw request, path sent as written (fetch would normalize "/../"). */
function get(path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

it('serves the page at / and the hashed assets, with the CSP and their cache lifetimes', async () => {
  const page = await get('/');
  expect(page.status).toBe(200);
  expect(page.body).toContain('<title>page</title>');
  expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(page.headers['cache-control']).toBe(PAGE_CACHE_CONTROL);
  expect(page.headers['content-security-policy']).toBe(WEB_HEADERS['content-security-policy']);
  const asset = await get('/assets/index-abc.js');
  expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect(asset.headers['cache-control']).toBe(ASSET_CACHE_CONTROL);
  expect((await get('/', 'HEAD')).body).toBe('');
});

it('answers 404 for anything outside the build or of an unknown type, however the path is spelled', async () => {
  for (const path of ['/../secret.js', '/..%2fsecret.js', '/%2e%2e/secret.js', '/assets/../../secret.js', '/%E0%A4%A', '/missing.js', '/index.html%00.js']) {
    const response = await get(path);
    expect(response.status, path).toBe(404);
    expect(response.body, path).not.toContain('not for the web');
  }
});

it('leaves /api/ to the API', async () => {
  const api = await get('/api/graphql?query=%7B__typename%7D');
  expect(api.headers['content-type']).not.toContain('text/html');
  expect(api.status).not.toBe(404);
});
