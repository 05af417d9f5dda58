// The web page in headless Chromium (Debian's package, driven by playwright-core) against the API in production mode:
// it lists packages, likes a post (counted once in the database), retries a lost answer with the same Idempotency-Key,
// shows live counters changed by other clients (SSE subscriptions that reconnect), and works under its
// Content-Security-Policy and PERSISTED_OPERATIONS=strict while another origin is kept out.
// Without /usr/bin/chromium the suite is skipped, with the reason printed, except under CI=true, where it fails.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getOperationAST, parse } from 'graphql';
import { ObjectId } from 'mongodb';
import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetEnv } from '../../src/env.js';
import { CREATE_PACKAGE, CREATE_POST, PUBLISH_RELEASE } from '../helpers/documents.js';
import { RECORD_DOWNLOAD } from '../registry/documents.js';
import { CHROMIUM, startWebApi, type WebApi } from './web-api.js';

const manifest = JSON.parse(readFileSync(new URL('../../schema/operations/persisted-documents.json', import.meta.url), 'utf8')) as Record<string, string>;
/** A request body for an operation of the manifest, by hash (the API runs nothing else under PERSISTED_OPERATIONS=strict). */
function persisted(operationName: string, variables: Record<string, unknown>) {
  const hash = Object.keys(manifest).find((key) => getOperationAST(parse(manifest[key]!))?.name?.value === operationName)!;
  return { operationName, variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } };
}

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: CI must run the browser tests (.ci/run installs Debian's chromium)`);
if (!hasChromium) console.warn(`Skipping the browser tests: ${CHROMIUM} is missing (apt-get install chromium; CI=true makes this a failure).`);

let api: WebApi;
let browser: Browser;
let alice: string;
let bob: string;
let postId: string;
let livePostId: string;
const contexts: BrowserContext[] = [];

/** A browser context signed in (the page reads its token from localStorage), with CSP violations recorded. */
async function openPage(token: string | null): Promise<{ page: Page; cspViolations: string[]; responses: Response[] }> {
  const context = await browser.newContext();
  contexts.push(context);
  if (token) await context.addInitScript((value) => localStorage.setItem('registry-token', value), token);
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  const responses: Response[] = [];
  page.on('response', (response) => responses.push(response));
  await page.goto(`${api.origin}/`);
  return { page, cspViolations, responses };
}

const likeCount = async (id = postId) => (await api.db.collection('posts').findOne({ _id: new ObjectId(id) }))!.likeCount as number;

describe.skipIf(!hasChromium)('the web page in Chromium', () => {
  beforeAll(async () => {
    // Subscription responses end every 2 s, so the page reconnects (with Last-Event-ID) during the live test.
    api = await startWebApi('web-browser', { LIVE_STREAM_SECONDS: '2' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    alice = await api.token('web-alice', 'Alice');
    bob = await api.token('web-bob', 'Bob');
    await api.gql(CREATE_PACKAGE, { input: { name: 'atomic-counter', summary: 'Counters that never lose an update' } }, alice);
    for (const version of ['1.0.0', '1.2.0']) await api.gql(PUBLISH_RELEASE, { input: { packageName: 'atomic-counter', version, sizeBytes: 2048 } }, alice);
    for (let i = 0; i < 3; i++) await api.gql(RECORD_DOWNLOAD, { input: { packageName: 'atomic-counter', version: '1.2.0' } });
    await api.gql(CREATE_PACKAGE, { input: { name: 'idempotent-queue', summary: 'Exactly-once consumers' } }, alice);
    const post = await api.gql(CREATE_POST, { input: { packageName: 'atomic-counter', title: 'Why one write per mutation', body: 'Because.' } }, alice);
    postId = post.data.createPost.post.id;
    const second = await api.gql(CREATE_POST, { input: { packageName: 'atomic-counter', title: 'Live counters', body: 'Watch them move.' } }, alice);
    livePostId = second.data.createPost.post.id;
    // From here on the API runs nothing but the manifest's operations: the page sends only their hashes.
    process.env.PERSISTED_OPERATIONS = 'strict';
    resetEnv();
  });
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await api?.close();
  });

  it('lists packages with their latest release and downloads, by cacheable GETs, under its CSP', async () => {
    const { page, cspViolations, responses } = await openPage(null);
    const item = page.locator('#packages li', { hasText: 'atomic-counter' });
    await expect.poll(() => item.textContent()).toContain('v1.2.0 · 3 downloads');
    await expect.poll(() => page.locator('#trending').textContent()).toBe('Trending this week: atomic-counter (3)');
    const answer = responses.find((response) => response.url().includes('operationName=WebPackages'))!;
    expect(answer.request().method()).toBe('GET');
    expect(answer.request().url()).not.toContain('query=');
    expect(answer.headers()['cache-control']).toBe('public, s-maxage=60, stale-while-revalidate=60');
    expect(cspViolations).toEqual([]);
    await item.getByRole('button').click();
    await page.locator(`#posts li[data-post="${postId}"]`, { hasText: 'Why one write per mutation' }).waitFor();
    // Anonymous: no like button to press.
    expect(await page.locator('#posts .like').evaluateAll((buttons) => buttons.map((b) => (b as HTMLButtonElement).disabled))).toEqual([true, true]);
  });

  it('likes a post: the count on the page and in the database is 1', async () => {
    const { page } = await openPage(alice);
    await page.locator('#packages li', { hasText: 'atomic-counter' }).getByRole('button').click();
    const post = page.locator(`#posts li[data-post="${postId}"]`);
    await post.locator('.like').click();
    await expect.poll(() => post.locator('.likes').textContent()).toBe('1');
    expect(await post.locator('.like').getAttribute('aria-pressed')).toBe('true');
    expect(await likeCount()).toBe(1);
  });

  it('retries a request whose answer was lost with the same Idempotency-Key, and the like counts once', async () => {
    const { page } = await openPage(bob);
    const keys: string[] = [];
    let lost = false;
    await page.route('**/api/graphql', async (route) => {
      const key = route.request().headers()['idempotency-key'];
      if (!key) return route.continue();
      keys.push(key);
      if (lost) return route.continue();
      // The write reaches the API and is applied; its answer never reaches the page (a dropped connection).
      lost = true;
      await route.fetch();
      await route.abort('connectionreset');
    });
    const replayed = page.waitForResponse((response) => response.request().headers()['idempotency-key'] !== undefined && response.status() === 200);
    await page.locator('#packages li', { hasText: 'atomic-counter' }).getByRole('button').click();
    const post = page.locator(`#posts li[data-post="${postId}"]`);
    await post.locator('.like').click();
    // Pressed only once the mutation's own answer arrived (the live counter alone may already show 2).
    await expect.poll(() => post.locator('.like').getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => post.locator('.likes').textContent()).toBe('2');
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    // The second attempt was answered from the key's stored response, not executed again.
    expect((await replayed).headers()['idempotent-replayed']).toBe('true');
    expect(await likeCount()).toBe(2);
    await page.setViewportSize({ width: 960, height: 400 });
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/web-page.png' });
    // A second tap is a new intent with a new key (an unlike-free like by the same user changes nothing).
    expect(await api.db.collection('idempotencyKeys').countDocuments({})).toBe(2);
  });

  it('shows live counters: likes from two browsers and a view from another client reach both pages without a reload', async () => {
    const pages: Page[] = [];
    const resumed: string[] = [];
    for (const token of [alice, bob]) {
      const { page } = await openPage(token);
      page.on('request', (request) => {
        const id = request.headers()['last-event-id'];
        if (id) resumed.push(id);
      });
      await page.locator('#packages li', { hasText: 'atomic-counter' }).getByRole('button').click();
      await page.locator(`#posts li[data-post="${livePostId}"]`).waitFor();
      pages.push(page);
    }
    const counts = (page: Page, which: 'likes' | 'views') => page.locator(`#posts li[data-post="${livePostId}"] .${which}`).textContent();
    await pages[0]!.locator(`#posts li[data-post="${livePostId}"] .like`).click();
    for (const page of pages) await expect.poll(() => counts(page, 'likes')).toBe('1');
    // Outlive a response or two: the next change must arrive through a reconnected stream.
    await expect.poll(() => resumed.length, { timeout: 10_000 }).toBeGreaterThan(1);
    await pages[1]!.locator(`#posts li[data-post="${livePostId}"] .like`).click();
    for (const page of pages) await expect.poll(() => counts(page, 'likes')).toBe('2');
    const view = await fetch(`${api.origin}/api/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(persisted('WebRecordView', { postId: livePostId })) });
    expect(((await view.json()) as any).data.recordView.__typename).toBe('RecordViewSuccess');
    for (const page of pages) await expect.poll(() => counts(page, 'views')).toBe('1');
    expect(await likeCount(livePostId)).toBe(2);
  });

  it('keeps every other origin out in production: the API refuses it, and the browser gives it nothing', async () => {
    const other: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>other</title>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      const otherOrigin = `http://localhost:${(other.address() as AddressInfo).port}`;
      await page.goto(`${otherOrigin}/`);
      // As the page's own client would send it (JSON, so preflighted), and as a "simple" request that is not.
      const outcomes = await page.evaluate(async (url) => {
        const attempt = async (init: RequestInit) => {
          try {
            return `read ${(await fetch(url, { method: 'POST', body: '{"query":"{ registryStats { totalPosts } }"}', ...init })).status}`;
          } catch (error) {
            return `blocked: ${(error as Error).name}`;
          }
        };
        return [await attempt({ headers: { 'content-type': 'application/json' } }), await attempt({ headers: { 'content-type': 'text/plain' } })];
      }, `${api.origin}/api/graphql`);
      expect(outcomes).toEqual(['blocked: TypeError', 'blocked: TypeError']);
      // What the browser hid: the API itself refused that origin before parsing anything.
      const direct = await fetch(`${api.origin}/api/graphql`, { method: 'POST', headers: { origin: otherOrigin, 'content-type': 'application/json' }, body: '{"query":"{ registryStats { totalPosts } }"}' });
      expect(direct.status).toBe(403);
      expect(((await direct.json()) as any).errors[0].extensions.code).toBe('FORBIDDEN_ORIGIN');
      const preflight = await fetch(`${api.origin}/api/graphql`, { method: 'OPTIONS', headers: { origin: otherOrigin, 'access-control-request-method': 'POST' } });
      expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      other.close();
    }
  });

  it('runs no inline script: the CSP blocks one injected into the page', async () => {
    const { page, cspViolations } = await openPage(null);
    await page.locator('#packages li').first().waitFor();
    const injected = await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.injected = true';
      document.body.append(script);
      return (window as unknown as { injected?: boolean }).injected === true;
    });
    expect(injected).toBe(false);
    await expect.poll(() => cspViolations.length).toBeGreaterThan(0);
    const response = await page.request.get(`${api.origin}/`);
    expect(response.headers()['content-security-policy']).toContain("default-src 'none'");
  });
});
