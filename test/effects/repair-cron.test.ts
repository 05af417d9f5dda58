// The repair cron function as deployed (the built artifact, loaded as Vercel's launcher loads it): it answers only the
// scheduler's `Authorization: Bearer $CRON_SECRET`, and finishes an effect a killed function left pending.
import { MongoClient, ObjectId } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { rawRequest } from '../security/helpers.js';
import { buildArtifact, startFunction, type Artifact, type RunningFunction } from '../artifact/artifact.js';

const CRON_SECRET = 'repair-cron-secret-0123456789';
const dbName = uniqueDbName('repair-cron');
let artifact: Artifact;
let client: MongoClient;
let repair: RunningFunction;

beforeAll(async () => {
  artifact = await buildArtifact();
  client = new MongoClient(getTestMongoUri());
  repair = await startFunction(artifact.fn('/api/cron/repair'), {
    NODE_ENV: 'production',
    AUTH_JWT_SECRET: 'repair-cron-jwt-secret-long-enough-0123456789',
    MONGODB_URI: getTestMongoUri(),
    MONGODB_DB: dbName,
    CRON_SECRET,
  });
}, 120_000);
afterAll(async () => {
  await repair?.stop();
  await client?.close();
  await artifact?.remove();
});

it('refuses anyone but the scheduler, and finishes a createPost a function left half done', async () => {
  const db = client.db(dbName);
  await db.collection('packages').insertOne({ _id: 'cron-pkg' as never, displayName: 'cron-pkg', maintainers: ['a'], releases: [], releaseCount: 0, postCount: 0 });
  // A post inserted with its effect two minutes ago, whose count never moved: its function was killed right after.
  const at = new Date(Date.now() - 120_000);
  await db.collection('posts').insertOne({
    _id: new ObjectId(),
    title: 't',
    body: 'b',
    authorId: 'a',
    packageName: 'cron-pkg',
    likedBy: [],
    likeCount: 0,
    createdAt: at,
    effects: [{ id: 'left-behind', kind: 'createPost', at, steps: [{ name: 'postCount', collection: 'packages', target: 'cron-pkg', inc: { postCount: 1 } }], pending: ['postCount'], done: [], abort: { delete: true } }],
  });
  expect((await rawRequest(repair.url)).status).toBe(401);
  expect((await rawRequest(repair.url, { headers: { authorization: `Bearer ${CRON_SECRET}x` } })).status).toBe(401);
  expect((await db.collection('packages').findOne({ _id: 'cron-pkg' as never }))!.postCount).toBe(0);
  const answer = await rawRequest(repair.url, { headers: { authorization: `Bearer ${CRON_SECRET}` } });
  expect(answer.status).toBe(200);
  expect(answer.json).toMatchObject({ finished: 1, aborted: 0, marksUndone: 0, olderThanSeconds: 60 });
  expect((await db.collection('packages').findOne({ _id: 'cron-pkg' as never }))!.postCount).toBe(1);
  expect(await db.collection('posts').countDocuments({ 'effects.0': { $exists: true } })).toBe(0);
  // A second run finds nothing left to do.
  expect((await rawRequest(repair.url, { headers: { authorization: `Bearer ${CRON_SECRET}` } })).json).toMatchObject({ finished: 0 });
}, 120_000);
