// Packages over real HTTP: createPackage, publishRelease, updatePackage, addKeywords and the package queries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from './helpers/api.js';
import { ADD_KEYWORDS, CREATE_PACKAGE, PACKAGE_FIELDS, PUBLISH_RELEASE, REGISTRY_STATS, UPDATE_PACKAGE } from './helpers/documents.js';

let api: TestApi;
let alice: string;
let bob: string;

beforeAll(async () => {
  api = await startApi('packages', {}, { transport: 'in-process' });
  alice = await api.token('alice', 'Alice');
  bob = await api.token('bob', 'Bob');
});
afterAll(() => api.close());

async function createPackage(name: string, token = alice, summary = 'A package') {
  return (await api.gql(CREATE_PACKAGE, { input: { name, summary } }, { token })).data!.createPackage;
}

async function publish(packageName: string, version: string, token = alice, sizeBytes = 100) {
  return (await api.gql(PUBLISH_RELEASE, { input: { packageName, version, sizeBytes, notes: null } }, { token })).data!.publishRelease;
}

async function countDocuments(collection: string): Promise<number> {
  return api.db.collection(collection).countDocuments();
}

describe('createPackage', () => {
  it('creates a package under its normalized name with the caller as maintainer', async () => {
    const result = await createPackage('Flask_Login.Extra');
    expect(result.__typename).toBe('CreatePackageSuccess');
    expect(result.package).toMatchObject({
      name: 'flask-login-extra',
      displayName: 'Flask_Login.Extra',
      summary: 'A package',
      version: 1,
      releaseCount: 0,
      keywords: [],
      latestRelease: null,
      maintainers: [{ id: 'alice' }],
    });
    const stored = await api.db.collection('packages').findOne({ _id: 'flask-login-extra' as never });
    expect(stored?.maintainers).toEqual(['alice']);
    expect(await api.db.collection('users').findOne({ _id: 'alice' as never })).toMatchObject({ name: 'Alice' });
  });

  it('refuses a name that normalizes to an existing one', async () => {
    await createPackage('requests-oauth');
    const again = await createPackage('Requests__OAuth', bob);
    expect(again).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS' });
    expect(await api.db.collection('packages').countDocuments({ _id: 'requests-oauth' as never })).toBe(1);
  });

  it('requires a token', async () => {
    const response = await api.gql(CREATE_PACKAGE, { input: { name: 'anon-pkg', summary: 'x' } });
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await api.db.collection('packages').countDocuments({ _id: 'anon-pkg' as never })).toBe(0);
  });

  it.each([
    ['an empty name', ''],
    ['a 10,000-character name', 'a'.repeat(10_000)],
    ['a name with spaces', 'my package'],
    ['a name starting with a dot', '.hidden'],
    ['an operator-looking name', '{"$gt": ""}'],
    ['a $-prefixed name', '$where'],
  ])('rejects %s with VALIDATION and writes nothing', async (_label, name) => {
    const before = await countDocuments('packages');
    const result = await createPackage(name);
    expect(result).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION' });
    expect(result.problems.length).toBeGreaterThan(0);
    expect(await countDocuments('packages')).toBe(before);
  });

  it('rejects an empty summary', async () => {
    const result = await createPackage('no-summary', alice, '   ');
    expect(result.code).toBe('VALIDATION');
    expect(await api.db.collection('packages').countDocuments({ _id: 'no-summary' as never })).toBe(0);
  });
});

