// Rate limits kept in MongoDB: RATE_LIMITS syntax, RATE_LIMITED results with retryAfterSeconds and nothing else
// written, every mutation limited (invalid input is refused before, writing nothing), recordView limited per IP too,
// windows that expire through a TTL index.
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSchema } from 'graphql';
import { schema } from '../../src/schema.js';
import { DEFAULT_RATE_LIMITS, parseRateLimits, rulesFor } from '../../src/security/rate-limit-rules.js';
import { enforceRateLimit } from '../../src/security/rate-limit.js';
import { RateLimitedError } from '../../src/errors.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, CREATE_POST, LIKE_POST, RECORD_VIEW } from '../helpers/documents.js';
import { withEnv } from './helpers.js';

describe('RATE_LIMITS', () => {
  it('overrides the built-in limits entry by entry and falls back to "default"', () => {
    const limits = parseRateLimits(' likePost=5/10 , default=7/30,recordView@ip=off ');
    expect(rulesFor(limits, 'likePost')).toEqual({ caller: { limit: 5, windowSeconds: 10 }, ip: null });
    expect(rulesFor(limits, 'createPackage').caller).toEqual({ limit: 10, windowSeconds: 60 }); // built-in entry kept
    expect(rulesFor(limits, 'recordView')).toEqual({ caller: { limit: 600, windowSeconds: 60 }, ip: null });
    expect(rulesFor(parseRateLimits(undefined), 'recordView').ip).toEqual({ limit: 1200, windowSeconds: 60 });
    expect(rulesFor(parseRateLimits('off'), 'likePost')).toEqual({ caller: null, ip: null });
    expect(rulesFor(parseRateLimits('likePost=off'), 'likePost').caller).toBeNull();
  });

  it.each(['likePost=5', 'likepost=5/60', 'likePost=0/60', 'likePost=5/0', 'likePost=5/100000', 'likePost=-1/60', 'likePost:5/60', 'nope@ip=1/1'])(
    'refuses %s with a message naming it',
    (value) => {
      expect(() => parseRateLimits(value)).toThrow(/RATE_LIMITS/);
    },
  );

  it('covers every mutation of the schema: each declares a known rule (the mutation kit requires one)', () => {
    const fields = Object.values(schema.getMutationType()!.getFields());
    expect(fields.length).toBeGreaterThan(0);
    for (const field of fields) expect(Object.keys(DEFAULT_RATE_LIMITS), field.name).toContain(field.extensions.rateLimitRule);
    expect(printSchema(schema)).toContain('type RateLimitedError');
  });
});

let api: TestApi;
let alice: string;
let bob: string;
let postId: string;

