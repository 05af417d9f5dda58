// recordDownload is two writes (the package's counters, then the day bucket's copy): cut after the first, as a killed
// function would be, the bucket is behind (or missing) and verify says so; `npm run repair` raises it to the counter,
// also while other downloads of that package race it, and a second run has nothing to do. Without repair (or a later
// download that day) the bucket stays behind, and trendingPackages with it.
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureIndexes } from '../../src/db/indexes.js';
import { findTrendingPackages, recordDownload, utcDay } from '../../src/downloads/download.ops.js';
import { repairRegistry } from '../../src/effects/repair.js';
import { appendRelease, insertPackage } from '../../src/packages/package.ops.js';
import { verifyRegistry } from '../../src/stats/verify.ops.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { Stopped, stoppingAfter } from '../helpers/stopping-db.js';

let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  db = client.db(uniqueDbName('download-repair'));
  await ensureIndexes(db);
});
afterAll(() => client.close());

async function release(name: string): Promise<void> {
  await insertPackage(db, { name, displayName: name, summary: 's', maintainerId: 'm' });
  await appendRelease(db, { name, viewerId: 'm', version: '1.0.0', sizeBytes: 1, notes: null });
}

async function bucketDifferences(name: string) {
  const { differences } = await verifyRegistry(db);
  return differences.filter((d) => d.figure === 'download bucket' && d.where.startsWith(`${name}|`));
}

const today = () => `${utcDay(Date.now())}`;

describe('recordDownload cut after its first write', () => {
  it("the day's first download: no bucket yet; verify reports it in flight, repair copies it, a second repair writes nothing", async () => {
    await release('cut-first');
    await expect(recordDownload(stoppingAfter(db, 1), { name: 'cut-first', version: '1.0.0' })).rejects.toThrow(Stopped);
    expect(await db.collection('downloadBuckets').findOne({ _id: `cut-first|${today()}` as never })).toBeNull();
    expect(await bucketDifferences('cut-first')).toEqual([{ figure: 'download bucket', where: `cut-first|${today()}`, kept: 0, recounted: 1, inFlight: 1 }]);
    expect((await repairRegistry(db, 0)).bucketsSynced).toBe(1);
    expect((await db.collection('downloadBuckets').findOne({ _id: `cut-first|${today()}` as never }))!.count).toBe(1);
    expect(await bucketDifferences('cut-first')).toEqual([]);
    expect((await repairRegistry(db, 0)).bucketsSynced).toBe(0);
  });

  it('every other download of a burst cut short, repair racing the rest: bucket = counter = acknowledged + cut', async () => {
    await release('cut-burst');
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? recordDownload(stoppingAfter(db, 1), { name: 'cut-burst', version: '1.0.0' }).then(() => 'ok', (error: unknown) => (error instanceof Stopped ? 'cut' : 'error'))
          : i % 10 === 5
            ? repairRegistry(db, 0).then(() => 'repair')
            : recordDownload(db, { name: 'cut-burst', version: '1.0.0' }).then((r) => (r.ok ? 'ok' : 'error')),
      ),
    );
    expect(outcomes.filter((o) => o === 'error')).toEqual([]);
    await repairRegistry(db, 0);
    const counted = outcomes.filter((o) => o === 'ok' || o === 'cut').length;
    const pkg = (await db.collection('packages').findOne({ _id: 'cut-burst' as never }))!;
    expect(pkg.downloadCount).toBe(counted);
    expect((await db.collection('downloadBuckets').findOne({ _id: `cut-burst|${today()}` as never }))!.count).toBe(counted);
    expect(await bucketDifferences('cut-burst')).toEqual([]);
  });

  it('naive: with nothing after the cut (no repair, no later download that day) the bucket stays behind, and trending with it (the test can fail)', async () => {
    await release('cut-left');
    await recordDownload(db, { name: 'cut-left', version: '1.0.0' });
    await expect(recordDownload(stoppingAfter(db, 1), { name: 'cut-left', version: '1.0.0' })).rejects.toThrow(Stopped);
    const trending = async () => (await findTrendingPackages(db, 1, 100)).find((row) => row.packageName === 'cut-left')?.downloads;
    expect(await trending()).toBe(1);
    expect(await bucketDifferences('cut-left')).toMatchObject([{ kept: 1, recounted: 2, inFlight: 1 }]);
    await repairRegistry(db, 0);
    expect(await trending()).toBe(2);
  });
});
