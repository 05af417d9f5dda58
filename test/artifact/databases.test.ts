// Every database the built function writes to has every index before the first write that relies on one, preview
// databases included; a new preview database is seeded once; unused previews are pruned by the cron function, never
// MONGODB_DB.
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/token.js';
import { ensureIndexes, INDEXES } from '../../src/db/indexes.js';
import { META_COLLECTION, prunePreviewDatabases, recordPreviewUse, USAGE_ID, USAGE_STAMP_INTERVAL_MS } from '../../src/db/previews.js';
import { previewDatabaseName } from '../../src/env.js';
import { CREATE_PACKAGE, CREATE_POST } from '../helpers/documents.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { rawRequest } from '../security/helpers.js';
import { buildArtifact, startFunction, type Artifact, type RunningFunction } from './artifact.js';
import { startInsertWatchProxy } from './insert-watch-proxy.js';

const SECRET = 'artifact-secret-that-is-long-enough-for-hs256-0123456789';
const CRON_SECRET = 'cron-secret-0123456789abcdef';
const DAY_MS = 24 * 60 * 60 * 1000;

let artifact: Artifact;
let client: MongoClient;
let token: string;
const running: RunningFunction[] = [];

beforeAll(async () => {
  artifact = await buildArtifact();
  client = new MongoClient(getTestMongoUri());
  token = await signToken('db-user', { name: 'Db', secret: SECRET });
});
afterAll(async () => {
  await Promise.all(running.map((fn) => fn.stop()));
  await client?.close();
  await artifact?.remove();
});

async function graphql(env: Record<string, string>): Promise<RunningFunction> {
  const fn = await startFunction(artifact.fn('/api/graphql'), { NODE_ENV: 'production', AUTH_JWT_SECRET: SECRET, MONGODB_URI: getTestMongoUri(), ...env });
  running.push(fn);
  return fn;
}

function gql(fn: RunningFunction, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return rawRequest(fn.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
}

async function indexNames(dbName: string): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const collection of Object.keys(INDEXES)) {
    const indexes = await client.db(dbName).collection(collection).listIndexes().toArray().catch(() => []);
    found[collection] = indexes.map((index) => index.name as string).filter((name) => name !== '_id_').sort();
  }
  return found;
}

const EXPECTED_INDEXES = Object.fromEntries(Object.entries(INDEXES).map(([collection, list]) => [collection, list.map((index) => index.name!).sort()]));

