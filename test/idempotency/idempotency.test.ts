// Idempotency-Key over real HTTP: one execution per key, byte-identical replays, refusals, expiry, scopes, and each
// mutation's effect layer (a retry that re-executes after a simulated crash applies nothing twice).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resetEnv } from '../../src/env.js';
import { keyRecordId, keyScope } from '../../src/idempotency/idempotency-key.js';
import { startApi, type TestApi } from '../helpers/api.js';
import {
  ADD_KEYWORDS,
  CREATE_PACKAGE,
  CREATE_POST,
  DELETE_POST,
  LIKE_POST,
  PUBLISH_RELEASE,
  RECORD_VIEW,
  REGISTRY_STATS,
  UPDATE_PACKAGE,
  UPDATE_POST,
} from '../helpers/documents.js';

let api: TestApi;
let alice: string;
let bob: string;
let postId: string;

interface Raw {
  status: number;
  text: string;
  body: any;
  headers: Headers;
}

/** One request, the body kept exactly as received. */
async function send(query: string, variables: Record<string, unknown>, options: { token?: string; key?: string; rawBody?: string } = {}): Promise<Raw> {
  const response = await fetch(api.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.key === undefined ? {} : { 'idempotency-key': options.key }),
    },
    body: options.rawBody ?? JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text), headers: response.headers };
}


