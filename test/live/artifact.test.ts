// Subscriptions in what deploys: the built GraphQL function, run by the Vercel Node launcher's rules in production
// mode, streams SSE events as they happen (not buffered to the end) and ends each response before its maxDuration.
import { ObjectId, MongoClient } from 'mongodb';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/token.js';
import { buildArtifact, startFunction, type Artifact, type RunningFunction } from '../artifact/artifact.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { subscribe } from './sse-client.js';

const SECRET = 'artifact-live-secret-that-is-long-enough-0123456789';
const POST_COUNTERS = 'subscription ($postId: ID!) { postCounters(postId: $postId) { likeCount viewCount } }';

let artifact: Artifact;
let api: RunningFunction;
let client: MongoClient;
let postId: string;

beforeAll(async () => {
  artifact = await buildArtifact();
  const dbName = uniqueDbName('artifact-live');
  client = new MongoClient(getTestMongoUri());
  const post = new ObjectId();
  postId = post.toHexString();
  await client.db(dbName).collection('posts').insertOne({ _id: post, title: 't', body: 'b', authorId: 'a', packageName: 'p', likedBy: [], likeCount: 0, viewCount: 0, lastViewedAt: null, createdAt: new Date(), version: 1 });
  api = await startFunction(artifact.fn('/api/graphql'), { NODE_ENV: 'production', MONGODB_URI: getTestMongoUri(), MONGODB_DB: dbName, AUTH_JWT_SECRET: SECRET });
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await client?.close();
  await artifact?.remove();
});

describe('the deployed function', () => {
  it('streams each change as it happens and closes the response before maxDuration, for the client to resume', async () => {
    const { maxDuration } = JSON.parse(await readFile(join(artifact.fn('/api/graphql').dir, '.vc-config.json'), 'utf8')) as { maxDuration: number };
    const started = Date.now();
    const live = await subscribe(api.url, POST_COUNTERS, { postId });
    expect(live.status).toBe(200);
    expect((await live.next())?.data?.postCounters).toEqual({ likeCount: 0, viewCount: 0 });
    const token = await signToken('fan', { secret: SECRET });
    const liked = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'mutation ($postId: ID!) { likePost(postId: $postId) { __typename } }', variables: { postId } }),
    });
    expect(liked.status).toBe(200);
    // The event arrives while the response is still open: streamed, not buffered.
    const event = await live.next();
    expect(event?.data?.postCounters).toEqual({ likeCount: 1, viewCount: 0 });
    expect(event?.id).toMatch(/^[0-9a-f]+$/i);
    expect(await live.next()).toBeNull();
    const open = Date.now() - started;
    expect(live.completed).toBe(false);
    expect(open).toBeLessThan(maxDuration * 1000);
    expect(open).toBeGreaterThan((maxDuration - 3) * 1000);
    // Resuming from its id on a new response continues after it.
    const resumed = await subscribe(api.url, POST_COUNTERS, { postId }, { lastEventId: event!.id });
    await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'mutation ($postId: ID!) { unlikePost(postId: $postId) { __typename } }', variables: { postId } }),
    });
    expect((await resumed.next())?.data?.postCounters).toEqual({ likeCount: 0, viewCount: 0 });
    resumed.abort();
  }, 60_000);
});
