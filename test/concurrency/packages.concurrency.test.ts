// Parallel createPackage, publishRelease, updatePackage, addKeywords and first-write requests; invariants
// read from the database, each next to a naive read-check-write variant raced the same way, which breaks it.
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { ADD_KEYWORDS, CREATE_PACKAGE, PUBLISH_RELEASE, REGISTRY_STATS, UPDATE_PACKAGE } from '../helpers/documents.js';
import { naiveAddKeywords, naiveCreatePackage, naivePublishRelease, naiveUpdatePackage } from './naive-ops.js';

let api: TestApi;
let owner: string;

beforeAll(async () => {
  api = await startApi('packages-race');
  owner = await api.token('owner');
});
afterAll(() => api.close());

async function stats() {
  return (await api.gql(REGISTRY_STATS)).data!.registryStats;
}

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('createPackage under concurrency', () => {
  it('lets exactly one of 50 creators of one name (in any spelling) succeed', async () => {
    const before = await stats();
    const spellings = ['Same.Name', 'same-name', 'SAME_NAME', 'same__name', 'Same-.-Name'];
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const token = await api.token(`creator-${i}`);
        return (await api.gql(CREATE_PACKAGE, { input: { name: spellings[i % spellings.length], summary: 's' } }, { token })).data!.createPackage;
      }),
    );
    expect(results.filter((r) => r.__typename === 'CreatePackageSuccess')).toHaveLength(1);
    expect(results.filter((r) => r.code === 'ALREADY_EXISTS')).toHaveLength(49);
    expect(await api.db.collection('packages').countDocuments({ _id: 'same-name' as never })).toBe(1);
    expect((await stats()).totalPackages).toBe(before.totalPackages + 1);
  });

  it('naive check-then-insert creates the same name several times (the test can fail)', async () => {
    const created = await Promise.all(Array.from({ length: 50 }, () => naiveCreatePackage(api.db, 'naivePackages', 'same-name')));
    expect(created.filter(Boolean).length).toBeGreaterThan(1);
    expect(await api.db.collection('naivePackages').countDocuments({ name: 'same-name' })).toBeGreaterThan(1);
  });

  it('creates a first-time user exactly once under 50 concurrent first requests', async () => {
    const token = await api.token('newcomer', 'New Comer');
    await Promise.all(Array.from({ length: 50 }, (_, i) => api.gql(CREATE_PACKAGE, { input: { name: `newcomer-${i}`, summary: 's' } }, { token })));
    expect(await api.db.collection('users').countDocuments({ _id: 'newcomer' as never })).toBe(1);
    expect(await api.db.collection('packages').countDocuments({ maintainers: 'newcomer' })).toBe(50);
  });
});

describe('publishRelease under concurrency', () => {
  it('stores 60 versions published at once in random order exactly once each, sorted, with the right latest', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'busy', summary: 's' } }, { token: owner });
    const before = await stats();
    const versions = Array.from({ length: 60 }, (_, i) => (i % 3 === 2 ? `${i % 7}.${i}.0-rc.${i}` : `${i % 7}.${i}.${i % 4}`));
    const results = await Promise.all(
      shuffle(versions).map((version) => api.gql(PUBLISH_RELEASE, { input: { packageName: 'busy', version, sizeBytes: 1 } }, { token: owner })),
    );
    expect(results.every((r) => r.data!.publishRelease.__typename === 'PublishReleaseSuccess')).toBe(true);
    const stored = (await api.db.collection('packages').findOne({ _id: 'busy' as never }))!;
    const storedVersions = stored.releases.map((r: { version: string }) => r.version);
    expect(stored.releaseCount).toBe(60);
    expect(storedVersions).toEqual(semver.rsort([...versions]));
    const latest = (await api.gql(`{ package(name: "busy") { latestRelease { version } } }`)).data!.package.latestRelease.version;
    expect(latest).toBe(semver.rsort(versions.filter((v) => !semver.prerelease(v)))[0]);
    expect((await stats()).totalReleases).toBe(before.totalReleases + 60);
  });

  it('lets exactly one of 50 concurrent publishes of one version succeed', async () => {
    const before = await stats();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => api.gql(PUBLISH_RELEASE, { input: { packageName: 'busy', version: '99.0.0', sizeBytes: 1 } }, { token: owner })),
    );
    const outcomes = results.map((r) => r.data!.publishRelease.__typename);
    expect(outcomes.filter((t) => t === 'PublishReleaseSuccess')).toHaveLength(1);
    expect(outcomes.filter((t) => t === 'ConflictError')).toHaveLength(49);
    const stored = (await api.db.collection('packages').findOne({ _id: 'busy' as never }))!;
    expect(stored.releases.filter((r: { version: string }) => r.version === '99.0.0')).toHaveLength(1);
    expect(stored.releaseCount).toBe(stored.releases.length);
    expect((await stats()).totalReleases).toBe(before.totalReleases + 1);
  });

  it('naive read-append-write publish loses releases under the same race (the test can fail)', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'naive-busy', summary: 's' } }, { token: owner });
    const versions = Array.from({ length: 60 }, (_, i) => `1.0.${i}`);
    const acknowledged = await Promise.all(shuffle(versions).map((version) => naivePublishRelease(api.db, 'naive-busy', version)));
    const stored = (await api.db.collection('packages').findOne({ _id: 'naive-busy' as never }))!;
    expect(acknowledged.filter(Boolean)).toHaveLength(60);
    expect(stored.releases.length).toBeLessThan(60);
  });
});

