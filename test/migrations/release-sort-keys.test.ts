// The release sortKey migration on a real database: rewrites old 16-digit keys, re-sorts, is idempotent, and
// never loses a release published while it runs (a naive unguarded rewrite, raced the same way, does).
import { MongoClient, type Db } from 'mongodb';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateReleaseSortKeys } from '../../scripts/migrations/release-sort-keys.js';
import { releaseSortKey } from '../../src/packages/release-version.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';

interface Release {
  version: string;
  sortKey: string;
  sizeBytes: number;
  notes: string | null;
  publishedAt: Date;
}

let client: MongoClient;
let db: Db;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  db = client.db(uniqueDbName('release-sort-keys'));
});
afterAll(() => client.close());

/** The key format before the migration: numbers padded to 16 digits, so 17 digits sorted below 16. */
function legacySortKey(version: string): string {
  const parsed = semver.parse(version)!;
  const pad = (n: number | string) => String(n).padStart(16, '0');
  const core = `${pad(parsed.major)}.${pad(parsed.minor)}.${pad(parsed.patch)}`;
  if (parsed.prerelease.length === 0) return `${core}~`;
  const ids = parsed.prerelease.map((id) => (typeof id === 'number' || /^\d+$/.test(id) ? `0${pad(id)}` : `1${id}`));
  return `${core}-${ids.join('!')}`;
}

function release(version: string, key: (v: string) => string): Release {
  return { version, sortKey: key(version), sizeBytes: 1, notes: null, publishedAt: new Date(0) };
}

/** Releases as publishRelease stores them: highest sortKey first. */
function byKeyDesc(releases: Release[]): Release[] {
  return [...releases].sort((a, b) => (a.sortKey < b.sortKey ? 1 : a.sortKey > b.sortKey ? -1 : 0));
}

async function insertLegacyPackage(collection: string, id: string, versions: string[]): Promise<void> {
  await db.collection(collection).insertOne({
    _id: id as never,
    releases: byKeyDesc(versions.map((v) => release(v, legacySortKey))),
    releaseCount: versions.length,
  });
}

async function releasesOf(collection: string, id: string): Promise<Release[]> {
  const doc = await db.collection<{ _id: string; releases: Release[] }>(collection).findOne({ _id: id });
  return doc!.releases;
}

describe('migrateReleaseSortKeys', () => {
  it('rewrites old keys, puts the highest release first, and changes nothing on a second run', async () => {
    const versions = ['1.0.0-9999999999999998', '1.0.0-10000000000000000', '1.0.0', '0.9.0', '1.0.0-alpha', '1.0.0-2'];
    await insertLegacyPackage('packages', 'legacy', versions);
    await db.collection('packages').insertOne({ _id: 'empty' as never, releases: [], releaseCount: 0 });
    // Before: the 17-digit prerelease sorts below the 16-digit one.
    const before = (await releasesOf('packages', 'legacy')).map((r) => r.version);
    expect(before.indexOf('1.0.0-10000000000000000')).toBeGreaterThan(before.indexOf('1.0.0-9999999999999998'));

    expect(await migrateReleaseSortKeys(db)).toBe(versions.length);

    const after = await releasesOf('packages', 'legacy');
    expect(after.map((r) => r.sortKey)).toEqual(after.map((r) => releaseSortKey(r.version)));
    expect(after.map((r) => r.version)).toEqual([
      '1.0.0', '1.0.0-alpha', '1.0.0-10000000000000000', '1.0.0-9999999999999998', '1.0.0-2', '0.9.0',
    ]);
    // Every other field of a release is carried over.
    expect(after.every((r) => r.sizeBytes === 1 && r.notes === null && r.publishedAt.getTime() === 0)).toBe(true);

    expect(await migrateReleaseSortKeys(db)).toBe(0);
    expect(await releasesOf('packages', 'legacy')).toEqual(after);
  });

  it('keeps every release published while it runs', async () => {
    const { published, expected } = await raceWithPublishes('packages', () => migrateReleaseSortKeys(db));
    expect(published).toBeGreaterThan(0);
    for (const [id, count] of expected) {
      const releases = await releasesOf('packages', id);
      expect(releases, id).toHaveLength(count);
      expect(releases.map((r) => r.sortKey)).toEqual(byKeyDesc(releases).map((r) => r.sortKey));
      expect(releases.every((r) => r.sortKey === releaseSortKey(r.version))).toBe(true);
    }
  });

  it('naive rewrite (read, then $set without a guard) loses releases published meanwhile (the test can fail)', async () => {
    const { expected } = await raceWithPublishes('naivePackages', () => naiveMigrate('naivePackages'));
    let lost = 0;
    for (const [id, count] of expected) lost += count - (await releasesOf('naivePackages', id)).length;
    expect(lost).toBeGreaterThan(0);
  });
});

/**
 * Seeds packages with legacy keys, then runs the migration while publishes ($push, as publishRelease appends)
 * land on the same packages. Returns how many releases each package must end with.
 */
async function raceWithPublishes(collection: string, migrate: () => Promise<unknown>) {
  const ids = Array.from({ length: 20 }, (_, i) => `race-${collection}-${i}`);
  const expected = new Map<string, number>();
  for (const id of ids) {
    const versions = Array.from({ length: 40 }, (_, i) => `1.0.0-${10_000_000_000_000_000 + i}`);
    await insertLegacyPackage(collection, id, versions);
    expected.set(id, versions.length);
  }
  let done = false;
  let published = 0;
  const publishers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !done; i++) {
      const id = ids[(w * 7 + i) % ids.length]!;
      await db.collection(collection).updateOne(
        { _id: id as never },
        { $push: { releases: { $each: [release(`2.${w}.${i}`, releaseSortKey)], $sort: { sortKey: -1 } } } as never },
      );
      expected.set(id, expected.get(id)! + 1);
      published++;
    }
  });
  await migrate();
  done = true;
  await Promise.all(publishers);
  return { published, expected };
}

/** DELIBERATELY WRONG: the migration without the guard on the releases it read. */
async function naiveMigrate(collection: string): Promise<void> {
  const packages = db.collection<{ _id: string; releases: Release[] }>(collection);
  for (const { _id, releases } of await packages.find({}).toArray()) {
    const current = (await packages.findOne({ _id }))?.releases ?? releases;
    const migrated = byKeyDesc(current.map((r) => ({ ...r, sortKey: releaseSortKey(r.version) })));
    await packages.updateOne({ _id }, { $set: { releases: migrated } });
  }
}