describe('publishRelease', () => {
  beforeAll(async () => {
    await createPackage('releases-demo');
  });

  it('appends a release, counts it, and moves lastUpdated', async () => {
    const before = (await api.gql(REGISTRY_STATS)).data!.registryStats.totalReleases;
    const result = await publish('releases-demo', '1.0.0');
    expect(result.__typename).toBe('PublishReleaseSuccess');
    expect(result.release).toMatchObject({ version: '1.0.0', sizeBytes: 100, notes: null });
    expect(result.package).toMatchObject({ releaseCount: 1, latestRelease: { version: '1.0.0' }, version: 1 });
    expect(result.package.lastUpdated).toBe(result.release.publishedAt);
    expect((await api.gql(REGISTRY_STATS)).data!.registryStats.totalReleases).toBe(before + 1);
  });

  it('keeps releases in semver order whatever the publishing order; latestRelease is the highest stable one', async () => {
    await publish('releases-demo', '1.10.0');
    await publish('releases-demo', '1.9.0');
    await publish('releases-demo', '2.0.0-rc.1');
    await publish('releases-demo', '2.0.0-beta.11');
    await publish('releases-demo', '2.0.0-beta.2');
    const result = await publish('releases-demo', '0.1.0');
    expect(result.package.latestRelease.version).toBe('1.10.0');
    expect(result.package.releases.map((r: { version: string }) => r.version)).toEqual([
      '2.0.0-rc.1', '2.0.0-beta.11', '2.0.0-beta.2', '1.10.0', '1.9.0', '1.0.0', '0.1.0',
    ]);
    expect((await publish('releases-demo', '2.0.0')).package.latestRelease.version).toBe('2.0.0');
  });

  it('answers CONFLICT for a version that exists, NOT_FOUND for an unknown package, FORBIDDEN for non-maintainers', async () => {
    expect(await publish('releases-demo', '1.0.0')).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
    expect(await publish('no-such-package', '1.0.0')).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await publish('releases-demo', '9.9.9', bob)).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const stored = await api.db.collection('packages').findOne({ _id: 'releases-demo' as never });
    expect(stored?.releases.some((r: { version: string }) => r.version === '9.9.9')).toBe(false);
  });

  it.each([
    ['not semver', '1.0', 10],
    ['a v prefix', 'v1.2.3', 10],
    ['build metadata', '1.2.3+build.5', 10],
    ['a negative size', '3.0.0', -1],
    ['an operator-looking version', '{"$gt": ""}', 10],
    ['a prerelease number semver cannot order exactly', '1.0.0-10000000000000000', 10],
  ])('rejects %s with VALIDATION and changes nothing', async (_label, version, sizeBytes) => {
    const before = await api.db.collection('packages').findOne({ _id: 'releases-demo' as never });
    const result = await publish('releases-demo', version, alice, sizeBytes);
    expect(result.code).toBe('VALIDATION');
    const after = await api.db.collection('packages').findOne({ _id: 'releases-demo' as never });
    expect(after).toEqual(before);
  });

  it('rejects a non-integer size before running the mutation', async () => {
    const response = await api.gql(PUBLISH_RELEASE, { input: { packageName: 'releases-demo', version: '4.0.0', sizeBytes: 1.5 } }, { token: alice });
    expect(response.errors?.[0]?.message).toMatch(/Int/);
    expect(response.data).toBeUndefined();
  });

  it('stores notes that look like operators as plain text', async () => {
    const response = await api.gql(PUBLISH_RELEASE, { input: { packageName: 'releases-demo', version: '5.0.0', sizeBytes: 1, notes: '$releaseCount' } }, { token: alice });
    expect(response.data!.publishRelease.release.notes).toBe('$releaseCount');
  });
});

describe('updatePackage', () => {
  beforeAll(async () => {
    await createPackage('editable');
  });

  it('applies an edit at the expected version and bumps it', async () => {
    const result = (await api.gql(UPDATE_PACKAGE, { input: { name: 'editable', expectedVersion: 1, summary: 'New summary' } }, { token: alice })).data!.updatePackage;
    expect(result.__typename).toBe('UpdatePackageSuccess');
    expect(result.package).toMatchObject({ summary: 'New summary', description: '', version: 2 });
  });

  it('answers CONFLICT with the current version for a stale expectedVersion', async () => {
    const result = (await api.gql(UPDATE_PACKAGE, { input: { name: 'editable', expectedVersion: 1, description: 'stale' } }, { token: alice })).data!.updatePackage;
    expect(result).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', currentVersion: 2 });
    const stored = await api.db.collection('packages').findOne({ _id: 'editable' as never });
    expect(stored?.description).toBe('');
  });

  it('is not disturbed by a release published in between', async () => {
    expect((await publish('editable', '1.0.0')).__typename).toBe('PublishReleaseSuccess');
    const result = (await api.gql(UPDATE_PACKAGE, { input: { name: 'editable', expectedVersion: 2, description: 'Docs' } }, { token: alice })).data!.updatePackage;
    expect(result.__typename).toBe('UpdatePackageSuccess');
    expect(result.package).toMatchObject({ version: 3, releaseCount: 1, description: 'Docs' });
  });

  it('answers FORBIDDEN to non-maintainers, NOT_FOUND for unknown packages, VALIDATION with nothing to change', async () => {
    const forbidden = (await api.gql(UPDATE_PACKAGE, { input: { name: 'editable', expectedVersion: 3, summary: 'x' } }, { token: bob })).data!.updatePackage;
    expect(forbidden.code).toBe('FORBIDDEN');
    const missing = (await api.gql(UPDATE_PACKAGE, { input: { name: 'nope', expectedVersion: 1, summary: 'x' } }, { token: alice })).data!.updatePackage;
    expect(missing.code).toBe('NOT_FOUND');
    const empty = (await api.gql(UPDATE_PACKAGE, { input: { name: 'editable', expectedVersion: 3 } }, { token: alice })).data!.updatePackage;
    expect(empty.code).toBe('VALIDATION');
    expect((await api.db.collection('packages').findOne({ _id: 'editable' as never }))?.version).toBe(3);
  });
});