describe('updatePackage under concurrency', () => {
  it('lets exactly one of 50 editors holding the same version win; the rest get CONFLICT with the current version', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'contested', summary: 's' } }, { token: owner });
    const results = await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => api.gql(UPDATE_PACKAGE, { input: { name: 'contested', expectedVersion: 1, summary: `edit ${i}` } }, { token: owner })),
      // Releases published meanwhile must not make an editor's update fail.
      ...Array.from({ length: 5 }, (_, i) => api.gql(PUBLISH_RELEASE, { input: { packageName: 'contested', version: `1.0.${i}`, sizeBytes: 1 } }, { token: owner })),
    ]);
    const updates = results.slice(0, 50).map((r) => r.data!.updatePackage);
    const winners = updates.filter((u) => u.__typename === 'UpdatePackageSuccess');
    expect(winners).toHaveLength(1);
    const conflicts = updates.filter((u) => u.code === 'CONFLICT');
    expect(conflicts).toHaveLength(49);
    expect(conflicts.every((c) => c.currentVersion === 2)).toBe(true);
    const stored = (await api.db.collection('packages').findOne({ _id: 'contested' as never }))!;
    expect(stored.version).toBe(2);
    expect(stored.summary).toBe(winners[0].package.summary);
    expect(stored.releaseCount).toBe(5);
  });

  it('naive read-check-write update lets several stale editors win (the test can fail)', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'naive-contested', summary: 's' } }, { token: owner });
    const wins = await Promise.all(Array.from({ length: 50 }, (_, i) => naiveUpdatePackage(api.db, 'naive-contested', 1, `edit ${i}`)));
    expect(wins.filter(Boolean).length).toBeGreaterThan(1);
  });
});

describe('addKeywords under concurrency', () => {
  it('never duplicates or loses a keyword, and the package is found by each', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'tag-race', summary: 's' } }, { token: owner });
    const pool = ['http', 'json', 'cli', 'async', 'orm', 'db', 'test', 'web'];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api.gql(ADD_KEYWORDS, { input: { packageName: 'tag-race', keywords: [pool[i % 8], pool[(i + 3) % 8], `only-${i % 5}`] } }, { token: owner }),
      ),
    );
    const stored = (await api.db.collection('packages').findOne({ _id: 'tag-race' as never }))!;
    expect(new Set(stored.keywords).size).toBe(stored.keywords.length);
    expect([...stored.keywords].sort()).toEqual([...pool, 'only-0', 'only-1', 'only-2', 'only-3', 'only-4'].sort());
    for (const slug of stored.keywords) {
      const found = await api.gql(`query ($k: String) { packages(keyword: $k, first: 5) { edges { node { name } } } }`, { k: slug });
      expect(found.data!.packages.edges).toEqual([{ node: { name: 'tag-race' } }]);
    }
  });

  it('naive read-merge-write addKeywords loses keywords under the same race (the test can fail)', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'naive-tags', summary: 's' } }, { token: owner });
    await Promise.all(Array.from({ length: 50 }, (_, i) => naiveAddKeywords(api.db, 'naive-tags', [`tag-${i}`])));
    const stored = (await api.db.collection('packages').findOne({ _id: 'naive-tags' as never }))!;
    expect(stored.keywords.length).toBeLessThan(50);
  });
});
