// Parallel registry mutations (yank, drafts, publish tokens, downloads, rankings) with invariants read from the
// database, each next to a naive read-modify-write variant raced the same way, which breaks it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../helpers/documents.js';
import { YANK_RELEASE } from '../registry/documents.js';
import { naiveYankRelease } from './naive-registry-ops.js';

let api: TestApi;
let owner: string;

beforeAll(async () => {
  api = await startApi('registry-race');
  owner = await api.token('owner');
});
afterAll(() => api.close());

const packageDoc = (name: string) => api.db.collection('packages').findOne({ _id: name as never });

async function packageWithReleases(name: string, count: number): Promise<string[]> {
  await api.gql(CREATE_PACKAGE, { input: { name, summary: 's' } }, { token: owner });
  const versions = Array.from({ length: count }, (_, i) => `1.${i}.0`);
  await Promise.all(versions.map((version) => api.gql(PUBLISH_RELEASE, { input: { packageName: name, version, sizeBytes: 1 } }, { token: owner })));
  return versions;
}

describe('yankRelease under concurrency', () => {
  it('30 yanks of distinct releases racing 30 publishes: every yank and every release lands', async () => {
    const versions = await packageWithReleases('yank-race', 30);
    const results = await Promise.all([
      ...versions.map((version) => api.gql(YANK_RELEASE, { input: { packageName: 'yank-race', version, reason: `bad ${version}` } }, { token: owner })),
      ...versions.map((_, i) => api.gql(PUBLISH_RELEASE, { input: { packageName: 'yank-race', version: `2.${i}.0`, sizeBytes: 1 } }, { token: owner })),
    ]);
    expect(results.slice(0, 30).every((r) => r.data!.yankRelease.__typename === 'YankReleaseSuccess')).toBe(true);
    expect(results.slice(30).every((r) => r.data!.publishRelease.__typename === 'PublishReleaseSuccess')).toBe(true);
    const stored = (await packageDoc('yank-race'))!;
    expect(stored.releases).toHaveLength(60);
    expect(stored.releaseCount).toBe(60);
    const yanked = stored.releases.filter((r: { yank?: unknown }) => r.yank != null).map((r: { version: string; yank: { reason: string } }) => [r.version, r.yank.reason]);
    expect(new Map(yanked)).toEqual(new Map(versions.map((v) => [v, `bad ${v}`])));
    const latest = (await api.gql(`{ package(name: "yank-race") { latestRelease { version } } }`)).data!.package.latestRelease.version;
    expect(latest).toBe('2.29.0');
  });

  it('naive read-mark-write yank loses yanks and releases under the same race (the test can fail)', async () => {
    const versions = await packageWithReleases('naive-yank', 30);
    await Promise.all([
      ...versions.map((version) => naiveYankRelease(api.db, 'naive-yank', version)),
      ...versions.map((_, i) => api.gql(PUBLISH_RELEASE, { input: { packageName: 'naive-yank', version: `2.${i}.0`, sizeBytes: 1 } }, { token: owner })),
    ]);
    const stored = (await packageDoc('naive-yank'))!;
    const yanked = stored.releases.filter((r: { yank?: unknown }) => r.yank != null).length;
    expect(yanked < 30 || stored.releases.length < 60).toBe(true);
  });
});