const result = (raw: Raw) => Object.values(raw.body.data ?? {})[0] as any;
const errorCode = (raw: Raw) => raw.body.errors?.[0]?.extensions?.code;
const uniqueKey = (label: string) => `${label}-${crypto.randomUUID()}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stats() {
  return (await api.gql(REGISTRY_STATS)).data!.registryStats;
}

async function readPost(id: string) {
  const { ObjectId } = await import('mongodb');
  return (await api.db.collection('posts').findOne({ _id: new ObjectId(id) }))!;
}

/** What a crash between "effect applied" and "answer stored" leaves behind: the key in progress, its lease over. */
async function simulateCrashAfterEffect(scopeOf: string | null, key: string): Promise<void> {
  const id = keyRecordId(keyScope(scopeOf === null ? null : { id: scopeOf, name: null }), key);
  const { modifiedCount } = await api.db
    .collection('idempotencyKeys')
    .updateOne({ _id: id as never }, { $set: { state: 'in_progress', leaseUntil: new Date(0) }, $unset: { response: '' } });
  expect(modifiedCount).toBe(1);
}

beforeAll(async () => {
  api = await startApi('idempotency', { RATE_LIMITS: 'off' });
  alice = await api.token('alice');
  bob = await api.token('bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'idem', summary: 's' } }, { token: alice });
  postId = (await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'idem' } }, { token: alice })).data!.createPost.post.id;
});
afterAll(() => api.close());

describe('replays', () => {
  it('executes a keyed mutation once and replays the stored answer byte for byte, status included', async () => {
    const key = uniqueKey('create-post');
    const before = await stats();
    const first = await send(CREATE_POST, { input: { title: 'once', body: 'b', packageName: 'idem' } }, { token: alice, key });
    expect(result(first).__typename).toBe('CreatePostSuccess');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // DB_TRACE is on in tests: the stored answer carries the first execution's dbOps, and the replay repeats them.
    expect(first.body.extensions.dbOps.length).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) {
      const again = await send(CREATE_POST, { input: { title: 'once', body: 'b', packageName: 'idem' } }, { token: alice, key });
      expect(again.text).toBe(first.text);
      expect(again.status).toBe(first.status);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    }
    expect(await api.db.collection('posts').countDocuments({ title: 'once' })).toBe(1);
    expect((await stats()).totalPosts).toBe(before.totalPosts + 1);
  });

  it('counts the same document with other whitespace and reordered variables as the same request', async () => {
    const key = uniqueKey('normalized');
    const first = await send(CREATE_PACKAGE, { input: { name: 'norm-a', summary: 's' } }, { token: alice, key });
    expect(result(first).__typename).toBe('CreatePackageSuccess');
    const respaced = CREATE_PACKAGE.replace(/\s+/g, '  \n ');
    const rawBody = `{"variables":{"input":{"summary":"s","name":"norm-a"}},"query":${JSON.stringify(respaced)}}`;
    const again = await send('', {}, { token: alice, key, rawBody });
    expect(again.text).toBe(first.text);
  });

  it('replays typed error answers too: they are the outcome of the request', async () => {
    const key = uniqueKey('missing');
    const first = await send(RECORD_VIEW, { postId: 'ffffffffffffffffffffffff' }, { key });
    expect(result(first).code).toBe('NOT_FOUND');
    const again = await send(RECORD_VIEW, { postId: 'ffffffffffffffffffffffff' }, { key });
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('executes 100 concurrent requests with one key once; each caller gets the stored answer or IN_PROGRESS (409)', async () => {
    const key = uniqueKey('storm');
    const before = (await readPost(postId)).viewCount;
    const answers = await Promise.all(Array.from({ length: 100 }, () => send(RECORD_VIEW, { postId }, { key })));
    const successes = answers.filter((a) => a.status === 200);
    const waiting = answers.filter((a) => a.status !== 200);
    expect(successes.length).toBeGreaterThan(0);
    // The contract: every answer is the one execution's answer, byte for byte, or an IN_PROGRESS refusal with Retry-After.
    expect(new Set(successes.map((a) => a.text)).size).toBe(1);
    for (const refusal of waiting) {
      expect(refusal.status).toBe(409);
      expect(errorCode(refusal)).toBe('IN_PROGRESS');
      expect(Number(refusal.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refusal.body.data).toBeUndefined();
    }
    expect((await readPost(postId)).viewCount).toBe(before + 1);
    // Once the execution has finished, every duplicate is a replay of the same bytes.
    const later = await Promise.all(Array.from({ length: 100 }, () => send(RECORD_VIEW, { postId }, { key })));
    expect(later.every((a) => a.status === 200 && a.text === successes[0]!.text && a.headers.get('idempotent-replayed') === 'true')).toBe(true);
    expect((await readPost(postId)).viewCount).toBe(before + 1);
  });
});

describe('refusals', () => {
  it('refuses a key reused with other variables (422 IDEMPOTENCY_KEY_REUSED) and changes nothing', async () => {
    const key = uniqueKey('reuse');
    const first = await send(CREATE_PACKAGE, { input: { name: 'reuse-a', summary: 's' } }, { token: alice, key });
    expect(result(first).__typename).toBe('CreatePackageSuccess');
    const before = await stats();
    const reused = await send(CREATE_PACKAGE, { input: { name: 'reuse-b', summary: 's' } }, { token: alice, key });
    expect(reused.status).toBe(422);
    expect(errorCode(reused)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await api.db.collection('packages').findOne({ _id: 'reuse-b' as never })).toBeNull();
    expect(await stats()).toEqual(before);
    // The key still answers its own request.
    expect((await send(CREATE_PACKAGE, { input: { name: 'reuse-a', summary: 's' } }, { token: alice, key })).text).toBe(first.text);
  });

  it('refuses a key reused for another operation', async () => {
    const key = uniqueKey('other-op');
    await send(LIKE_POST, { postId }, { token: alice, key });
    const before = await readPost(postId);
    const reused = await send(RECORD_VIEW, { postId }, { token: alice, key });
    expect(errorCode(reused)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await readPost(postId)).viewCount).toBe(before.viewCount);
  });

  it('answers 400 for a key that is not 1-255 printable ASCII characters, executing nothing', async () => {
    const before = (await readPost(postId)).viewCount;
    for (const bad of ['', 'x'.repeat(256), 'tab\there']) {
      const answer = await send(RECORD_VIEW, { postId }, { key: bad });
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(errorCode(answer)).toBe('VALIDATION');
    }
    expect((await readPost(postId)).viewCount).toBe(before);
    expect((await send(RECORD_VIEW, { postId }, { key: 'x'.repeat(255) })).status).toBe(200);
  });

  it('treats a quoted structured-field key as the bare key', async () => {
    const key = uniqueKey('quoted');
    const first = await send(RECORD_VIEW, { postId }, { key });
    const quoted = await send(RECORD_VIEW, { postId }, { key: `"${key}"` });
    expect(quoted.text).toBe(first.text);
  });

  it('ignores a key sent with a query', async () => {
    const key = uniqueKey('query');
    const count = await api.db.collection('idempotencyKeys').countDocuments();
    const answer = await send(REGISTRY_STATS, {}, { key });
    expect(answer.status).toBe(200);
    expect(answer.body.data.registryStats).toBeDefined();
    expect(await api.db.collection('idempotencyKeys').countDocuments()).toBe(count);
  });

  it('answers IN_PROGRESS while an execution holds the key, and lets a retry take over once its lease has ended', async () => {
    const key = uniqueKey('lease');
    const first = await send(RECORD_VIEW, { postId }, { key });
    const id = keyRecordId(keyScope(null), key);
    const records = api.db.collection('idempotencyKeys');
    await records.updateOne({ _id: id as never }, { $set: { state: 'in_progress', leaseUntil: new Date(Date.now() + 5_000) }, $unset: { response: '' } });
    const busy = await send(RECORD_VIEW, { postId }, { key });
    expect(busy.status).toBe(409);
    expect(errorCode(busy)).toBe('IN_PROGRESS');
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(4);
    await records.updateOne({ _id: id as never }, { $set: { leaseUntil: new Date(Date.now() - 1) } });
    const viewsBefore = (await readPost(postId)).viewCount;
    const takenOver = await send(RECORD_VIEW, { postId }, { key });
    expect(takenOver.status).toBe(200);
    expect(takenOver.headers.get('idempotent-replayed')).toBeNull();
    // The first execution's view is recognized by its effectKey, not counted again.
    expect((await readPost(postId)).viewCount).toBe(viewsBefore);
    expect(result(takenOver).post.id).toBe(result(first).post.id);
  });
});

describe('scope and expiry', () => {
  it('keeps keys per user: the same key from two users is two requests', async () => {
    const key = uniqueKey('shared');
    const a = await send(CREATE_PACKAGE, { input: { name: 'scope-a', summary: 's' } }, { token: alice, key });
    const b = await send(CREATE_PACKAGE, { input: { name: 'scope-b', summary: 's' } }, { token: bob, key });
    expect(result(a).__typename).toBe('CreatePackageSuccess');
    expect(result(b).__typename).toBe('CreatePackageSuccess');
  });

  it('lets anonymous callers use keys (recordView), in one shared anonymous scope', async () => {
    const key = uniqueKey('anon');
    const before = (await readPost(postId)).viewCount;
    const first = await send(RECORD_VIEW, { postId }, { key });
    const again = await send(RECORD_VIEW, { postId }, { key });
    expect(again.text).toBe(first.text);
    expect((await readPost(postId)).viewCount).toBe(before + 1);
    // A signed-in caller with the same key is another scope: it executes.
    await send(RECORD_VIEW, { postId }, { key, token: alice });
    expect((await readPost(postId)).viewCount).toBe(before + 2);
  });

  it('executes again once the key has expired (IDEMPOTENCY_TTL_SECONDS)', async () => {
    process.env.IDEMPOTENCY_TTL_SECONDS = '1';
    resetEnv();
    try {
      const key = uniqueKey('expiring');
      const before = (await readPost(postId)).viewCount;
      const first = await send(RECORD_VIEW, { postId }, { key });
      expect(result(first).post.viewCount).toBe(before + 1);
      await sleep(1_100);
      // Either the TTL monitor removed the record or the request replaces it: both mean a new request.
      const second = await send(RECORD_VIEW, { postId }, { key });
      expect(second.headers.get('idempotent-replayed')).toBeNull();
      expect(result(second).post.viewCount).toBe(before + 2);
    } finally {
      delete process.env.IDEMPOTENCY_TTL_SECONDS;
      resetEnv();
    }
  });
});

describe('effect layer: a retry that re-executes after a crash applies nothing twice', () => {
  it('recordView', async () => {
    const key = uniqueKey('crash-view');
    await send(RECORD_VIEW, { postId }, { key });
    const before = await readPost(postId);
    await simulateCrashAfterEffect(null, key);
    const retried = await send(RECORD_VIEW, { postId }, { key });
    expect(result(retried).__typename).toBe('RecordViewSuccess');
    expect((await readPost(postId)).viewCount).toBe(before.viewCount);
  });

  it('createPost: one post, counted once on the package and in the totals', async () => {
    const key = uniqueKey('crash-post');
    const input = { title: `crash ${key}`, body: 'b', packageName: 'idem' };
    const first = await send(CREATE_POST, { input }, { token: alice, key });
    const pkgBefore = (await api.db.collection('packages').findOne({ _id: 'idem' as never }))!;
    const statsBefore = await stats();
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(CREATE_POST, { input }, { token: alice, key });
    expect(result(retried).post.id).toBe(result(first).post.id);
    expect(await api.db.collection('posts').countDocuments({ title: input.title })).toBe(1);
    expect((await api.db.collection('packages').findOne({ _id: 'idem' as never }))!.postCount).toBe(pkgBefore.postCount);
    expect(await stats()).toEqual(statsBefore);
  });

  it('createPost: a crash after the insert, before the count moved: the retry finishes the effect, counted once', async () => {
    const key = uniqueKey('crash-post-early');
    const input = { title: `early ${key}`, body: 'b', packageName: 'idem' };
    const first = await send(CREATE_POST, { input }, { token: alice, key });
    const pkgAfter = (await api.db.collection('packages').findOne({ _id: 'idem' as never }))!.postCount;
    // The state right after the insert: the post holds its pending effect, the package has not counted it yet.
    const { ObjectId } = await import('mongodb');
    const effectId = (await api.db.collection('posts').findOne({ title: input.title }))!.idempotencyKey as string;
    await api.db.collection('posts').updateOne(
      { _id: new ObjectId(result(first).post.id) },
      { $set: { effects: [{ id: effectId, kind: 'createPost', at: new Date(), steps: [{ name: 'postCount', collection: 'packages', target: 'idem', inc: { postCount: 1 } }], pending: ['postCount'], done: [], abort: { delete: true } }] } },
    );
    await api.db.collection('packages').updateOne({ _id: 'idem' as never }, { $inc: { postCount: -1 } });
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(CREATE_POST, { input }, { token: alice, key });
    expect(result(retried).post.id).toBe(result(first).post.id);
    expect(await api.db.collection('posts').countDocuments({ title: input.title })).toBe(1);
    expect((await api.db.collection('packages').findOne({ _id: 'idem' as never }))!.postCount).toBe(pkgAfter);
    expect((await api.db.collection('posts').findOne({ title: input.title }))!.effects).toEqual([]);
  });

  it('createPost: a retry after its post was deleted answers NOT_FOUND, creating nothing', async () => {
    const key = uniqueKey('crash-post-deleted');
    const input = { title: `deleted ${key}`, body: 'b', packageName: 'idem' };
    const first = await send(CREATE_POST, { input }, { token: alice, key });
    expect(result(await send(DELETE_POST, { input: { postId: result(first).post.id, expectedVersion: 1 } }, { token: alice })).__typename).toBe('DeletePostSuccess');
    const countBefore = (await api.db.collection('packages').findOne({ _id: 'idem' as never }))!.postCount;
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(CREATE_POST, { input }, { token: alice, key });
    expect(retried.status).toBe(200);
    expect(result(retried).code).toBe('NOT_FOUND');
    expect(await api.db.collection('posts').countDocuments({ title: input.title, deletedAt: { $exists: false } })).toBe(0);
    expect((await api.db.collection('packages').findOne({ _id: 'idem' as never }))!.postCount).toBe(countBefore);
  });

  it('createPackage: success for its own creator, ALREADY_EXISTS for anyone else, counted once', async () => {
    const key = uniqueKey('crash-package');
    await send(CREATE_PACKAGE, { input: { name: 'crash-pkg', summary: 's' } }, { token: alice, key });
    const statsBefore = await stats();
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(CREATE_PACKAGE, { input: { name: 'crash-pkg', summary: 's' } }, { token: alice, key });
    expect(result(retried).__typename).toBe('CreatePackageSuccess');
    expect(await stats()).toEqual(statsBefore);
    const someoneElse = await send(CREATE_PACKAGE, { input: { name: 'crash-pkg', summary: 's' } }, { token: bob, key: uniqueKey('other') });
    expect(result(someoneElse).code).toBe('ALREADY_EXISTS');
  });

  it('publishRelease: success, not CONFLICT, and totalReleases counted once', async () => {
    const key = uniqueKey('crash-release');
    const input = { packageName: 'idem', version: '1.0.0', sizeBytes: 10 };
    await send(PUBLISH_RELEASE, { input }, { token: alice, key });
    const statsBefore = await stats();
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(PUBLISH_RELEASE, { input }, { token: alice, key });
    expect(result(retried).__typename).toBe('PublishReleaseSuccess');
    expect(result(retried).package.releaseCount).toBe(1);
    expect(await stats()).toEqual(statsBefore);
    // Another request for the same version is still a conflict.
    const other = await send(PUBLISH_RELEASE, { input }, { token: alice, key: uniqueKey('other') });
    expect(result(other).code).toBe('CONFLICT');
  });

  it('updatePackage: success, not CONFLICT, while no other edit followed', async () => {
    const key = uniqueKey('crash-edit');
    const input = { name: 'idem', expectedVersion: 1, summary: 'edited' };
    const first = await send(UPDATE_PACKAGE, { input }, { token: alice, key });
    expect(result(first).package.version).toBe(2);
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(UPDATE_PACKAGE, { input }, { token: alice, key });
    expect(result(retried).__typename).toBe('UpdatePackageSuccess');
    expect(result(retried).package.version).toBe(2);
    // After another edit, the old request is a conflict again (the documented limit: only the last edit's key is kept).
    await send(UPDATE_PACKAGE, { input: { name: 'idem', expectedVersion: 2, summary: 'again' } }, { token: alice });
    await simulateCrashAfterEffect('alice', key);
    const stale = await send(UPDATE_PACKAGE, { input }, { token: alice, key });
    expect(result(stale).code).toBe('CONFLICT');
  });

  it('updatePost: success, not CONFLICT, while no other edit followed', async () => {
    const created = await send(CREATE_POST, { input: { title: 'to edit', body: 'b', packageName: 'idem' } }, { token: alice });
    const key = uniqueKey('crash-edit-post');
    const input = { postId: result(created).post.id, expectedVersion: 1, title: 'edited' };
    expect(result(await send(UPDATE_POST, { input }, { token: alice, key })).post.version).toBe(2);
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(UPDATE_POST, { input }, { token: alice, key });
    expect(result(retried).__typename).toBe('UpdatePostSuccess');
    expect(result(retried).post).toMatchObject({ title: 'edited', version: 2 });
  });

  it('deletePost: the retry is told success (the tombstone remembers the request) and uncounts nothing twice', async () => {
    const created = await send(CREATE_POST, { input: { title: 'to delete', body: 'b', packageName: 'idem' } }, { token: alice });
    const key = uniqueKey('crash-delete');
    const input = { postId: result(created).post.id, expectedVersion: 1 };
    expect(result(await send(DELETE_POST, { input }, { token: alice, key })).__typename).toBe('DeletePostSuccess');
    const pkgBefore = (await api.db.collection('packages').findOne({ _id: 'idem' as never }))!;
    const statsBefore = await stats();
    await simulateCrashAfterEffect('alice', key);
    expect(result(await send(DELETE_POST, { input }, { token: alice, key })).__typename).toBe('DeletePostSuccess');
    expect((await api.db.collection('packages').findOne({ _id: 'idem' as never }))!.postCount).toBe(pkgBefore.postCount);
    expect(await stats()).toEqual(statsBefore);
    // Anyone else's deletion of it (or an unkeyed retry) is NOT_FOUND: the post is gone.
    expect(result(await send(DELETE_POST, { input }, { token: alice })).code).toBe('NOT_FOUND');
  });

  it('likePost and addKeywords are idempotent by construction', async () => {
    const likeKey = uniqueKey('crash-like');
    await send(LIKE_POST, { postId }, { token: bob, key: likeKey });
    await simulateCrashAfterEffect('bob', likeKey);
    const liked = await send(LIKE_POST, { postId }, { token: bob, key: likeKey });
    expect(result(liked).post.viewerHasLiked).toBe(true);
    const post = await readPost(postId);
    expect(post.likeCount).toBe(post.likedBy.length);

    const keywordsKey = uniqueKey('crash-keywords');
    const input = { packageName: 'idem', keywords: ['retry', 'safe'] };
    await send(ADD_KEYWORDS, { input }, { token: alice, key: keywordsKey });
    await simulateCrashAfterEffect('alice', keywordsKey);
    const again = await send(ADD_KEYWORDS, { input }, { token: alice, key: keywordsKey });
    expect(result(again).package.keywords.filter((k: string) => k === 'retry')).toHaveLength(1);
  });
});

describe('one effect per mutation field, not per request', () => {
  const TWO_POSTS = `mutation ($a: CreatePostInput!, $b: CreatePostInput!) {
    a: createPost(input: $a) { __typename ... on CreatePostSuccess { post { id package { name postCount } } } ... on Error { code } }
    b: createPost(input: $b) { __typename ... on CreatePostSuccess { post { id package { name postCount } } } ... on Error { code } }
  }`;
  const TWO_EDITS = `mutation ($a: UpdatePackageInput!, $b: UpdatePackageInput!) {
    a: updatePackage(input: $a) { __typename ... on UpdatePackageSuccess { package { summary version } } ... on ConflictError { code currentVersion } }
    b: updatePackage(input: $b) { __typename ... on UpdatePackageSuccess { package { summary version } } ... on ConflictError { code currentVersion } }
  }`;

  it('two createPost fields under one key create two posts, each counted on its own package; a retry replays both', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'field-one', summary: 's' } }, { token: alice });
    await api.gql(CREATE_PACKAGE, { input: { name: 'field-two', summary: 's' } }, { token: alice });
    const key = uniqueKey('two-fields');
    const variables = { a: { title: `a ${key}`, body: 'b', packageName: 'field-one' }, b: { title: `b ${key}`, body: 'b', packageName: 'field-two' } };
    const first = await send(TWO_POSTS, variables, { token: alice, key });
    expect(first.body.data.a.post.id).not.toBe(first.body.data.b.post.id);
    expect(await api.db.collection('posts').countDocuments({ packageName: 'field-one', title: `a ${key}` })).toBe(1);
    expect(await api.db.collection('posts').countDocuments({ packageName: 'field-two', title: `b ${key}` })).toBe(1);
    for (const name of ['field-one', 'field-two']) expect((await api.db.collection('packages').findOne({ _id: name as never }))!.postCount).toBe(1);
    await simulateCrashAfterEffect('alice', key);
    const retried = await send(TWO_POSTS, variables, { token: alice, key });
    expect(retried.body.data).toEqual(first.body.data);
    expect(await api.db.collection('posts').countDocuments({ packageName: { $in: ['field-one', 'field-two'] } })).toBe(2);
    const replayed = await send(TWO_POSTS, variables, { token: alice, key });
    expect(replayed.text).toBe(retried.text);
  });

  it('two updatePackage fields at one expectedVersion: one success, one CONFLICT, with or without a key', async () => {
    for (const key of [undefined, uniqueKey('two-edits')]) {
      const name = `edited-${crypto.randomUUID().slice(0, 8)}`;
      await api.gql(CREATE_PACKAGE, { input: { name, summary: 's' } }, { token: alice });
      const variables = { a: { name, expectedVersion: 1, summary: 'from a' }, b: { name, expectedVersion: 1, summary: 'from b' } };
      const answer = await send(TWO_EDITS, variables, { token: alice, key });
      expect(answer.body.data.a).toEqual({ __typename: 'UpdatePackageSuccess', package: { summary: 'from a', version: 2 } });
      expect(answer.body.data.b).toEqual({ __typename: 'ConflictError', code: 'CONFLICT', currentVersion: 2 });
      if (key) {
        await simulateCrashAfterEffect('alice', key);
        expect((await send(TWO_EDITS, variables, { token: alice, key })).body.data).toEqual(answer.body.data);
        expect((await send(TWO_EDITS, variables, { token: alice, key })).headers.get('idempotent-replayed')).toBe('true');
      }
    }
  });
});

describe('key records only for requests that pass sign-in, rate limit and input validation', () => {
  const recordCount = () => api.db.collection('idempotencyKeys').countDocuments();

  it('stores nothing for 200 anonymous calls to a mutation that needs a token', async () => {
    const before = await recordCount();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => send(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'idem' } }, { key: uniqueKey(`anon-${i}`) })),
    );
    expect(answers.every((a) => errorCode(a) === 'UNAUTHENTICATED')).toBe(true);
    expect(await recordCount()).toBe(before);
  });

  it('stores nothing for input refused by validation, nor for variables GraphQL cannot coerce', async () => {
    const before = await recordCount();
    const invalid = await send(CREATE_POST, { input: { title: '', body: 'b', packageName: 'idem' } }, { token: alice, key: uniqueKey('invalid') });
    expect(result(invalid).code).toBe('VALIDATION');
    const uncoercible = await send(CREATE_POST, { input: { title: 5, body: ['b'], packageName: 'idem' } }, { token: alice, key: uniqueKey('coerce') });
    expect(uncoercible.body.errors[0].message).toMatch(/Variable "\$input"/);
    expect(await recordCount()).toBe(before);
  });

  it('stores nothing for a rate-limited call: keyed calls count against the limit like any other', async () => {
    process.env.RATE_LIMITS = 'recordView=2/3600';
    resetEnv();
    try {
      const viewer = await api.token(`limited-${crypto.randomUUID().slice(0, 8)}`);
      const before = await recordCount();
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await send(RECORD_VIEW, { postId }, { token: viewer, key: uniqueKey(`rl-${i}`) }));
      expect(answers.map((a) => result(a).__typename)).toEqual(['RecordViewSuccess', 'RecordViewSuccess', 'RateLimitedError']);
      expect(await recordCount()).toBe(before + 2);
    } finally {
      process.env.RATE_LIMITS = 'off';
      resetEnv();
    }
  });

  it('answers 400 for variables nested deeper than any input, at any depth, never a 5xx', async () => {
    // 15,000 levels is as deep as the 100 kB body limit allows.
    for (const depth of [40, 1_000, 15_000]) {
      // Written as text: JSON.stringify itself overflows the stack at these depths.
      const nested = `${'{"n":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
      const variables = `{"input":{"title":"t","body":"b","packageName":"idem"},"extra":${nested}}`;
      const rawBody = `{"query":${JSON.stringify(CREATE_POST)},"variables":${variables}}`;
      const answer = await send('', {}, { token: alice, key: uniqueKey('deep'), rawBody });
      expect(answer.status, String(depth)).toBe(400);
      expect(errorCode(answer)).toBe('VALIDATION');
      expect(answer.body.errors[0].message).toMatch(/nested deeper than 32 levels/);
    }
  });
});

