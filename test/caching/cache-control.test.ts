// Cache-Control on GraphQL answers: public (s-maxage from the schema's hints, lowest wins), an ETag and 304 only for
// anonymous queries sent as GET by persisted-document hash that select no per-user field; everything else private,
// no-store. The fuzz at the end sends every mobile and web operation with and without tokens.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { getOperationAST, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachePolicy, NO_STORE } from '../../src/http/cache-control.plugin.js';
import { schema } from '../../src/schema.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, CREATE_POST, LIKE_POST, PUBLISH_RELEASE } from '../helpers/documents.js';
import { rawRequest, type RawResponse } from '../security/helpers.js';

const manifest = JSON.parse(readFileSync(new URL('../../schema/operations/persisted-documents.json', import.meta.url), 'utf8')) as Record<string, string>;
const operations = Object.entries(manifest).map(([hash, document]) => {
  const operation = getOperationAST(parse(document))!;
  return { hash, document, name: operation.name!.value, kind: operation.operation };
});
const byName = (name: string) => operations.find((o) => o.name === name)!;

let api: TestApi;
let alice: string;
let bob: string;
let postId: string;

/** An operation of the manifest sent by hash: GET for queries (as the web page and CDN-friendly clients do), POST otherwise. */
async function sendByHash(name: string, variables: Record<string, unknown>, headers: Record<string, string> = {}): Promise<RawResponse> {
  const { hash, kind } = byName(name);
  const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
  if (kind === 'query') {
    const query = new URLSearchParams({ operationName: name, variables: JSON.stringify(variables), extensions: JSON.stringify(extensions) });
    return rawRequest(`${api.url}?${query}`, { headers: { 'x-graphql-yoga-csrf': '1', ...headers } });
  }
  return rawRequest(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ operationName: name, variables, extensions }) });
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  api = await startApi('cache-control');
  alice = await api.token('cache-alice', 'Alice');
  bob = await api.token('cache-bob', 'Bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'cache-pkg', summary: 'Cached' } }, { token: alice });
  await api.gql(PUBLISH_RELEASE, { input: { packageName: 'cache-pkg', version: '1.0.0', sizeBytes: 10 } }, { token: alice });
  const post = await api.gql(CREATE_POST, { input: { packageName: 'cache-pkg', title: 'Hello', body: 'World' } }, { token: alice });
  postId = post.data!.createPost.post.id;
  // Alice likes the post and Bob does not: any per-user field answers differently for them.
  await api.gql(LIKE_POST, { postId }, { token: alice });
});
afterAll(() => api.close());

describe('the policy of a document (from the schema hints)', () => {
  const policy = (source: string) => cachePolicy(schema, parse(source));

  it('takes the lowest maxAge of the fields selected, through fragments too', () => {
    expect(policy('{ packages(first: 5) { edges { node { name latestRelease { version } } } } }')).toEqual({ maxAge: 60 });
    expect(policy('{ registryStats { totalPosts } }')).toEqual({ maxAge: 30 });
    expect(policy('{ package(name: "a") { name } posts(first: 1) { edges { node { ...P } } } } fragment P on Post { title package { name } }')).toEqual({ maxAge: 10 });
  });

  it('refuses mutations, per-user fields (even inside a fragment) and introspection', () => {
    expect(policy('mutation { recordView(postId: "x") { __typename } }')).toEqual({ uncacheable: 'a mutation' });
    expect(policy('{ viewer { id } }')).toEqual({ uncacheable: 'the per-user field Query.viewer' });
    expect(policy('{ posts(first: 1) { edges { node { ...P } } } } fragment P on Post { viewerHasLiked }')).toEqual({ uncacheable: 'the per-user field Post.viewerHasLiked' });
    expect(policy('{ package(name: "a") { maintainers { credits } } }')).toEqual({ uncacheable: 'the per-user field User.credits' });
    expect(policy('{ __schema { queryType { name } } }')).toEqual({ uncacheable: 'introspection' });
  });
});

