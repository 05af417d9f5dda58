// `npm run migrate` as operators run it, against a database shaped by the previous version: it removes what nothing
// reads any more, the API then works on that old data, and a second run changes nothing.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';

const run = promisify(execFile);
let client: MongoClient;
let db: Db;
const dbName = uniqueDbName('migrate');

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  db = client.db(dbName);
  // The previous version's shape: a keywords collection, a stats document, the maintainer index, recentPostKeys.
  await db.collection('packages').insertOne({
    _id: 'old-package' as never,
    displayName: 'old-package',
    summary: 's',
    maintainers: ['someone'],
    keywords: ['http'],
    releases: [],
    releaseCount: 0,
    postCount: 0,
    version: 1,
    recentPostKeys: ['k1', 'k2'],
  });
  await db.collection('packages').createIndex({ maintainers: 1 }, { name: 'packages_by_maintainer' });
  await db.collection('keywords').insertOne({ _id: 'http' as never, createdAt: new Date() });
  await db.collection('stats').insertOne({ _id: 'registry' as never, totalPackages: 1, totalReleases: 0, totalPosts: 0 });
});
afterAll(() => client.close());

async function migrate(): Promise<string> {
  const { stdout } = await run('npx', ['tsx', 'scripts/migrate.ts'], { env: { ...process.env, MONGODB_URI: getTestMongoUri(), MONGODB_DB: dbName } });
  return stdout.trim();
}

it('removes the dead parts once, and a second run finds nothing to do', async () => {
  expect(await migrate()).toMatch(/removed: collection keywords, collection stats, index packages\.packages_by_maintainer, recentPostKeys from 1 packages/);
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  expect(names).not.toContain('keywords');
  expect(names).not.toContain('stats');
  expect((await db.collection('packages').indexes()).map((i) => i.name)).not.toContain('packages_by_maintainer');
  expect(await db.collection('packages').findOne({ _id: 'old-package' as never })).not.toHaveProperty('recentPostKeys');
  expect(await migrate()).toBe('migrate: 0 release sort keys rewritten; 0 package rankings written; removed: nothing');
}, 60_000);