describe('leases and expiry on the database clock', () => {
  afterAll(() => vi.useRealTimers());

  it('an instance whose clock runs 60 s fast cannot take over a live lease', async () => {
    const key = uniqueKey('skew-fast');
    await send(RECORD_VIEW, { postId }, { key });
    const id = keyRecordId(keyScope(null), key);
    // A live holder: in progress, its 30 s lease started now on the database clock.
    await api.db.collection('idempotencyKeys').updateOne(
      { _id: id as never },
      [{ $set: { state: 'in_progress', leaseUntil: { $add: ['$$NOW', 30_000] }, claim: 'someone-else' } }, { $unset: 'response' }],
    );
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60_000);
    const views = (await readPost(postId)).viewCount;
    const answer = await send(RECORD_VIEW, { postId }, { key });
    vi.useRealTimers();
    expect(answer.status).toBe(409);
    expect(errorCode(answer)).toBe('IN_PROGRESS');
    expect((await readPost(postId)).viewCount).toBe(views);
  });

  it('an instance whose clock runs 60 s slow still treats an expired key as expired', async () => {
    process.env.IDEMPOTENCY_TTL_SECONDS = '1';
    resetEnv();
    try {
      const key = uniqueKey('skew-slow');
      const first = await send(RECORD_VIEW, { postId }, { key });
      await sleep(1_100);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() - 60_000);
      const second = await send(RECORD_VIEW, { postId }, { key });
      vi.useRealTimers();
      expect(second.headers.get('idempotent-replayed')).toBeNull();
      expect(result(second).post.viewCount).toBe(result(first).post.viewCount + 1);
    } finally {
      delete process.env.IDEMPOTENCY_TTL_SECONDS;
      resetEnv();
    }
  });
});