describe('over HTTP', () => {
  it('answers an anonymous GET by hash public, with an ETag, and 304 on a matching If-None-Match', async () => {
    const first = await sendByHash('WebPackages', { first: 10 });
    expect(first.status).toBe(200);
    expect(first.json.data.packages.edges[0].node.name).toBe('cache-pkg');
    expect(first.headers.get('cache-control')).toBe('public, s-maxage=60, stale-while-revalidate=60');
    const etag = first.headers.get('etag')!;
    expect(first.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    const again = await sendByHash('WebPackages', { first: 10 }, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe(first.headers.get('cache-control'));
    const stale = await sendByHash('WebPackages', { first: 10 }, { 'if-none-match': '"something-else"' });
    expect(stale.status).toBe(200);
  });

  it('changes the ETag when the data changes, so a stale copy is never confirmed with 304', async () => {
    const before = await sendByHash('WebPackagePosts', { packageName: 'cache-pkg', first: 10 });
    await api.gql(LIKE_POST, { postId }, { token: await api.token('cache-carol') });
    const after = await sendByHash('WebPackagePosts', { packageName: 'cache-pkg', first: 10 }, { 'if-none-match': before.headers.get('etag')! });
    expect(after.status).toBe(200);
    expect(after.json.data.posts.edges[0].node.likeCount).toBe(before.json.data.posts.edges[0].node.likeCount + 1);
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  it('gives the lowest declared maxAge: posts (10 s) under packages (60 s), stats 30 s, trending 60 s', async () => {
    expect((await sendByHash('WebPackagePosts', { packageName: 'cache-pkg', first: 10 })).headers.get('cache-control')).toBe('public, s-maxage=10, stale-while-revalidate=10');
    expect((await sendByHash('MobileRegistryStats', {})).headers.get('cache-control')).toBe('public, s-maxage=30, stale-while-revalidate=30');
    expect((await sendByHash('WebTrending', { first: 5 })).headers.get('cache-control')).toBe('public, s-maxage=60, stale-while-revalidate=60');
  });

  it('answers private, no-store with Authorization, for per-user fields, for mutations, for POST and on errors', async () => {
    const signedIn = await sendByHash('WebPackages', { first: 10 }, bearer(bob));
    expect(signedIn.headers.get('cache-control')).toBe(NO_STORE);
    expect(signedIn.headers.get('etag')).toBeNull();
    expect((await sendByHash('MobileViewer', {})).headers.get('cache-control')).toBe(NO_STORE);
    expect((await sendByHash('MobilePosts', { first: 5 })).headers.get('cache-control')).toBe(NO_STORE);
    expect((await sendByHash('WebRecordView', { postId })).headers.get('cache-control')).toBe(NO_STORE);
    const post = await rawRequest(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ registryStats { totalPosts } }' }) });
    expect(post.headers.get('cache-control')).toBe(NO_STORE);
    const failed = await sendByHash('WebPackages', { first: 1000 });
    expect(failed.json.errors).toBeDefined();
    expect(failed.headers.get('cache-control')).toBe(NO_STORE);
    const unknown = await rawRequest(`${api.url}?extensions=${encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } }))}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('cache-control')).toBe(NO_STORE);
  });
});

describe('fuzz: no private data is ever cached publicly', () => {
  it('every mobile and web operation, with random variables, anonymous and as two users', async () => {
    const packageName = fc.constantFrom('cache-pkg', 'CACHE_PKG', 'missing-pkg', '', 'x'.repeat(300));
    const id = fc.oneof(fc.constant(postId), fc.constant('0'.repeat(24)), fc.string({ maxLength: 30 }));
    const first = fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(0, -1, 101));
    const variables = fc.record({ first, packageName, name: packageName, id, postId: id, after: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }) });
    let publicAnswers = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...operations.filter((o) => o.kind === 'query')), variables, async (operation, vars) => {
        const anonymous = await sendByHash(operation.name, vars);
        const asAlice = await sendByHash(operation.name, vars, bearer(alice));
        const asBob = await sendByHash(operation.name, vars, bearer(bob));
        expect(asAlice.headers.get('cache-control')).toBe(NO_STORE);
        expect(asBob.headers.get('cache-control')).toBe(NO_STORE);
        if (anonymous.headers.get('cache-control') === NO_STORE) return;
        publicAnswers++;
        expect(anonymous.headers.get('cache-control')).toMatch(/^public, s-maxage=\d+, stale-while-revalidate=\d+$/);
        // A public answer is one any visitor may be served: it is what each user gets, whoever they are.
        expect(asAlice.json).toEqual(anonymous.json);
        expect(asBob.json).toEqual(anonymous.json);
      }),
      { numRuns: 60, seed: 14 },
    );
    expect(publicAnswers).toBeGreaterThan(10);
    // Every mutation, anonymous or not, over POST (GET cannot carry one).
    for (const operation of operations.filter((o) => o.kind === 'mutation')) {
      for (const headers of [{}, bearer(bob)]) {
        expect((await sendByHash(operation.name, { postId, input: {} }, headers)).headers.get('cache-control')).toBe(NO_STORE);
      }
    }
  });
});