beforeAll(async () => {
  api = await startApi('rate-limit', {}, { transport: 'in-process' });
  alice = await api.token('alice');
  bob = await api.token('bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'limited', summary: 's' } }, { token: alice });
  postId = (await api.gql(CREATE_POST, { input: { title: 't', body: 'b', packageName: 'limited' } }, { token: alice })).data!.createPost.post.id;
});
afterAll(() => api.close());

async function snapshotCounts() {
  const pkg = await api.db.collection('packages').findOne({ _id: 'limited' as never });
  return { posts: await api.db.collection('posts').countDocuments(), users: await api.db.collection('users').countDocuments(), pkg };
}

describe('over the limit', () => {
  it('answers RATE_LIMITED with retryAfterSeconds and writes nothing but the counter', async () => {
    const restore = withEnv({ RATE_LIMITS: 'createPost=3/60' });
    try {
      const input = { title: 'limited', body: 'b', packageName: 'limited' };
      const admitted = [];
      for (let i = 0; i < 3; i++) admitted.push((await api.gql(CREATE_POST, { input }, { token: bob })).data!.createPost.__typename);
      expect(admitted).toEqual(['CreatePostSuccess', 'CreatePostSuccess', 'CreatePostSuccess']);
      const before = await snapshotCounts();
      const refused = await api.gql(
        `mutation ($input: CreatePostInput!) { createPost(input: $input) { __typename ... on RateLimitedError { code message retryAfterSeconds } } }`,
        { input },
        { token: bob },
      );
      expect(refused.data!.createPost).toMatchObject({ __typename: 'RateLimitedError', code: 'RATE_LIMITED' });
      expect(refused.data!.createPost.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(refused.data!.createPost.retryAfterSeconds).toBeLessThanOrEqual(60);
      expect(refused.data!.createPost.message).toMatch(/at most 3 per 60 s/);
      // One write, to the counter, and nothing else (DB_TRACE lists every command of the request).
      expect(refused.extensions?.dbOps).toEqual([{ command: 'findAndModify', collection: 'rateLimits' }]);
      expect(await snapshotCounts()).toEqual(before);
      // Another user has a window of their own.
      expect((await api.gql(CREATE_POST, { input }, { token: alice })).data!.createPost.__typename).toBe('CreatePostSuccess');
    } finally {
      restore();
    }
  });

  it('limits every mutation; input refused by validation is not counted and writes nothing', async () => {
    const mutations = Object.values(schema.getMutationType()!.getFields()).map((field) => field.name);
    const restore = withEnv({ RATE_LIMITS: mutations.map((m) => `${m}=1/3600`).join(',') });
    try {
      const token = await api.token('every-mutation');
      for (const mutation of mutations) {
        const [invalidQuery, invalidVariables] = invalidCall(mutation);
        const invalid = await api.gql(invalidQuery, invalidVariables, { token });
        expect(invalid.data?.[mutation]?.code, mutation).toBe('VALIDATION');
        expect(invalid.extensions?.dbOps, mutation).toEqual([]);
        const [query, variables] = validCall(mutation);
        const first = await api.gql(query, variables, { token });
        const second = await api.gql(query, variables, { token });
        expect(first.data?.[mutation]?.code, mutation).not.toBe('RATE_LIMITED');
        expect(second.data?.[mutation]?.code, mutation).toBe('RATE_LIMITED');
      }
    } finally {
      restore();
    }
  });

  it('limits recordView per IP as well, signed in or not', async () => {
    // A window length no other test uses, so this per-IP window (all requests come from 127.0.0.1) starts empty.
    const restore = withEnv({ RATE_LIMITS: 'recordView=100/60,recordView@ip=4/86399' });
    try {
      const viewers = [alice, bob, undefined, await api.token('carol')];
      const admitted = await Promise.all(viewers.map((token) => api.gql(RECORD_VIEW, { postId }, { token })));
      expect(admitted.map((r) => r.data!.recordView.__typename)).toEqual(Array(4).fill('RecordViewSuccess'));
      const viewsBefore = (await api.db.collection('posts').findOne({ _id: new ObjectId(postId) }))!.viewCount;
      const refused = await api.gql(RECORD_VIEW, { postId }, { token: await api.token('dave') });
      expect(refused.data!.recordView.code).toBe('RATE_LIMITED');
      expect((await api.db.collection('posts').findOne({ _id: new ObjectId(postId) }))!.viewCount).toBe(viewsBefore);
    } finally {
      restore();
    }
  });

  it('keeps each window in one document with an expiry the TTL index removes', async () => {
    const restore = withEnv({ RATE_LIMITS: 'likePost=50/60' });
    try {
      await api.gql(LIKE_POST, { postId }, { token: alice });
      await api.gql(LIKE_POST, { postId }, { token: alice });
      const windows = await api.db.collection('rateLimits').find({ _id: { $regex: '^likePost:user:alice:' } as never }).toArray();
      expect(windows).toHaveLength(1);
      const [window] = windows;
      expect(window!.count).toBe(2);
      const start = Number(String(window!._id).split(':').pop()) * 1000;
      expect(start % 60_000).toBe(0);
      expect(window!.expiresAt).toEqual(new Date(start + 60_000));
      const indexes = await api.db.collection('rateLimits').indexes();
      expect(indexes.find((index) => index.name === 'rate_limits_ttl')).toMatchObject({ key: { expiresAt: 1 }, expireAfterSeconds: 0 });
    } finally {
      restore();
    }
  });

  it('writes no counter at all with RATE_LIMITS=off', async () => {
    const before = await api.db.collection('rateLimits').countDocuments();
    const response = await api.gql(LIKE_POST, { postId }, { token: bob });
    expect(response.data!.likePost.__typename).toBe('LikePostSuccess');
    expect(response.extensions?.dbOps?.some((op) => op.collection === 'rateLimits')).toBe(false);
    expect(await api.db.collection('rateLimits').countDocuments()).toBe(before);
  });
});

describe('the counter itself', () => {
  it('admits exactly the limit under concurrency and counts every attempt, with the window computed from the clock', async () => {
    const restore = withEnv({ RATE_LIMITS: 'unlikePost=7/60' });
    try {
      const now = Date.UTC(2030, 0, 1, 0, 0, 30);
      const ctx = { db: api.db, viewer: { id: 'racer', name: null }, clientIp: '10.0.0.1' };
      const outcomes = await Promise.allSettled(Array.from({ length: 40 }, () => enforceRateLimit(ctx, 'unlikePost', now)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(7);
      const refusals = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason);
      expect(refusals.every((e) => e instanceof RateLimitedError && e.retryAfterSeconds === 30)).toBe(true);
      const window = await api.db.collection('rateLimits').findOne({ _id: `unlikePost:user:racer:${Date.UTC(2030, 0, 1) / 1000}` as never });
      expect(window!.count).toBe(40);
      // The next window starts empty.
      await expect(enforceRateLimit(ctx, 'unlikePost', now + 30_000)).resolves.toBeUndefined();
    } finally {
      restore();
    }
  });
});

const MISSING_POST = '0123456789abcdef01234567';

/** A call of the mutation that passes every input check (its target may not exist: NOT_FOUND is fine here). */
function validCall(mutation: string): [string, Record<string, unknown>] {
  const inputs: Record<string, Record<string, unknown>> = {
    createPackage: { name: 'rate-limited-new', summary: 's' },
    publishRelease: { packageName: 'missing', version: '1.0.0', sizeBytes: 1 },
    updatePackage: { name: 'missing', expectedVersion: 1, summary: 's' },
    addKeywords: { packageName: 'missing', keywords: ['a'] },
    createPost: { title: 't', body: 'b', packageName: 'missing' },
    updatePost: { postId: MISSING_POST, expectedVersion: 1, title: 't' },
    deletePost: { postId: MISSING_POST, expectedVersion: 1 },
    yankRelease: { packageName: 'missing', version: '1.0.0', reason: 'r' },
    unyankRelease: { packageName: 'missing', version: '1.0.0' },
    createReleaseDraft: { packageName: 'missing', version: '1.0.0' },
    updateReleaseDraft: { packageName: 'missing', version: '1.0.0', notes: 'n' },
    publishReleaseDraft: { packageName: 'missing', version: '1.0.0' },
    deleteReleaseDraft: { packageName: 'missing', version: '1.0.0' },
    createPublishToken: { name: 'ci', packageNames: ['missing'] },
    recordDownload: { packageName: 'missing', version: '1.0.0' },
    sponsorPackage: { packageName: 'missing', amount: 1 },
    withdrawSponsorship: { packageName: 'missing', amount: 1 },
    requestPayout: { amount: 1 },
  };
  return callWith(mutation, inputs[mutation], MISSING_POST);
}

/** A call of the mutation that passes GraphQL validation but fails its input schema. */
function invalidCall(mutation: string): [string, Record<string, unknown>] {
  const inputs: Record<string, Record<string, unknown>> = {
    createPackage: { name: '', summary: '' },
    publishRelease: { packageName: '', version: 'x', sizeBytes: -1 },
    updatePackage: { name: '', expectedVersion: 0 },
    addKeywords: { packageName: '', keywords: [] },
    createPost: { title: '', body: '', packageName: '' },
    updatePost: { postId: 'x', expectedVersion: 0 },
    deletePost: { postId: 'x', expectedVersion: 0 },
    yankRelease: { packageName: '', version: '' },
    unyankRelease: { packageName: '', version: '' },
    createReleaseDraft: { packageName: '', version: 'x' },
    updateReleaseDraft: { packageName: '', version: 'x' },
    publishReleaseDraft: { packageName: '', version: 'x' },
    deleteReleaseDraft: { packageName: '', version: 'x' },
    createPublishToken: { name: '', packageNames: [] },
    recordDownload: { packageName: '', version: '' },
    sponsorPackage: { packageName: '', amount: 0 },
    withdrawSponsorship: { packageName: '', amount: 0 },
    requestPayout: { amount: 0 },
  };
  return callWith(mutation, inputs[mutation], 'x');
}

function callWith(mutation: string, input: Record<string, unknown> | undefined, postId: string): [string, Record<string, unknown>] {
  const selection = '{ __typename ... on Error { code } }';
  if (mutation === 'revokePublishToken') return [`mutation ($id: ID!) { revokePublishToken(id: $id) ${selection} }`, { id: postId }];
  if (input) {
    const type = `${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input`;
    return [`mutation ($input: ${type}!) { ${mutation}(input: $input) ${selection} }`, { input }];
  }
  return [`mutation ($postId: ID!) { ${mutation}(postId: $postId) ${selection} }`, { postId }];
}
