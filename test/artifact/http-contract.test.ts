// The HTTP contract, run against what deploys: the GraphQL function from `npm run build`, started in its own process
// by the Vercel Node launcher's rules with the options of its .vc-config.json, in production mode. Next to it the
// handler shape main used to deploy (a (req, res) function behind Vercel's default request helpers) shows the two
// defects the helpers caused, so these tests are known to bite.
import { build } from 'esbuild';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleOptions, HANDLER_FILE, type BuiltFunction } from '../../scripts/build.js';
import { signToken } from '../../src/auth/token.js';
import { CREATE_PACKAGE } from '../helpers/documents.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { rawRequest } from '../security/helpers.js';
import { buildArtifact, startFunction, type Artifact, type RunningFunction } from './artifact.js';

const SECRET = 'artifact-secret-that-is-long-enough-for-hs256-0123456789';
const MAX_BODY_BYTES = 100_000;

let artifact: Artifact;
let api: RunningFunction;
let client: MongoClient;
let dbName: string;
let token: string;

beforeAll(async () => {
  artifact = await buildArtifact();
  dbName = uniqueDbName('artifact-http');
  api = await startFunction(artifact.fn('/api/graphql'), {
    NODE_ENV: 'production',
    MONGODB_URI: getTestMongoUri(),
    MONGODB_DB: dbName,
    AUTH_JWT_SECRET: SECRET,
  });
  client = new MongoClient(getTestMongoUri());
  token = await signToken('artifact-user', { name: 'Artifact', secret: SECRET });
});
afterAll(async () => {
  await api?.stop();
  await client?.close();
  await artifact?.remove();
});