describe('addKeywords', () => {
  beforeAll(async () => {
    await createPackage('tagged');
  });

  it('adds keywords once each, normalized, and finds the package by each of them', async () => {
    const result = (await api.gql(ADD_KEYWORDS, { input: { packageName: 'tagged', keywords: ['HTTP', 'client', 'http'] } }, { token: alice })).data!.addKeywords;
    expect(result.package.keywords).toEqual(['http', 'client']);
    const again = (await api.gql(ADD_KEYWORDS, { input: { packageName: 'tagged', keywords: ['client', 'async'] } }, { token: alice })).data!.addKeywords;
    expect(again.package.keywords).toEqual(['http', 'client', 'async']);
    for (const keyword of ['async', 'client', 'http']) {
      const found = (await api.gql(`query ($k: String) { packages(keyword: $k, first: 10) { edges { node { name } } } }`, { k: keyword.toUpperCase() })).data!;
      expect(found.packages.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['tagged']);
    }
    expect((await api.gql(`{ packages(keyword: "none-such", first: 10) { edges { node { name } } } }`)).data!.packages.edges).toEqual([]);
    expect((await api.gql(`{ packages(keyword: "$bad", first: 10) { edges { node { name } } } }`)).errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('lets only maintainers add keywords, and a refused call adds none', async () => {
    const result = (await api.gql(ADD_KEYWORDS, { input: { packageName: 'tagged', keywords: ['sneaky'] } }, { token: bob })).data!.addKeywords;
    expect(result.code).toBe('FORBIDDEN');
    expect(await api.db.collection('packages').countDocuments({ keywords: 'sneaky' })).toBe(0);
  });

  it('refuses invalid keywords and more than 50 per package', async () => {
    const invalid = (await api.gql(ADD_KEYWORDS, { input: { packageName: 'tagged', keywords: ['ok', '$bad'] } }, { token: alice })).data!.addKeywords;
    expect(invalid.code).toBe('VALIDATION');
    for (let batch = 0; batch < 2; batch++) {
      const keywords = Array.from({ length: 20 }, (_, i) => `k${batch}-${i}`);
      expect((await api.gql(ADD_KEYWORDS, { input: { packageName: 'tagged', keywords } }, { token: alice })).data!.addKeywords.__typename).toBe('AddKeywordsSuccess');
    }
    const overflow = (await api.gql(ADD_KEYWORDS, { input: { packageName: 'tagged', keywords: Array.from({ length: 8 }, (_, i) => `z${i}`) } }, { token: alice })).data!.addKeywords;
    expect(overflow.code).toBe('VALIDATION');
    const stored = await api.db.collection('packages').findOne({ _id: 'tagged' as never });
    expect(stored?.keywords).toHaveLength(43);
  });
});

describe('package queries', () => {
  it('finds a package by any spelling of its name and returns null for unknown or invalid names', async () => {
    await createPackage('Query.Me');
    const found = await api.gql(`query ($name: String!) { package(name: $name) { ${PACKAGE_FIELDS} } }`, { name: 'QUERY_me' });
    expect(found.data!.package.name).toBe('query-me');
    expect((await api.gql(`{ package(name: "unknown-package") { name } }`)).data!.package).toBeNull();
    expect((await api.gql(`{ package(name: "{\\"$gt\\": \\"\\"}") { name } }`)).data!.package).toBeNull();
  });

  it('pages through packages newest update first without gaps or repeats', async () => {
    const all: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await api.gql(`query ($after: String) { packages(first: 3, after: $after) { edges { cursor node { name lastUpdated } } pageInfo { hasNextPage endCursor } } }`, { after })).data!.packages;
      all.push(...page.edges.map((e: { node: { name: string } }) => e.node.name));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    const stored = await api.db.collection('packages').find({}).sort({ lastUpdated: -1, _id: -1 }).toArray();
    expect(all).toEqual(stored.map((p) => p._id));
    expect(new Set(all).size).toBe(all.length);
  });

  it('refuses pages over 100 items and forged cursors', async () => {
    const tooMany = await api.gql(`{ packages(first: 100000) { edges { node { name } } } }`);
    expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const forged = await api.gql(`{ packages(first: 2, after: "not-a-cursor") { edges { node { name } } } }`);
    expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