describe('indexes', () => {
  it('exist in a fresh database before a keyed createPost retried after its instance died mid-request writes twice', async () => {
    const dbName = uniqueDbName('artifact-crash');
    const proxy = await startInsertWatchProxy(getTestMongoUri(), 'posts');
    try {
      const first = await graphql({ MONGODB_URI: proxy.uri, MONGODB_DB: dbName, IDEMPOTENCY_LEASE_SECONDS: '1' });
      expect((await gql(first, CREATE_PACKAGE, { input: { name: 'crashy', summary: 's' } })).json.data.createPackage.__typename).toBe('CreatePackageSuccess');
      const input = { title: 'only once', body: 'b', packageName: 'crashy' };
      const key = { 'idempotency-key': 'crash-key-1' };
      const lost = gql(first, CREATE_POST, { input }, key).catch(() => null);
      await proxy.applied;
      await first.kill();
      await lost;
      expect(await client.db(dbName).collection('posts').countDocuments({ title: 'only once' })).toBe(1);

      // A new instance takes the retry once the dead one's lease on the key has run out.
      const second = await graphql({ MONGODB_DB: dbName, IDEMPOTENCY_LEASE_SECONDS: '1' });
      let answer: any;
      for (let attempt = 0; attempt < 40; attempt++) {
        answer = (await gql(second, CREATE_POST, { input }, key)).json;
        if (answer.data?.createPost) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(answer.data.createPost.__typename).toBe('CreatePostSuccess');
      expect(await client.db(dbName).collection('posts').countDocuments({ title: 'only once' })).toBe(1);
      expect(await indexNames(dbName)).toEqual(EXPECTED_INDEXES);
    } finally {
      await proxy.close();
    }
  });

  it('are created once by concurrent first requests to two instances, and production gets no demo data', async () => {
    const dbName = uniqueDbName('artifact-concurrent');
    const [a, b] = await Promise.all([graphql({ MONGODB_DB: dbName }), graphql({ MONGODB_DB: dbName })]);
    const responses = await Promise.all(Array.from({ length: 16 }, (_, i) => gql(i % 2 ? a : b, '{ package(name: "atomic-counter") { name } registryStats { totalPackages } }')));
    for (const response of responses) expect(response.json).toEqual({ data: { package: null, registryStats: { totalPackages: 0 } } });
    expect(await indexNames(dbName)).toEqual(EXPECTED_INDEXES);
    expect(await client.db(dbName).collection(META_COLLECTION).countDocuments()).toBe(0);
  });

  it('are all created around one that exists with another definition, which is reported and left as it is', async () => {
    const db = client.db(uniqueDbName('index-conflict'));
    const [collection, indexes] = Object.entries(INDEXES)[0]!;
    const taken = indexes[0]!;
    await db.collection(collection).createIndex({ somethingElse: 1 }, { name: taken.name });
    const conflicts = await ensureIndexes(db);
    expect(conflicts.map((c) => [c.collection, c.name])).toEqual([[collection, taken.name]]);
    const found = await indexNames(db.databaseName);
    expect(found).toEqual(EXPECTED_INDEXES);
    await db.dropDatabase();
  });
});

describe('preview databases', () => {
  it('are seeded once with the demo data on first use, get every index and record their last use', async () => {
    const branch = `artifact/${uniqueDbName('seed')}`;
    const dbName = previewDatabaseName(branch);
    const env = { VERCEL_ENV: 'preview', VERCEL_GIT_COMMIT_REF: branch, MONGODB_DB: 'registry' };
    const [a, b] = await Promise.all([graphql(env), graphql(env)]);
    try {
      const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => gql(i % 2 ? a : b, '{ package(name: "atomic-counter") { name releaseCount } }')));
      for (const response of responses) expect(response.json.data.package).toEqual({ name: 'atomic-counter', releaseCount: 3 });
      const db = client.db(dbName);
      expect(await db.collection('posts').countDocuments()).toBe(1);
      expect(await indexNames(dbName)).toEqual(EXPECTED_INDEXES);
      expect((await db.collection(META_COLLECTION).findOne({ _id: USAGE_ID as never }))?.lastUsedAt).toBeInstanceOf(Date);
      expect(await client.db('registry').collection('packages').countDocuments({ _id: 'atomic-counter' as never })).toBe(0);
    } finally {
      await client.db(dbName).dropDatabase();
    }
  });

  it('record their last use at most once per hour per instance', async () => {
    const db = client.db(`preview_${uniqueDbName('stamp')}`.slice(0, 63));
    const usage = db.collection<{ _id: string; lastUsedAt: Date }>(META_COLLECTION);
    const t0 = Date.now();
    await recordPreviewUse(db, t0);
    const stamped = (await usage.findOne({ _id: USAGE_ID }))!.lastUsedAt;
    await usage.updateOne({ _id: USAGE_ID }, { $set: { lastUsedAt: new Date(0) } });
    expect(recordPreviewUse(db, t0 + USAGE_STAMP_INTERVAL_MS - 1)).toBeUndefined();
    expect((await usage.findOne({ _id: USAGE_ID }))!.lastUsedAt).toEqual(new Date(0));
    await recordPreviewUse(db, t0 + USAGE_STAMP_INTERVAL_MS);
    expect((await usage.findOne({ _id: USAGE_ID }))!.lastUsedAt.getTime()).toBeGreaterThanOrEqual(stamped.getTime());
    await db.dropDatabase();
  });

  it('unused for PREVIEW_TTL_DAYS are dropped by the cron function, which answers only the scheduler', async () => {
    const suffix = uniqueDbName('p').slice(0, 30);
    const names = { stale: `preview_stale_${suffix}`, fresh: `preview_fresh_${suffix}`, unstamped: `preview_new_${suffix}`, other: `keep_${suffix}` };
    const now = Date.now();
    for (const [name, lastUsedAt] of [
      [names.stale, new Date(now - 15 * DAY_MS)],
      [names.fresh, new Date(now - 13 * DAY_MS)],
      [names.other, new Date(now - 100 * DAY_MS)],
    ] as const) {
      await client.db(name).collection(META_COLLECTION).insertOne({ _id: USAGE_ID as never, lastUsedAt });
    }
    await client.db(names.unstamped).collection('packages').insertOne({ _id: 'x' as never });
    const prune = await startFunction(artifact.fn('/api/cron/previews-prune'), {
      NODE_ENV: 'production',
      AUTH_JWT_SECRET: SECRET,
      MONGODB_URI: getTestMongoUri(),
      MONGODB_DB: 'registry',
      CRON_SECRET,
    });
    running.push(prune);
    expect((await rawRequest(prune.url)).status).toBe(401);
    expect((await rawRequest(prune.url, { headers: { authorization: `Bearer ${CRON_SECRET}x` } })).status).toBe(401);
    const answer = await rawRequest(prune.url, { headers: { authorization: `Bearer ${CRON_SECRET}` } });
    expect(answer.status).toBe(200);
    expect(answer.json.dropped).toEqual([names.stale]);
    expect(answer.json.kept).toContain(names.fresh);
    expect(answer.json.stamped).toContain(names.unstamped);
    const { databases } = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
    const remaining = (databases as { name: string }[]).map((d) => d.name);
    expect(remaining).not.toContain(names.stale);
    expect(remaining).toEqual(expect.arrayContaining([names.fresh, names.unstamped, names.other]));
    for (const name of [names.fresh, names.unstamped, names.other]) await client.db(name).dropDatabase();
  });

  it('never include MONGODB_DB, even one that looks like a stale preview', async () => {
    const primary = `preview_primary_${uniqueDbName('p').slice(0, 30)}`;
    await client.db(primary).collection(META_COLLECTION).insertOne({ _id: USAGE_ID as never, lastUsedAt: new Date(0) });
    const report = await prunePreviewDatabases(client, { days: 14, primary });
    expect(report.dropped).not.toContain(primary);
    expect(await client.db(primary).collection(META_COLLECTION).countDocuments()).toBe(1);
    await client.db(primary).dropDatabase();
  });
});