function post(body: unknown, headers: Record<string, string> = {}) {
  return rawRequest(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A body sent with Transfer-Encoding: chunked, so no Content-Length announces its size. */
function chunked(url: string, bytes: number) {
  const chunk = new TextEncoder().encode('x'.repeat(10_000));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }","variables":{"pad":"'));
    },
    pull(controller) {
      if (sent >= bytes) {
        controller.enqueue(new TextEncoder().encode('"}}'));
        controller.close();
        return;
      }
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
}

/** No stack frame ("at fn (file:line:col)") and no file path of the machine that built or runs the function. */
function expectNoInternals(text: string) {
  expect(text).not.toMatch(/\bat \S+ \(|\bat \/|\.(m?js|ts):\d+:\d+/);
  expect(text).not.toContain(process.cwd());
  expect(text).not.toContain(artifact.dir);
  expect(text).not.toContain('node_modules');
}

describe('the built GraphQL function', () => {
  it('answers a query and a mutation', async () => {
    const query = await post({ query: '{ registryStats { totalPackages } }' });
    expect(query.status).toBe(200);
    expect(query.json.data.registryStats.totalPackages).toBe(0);
    const created = await post({ query: CREATE_PACKAGE, variables: { input: { name: 'from-artifact', summary: 's' } } }, { authorization: `Bearer ${token}` });
    expect(created.status).toBe(200);
    expect(created.json.data.createPackage.__typename).toBe('CreatePackageSuccess');
    expect(await client.db(dbName).collection('packages').countDocuments({ _id: 'from-artifact' as never })).toBe(1);
  });

  it('answers malformed JSON with 400, no stack trace and no path', async () => {
    const response = await post('{"query":');
    expect(response.status).toBe(400);
    expect(response.json.errors[0].message).toMatch(/invalid JSON/i);
    expectNoInternals(response.text);
  });

  it('refuses a body over MAX_BODY_BYTES with 413, chunked or with a Content-Length', async () => {
    const streamed = await chunked(api.url, 2 * MAX_BODY_BYTES);
    expect(streamed.status).toBe(413);
    expect(streamed.json.errors[0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    const declared = await post({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 * MAX_BODY_BYTES) } });
    expect(declared.status).toBe(413);
    // The instance survives the refusals (a cancelled request stream once crashed it after answering).
    expect((await post({ query: '{ __typename }' })).status).toBe(200);
    expect(api.child.exitCode).toBeNull();
  });

  it('refuses GET without the CSRF header, and browsers from other origins, other schemes or other ports', async () => {
    const csrf = await rawRequest(`${api.url}?query=${encodeURIComponent('{ __typename }')}`);
    expect(csrf.status).toBe(403);
    const port = Number(new URL(api.origin).port);
    for (const origin of ['https://evil.example', api.origin.replace('http:', 'https:'), `http://127.0.0.1:${port + 1}`]) {
      const refused = await post({ query: '{ __typename }' }, { origin });
      expect(refused.status, origin).toBe(403);
      expect(refused.json.errors[0].extensions.code).toBe('FORBIDDEN_ORIGIN');
    }
    expect((await post({ query: '{ __typename }' }, { origin: api.origin })).status).toBe(200);
    // Behind Vercel's proxy the function is reached over http and learns the client's scheme from x-forwarded-proto.
    const proxied = await post({ query: '{ __typename }' }, { origin: api.origin.replace('http:', 'https:'), 'x-forwarded-proto': 'https' });
    expect(proxied.status).toBe(200);
  });

  it('has introspection off and never suggests names, in validation or variable errors', async () => {
    const introspection = await post({ query: '{ __schema { types { name } } }' });
    expect(introspection.json.data).toBeUndefined();
    expect(introspection.json.errors[0].message).toMatch(/introspection has been disabled/);
    const typo = await post({ query: '{ registryStat { totalPosts } }' });
    const coercion = await post(
      { query: 'mutation ($input: CreatePackageInput!) { createPackage(input: $input) { __typename } }', variables: { input: { nmae: 'x', summary: 's' } } },
      { authorization: `Bearer ${token}` },
    );
    expect(coercion.json.errors.map((e: { message: string }) => e.message).join('\n')).toMatch(/"nmae" is not defined/);
    for (const response of [typo, coercion]) expect(response.text).not.toMatch(/did you mean/i);
  });

  it('replays an Idempotency-Key answer instead of executing again', async () => {
    const request = () =>
      post({ query: CREATE_PACKAGE, variables: { input: { name: 'keyed-artifact', summary: 's' } } }, { authorization: `Bearer ${token}`, 'idempotency-key': 'artifact-key-1' });
    const first = await request();
    const second = await request();
    expect(first.json.data.createPackage.__typename).toBe('CreatePackageSuccess');
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.text).toBe(first.text);
    expect(await client.db(dbName).collection('packages').countDocuments({ _id: 'keyed-artifact' as never })).toBe(1);
  });

  it('answers a method it does not export with 405, as the launcher does', async () => {
    expect((await rawRequest(api.url, { method: 'PUT' })).status).toBe(405);
  });
});

describe('the handler main deployed before: (req, res) behind Vercel default request helpers', () => {
  let legacy: RunningFunction;

  beforeAll(async () => {
    // The old api/graphql.ts, bundled the same way, with the .vc-config.json Vercel's builder wrote for it.
    const dir = join(artifact.dir, 'legacy.func');
    const entry = join(artifact.dir, 'legacy-entry.ts');
    await writeFile(entry, `import { yoga } from ${JSON.stringify(join(process.cwd(), 'src/yoga.ts'))};\nexport default function handler(req, res) { return yoga(req, res); }\n`);
    await build(bundleOptions(entry, join(dir, HANDLER_FILE)));
    await writeFile(join(dir, '.vc-config.json'), JSON.stringify({ runtime: 'nodejs22.x', handler: HANDLER_FILE, launcherType: 'Nodejs', shouldAddHelpers: true }));
    const fn: BuiltFunction = { entry, path: '/api/graphql', dir, bytes: 0, metafile: { inputs: {}, outputs: {} } };
    legacy = await startFunction(fn, { NODE_ENV: 'production', MONGODB_URI: getTestMongoUri(), MONGODB_DB: dbName, AUTH_JWT_SECRET: SECRET });
  });
  afterAll(() => legacy?.stop());

  it('answers malformed JSON with a 5xx and lets a chunked oversized body through: what shouldAddHelpers: false prevents', async () => {
    const malformed = await rawRequest(legacy.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":' });
    expect(malformed.status).toBeGreaterThanOrEqual(500);
    const streamed = await chunked(legacy.url, 2 * MAX_BODY_BYTES);
    expect(streamed.status).not.toBe(413);
  });
});
