// Parallel registry mutations (yank, drafts, publish tokens, downloads, rankings) with invariants read from the
// database, each next to a naive read-modify-write variant raced the same way, which breaks it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../helpers/documents.js';
import { draftKey } from '../../src/packages/draft.ops.js';
import { CREATE_DRAFT, PUBLISH_DRAFT, UPDATE_DRAFT, YANK_RELEASE } from '../registry/documents.js';
import { naivePublishDraft, naiveUpdateDraft, naiveYankRelease } from './naive-registry-ops.js';

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

describe('release drafts under concurrency', () => {
  const draftOf = async (name: string, version: string) => (await packageDoc(name))!.drafts?.[draftKey(version)];

  it('20 editors of notes and 20 of sizeBytes at once, without expectedRevision: every edit lands, per field', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'draft-fields', summary: 's' } }, { token: owner });
    await api.gql(CREATE_DRAFT, { input: { packageName: 'draft-fields', version: '1.0.0', notes: 'start' } }, { token: owner });
    const results = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => api.gql(UPDATE_DRAFT, { input: { packageName: 'draft-fields', version: '1.0.0', notes: `notes ${i}` } }, { token: owner })),
      ...Array.from({ length: 20 }, (_, i) => api.gql(UPDATE_DRAFT, { input: { packageName: 'draft-fields', version: '1.0.0', sizeBytes: 100 + i } }, { token: owner })),
    ]);
    expect(results.every((r) => r.data!.updateReleaseDraft.__typename === 'UpdateReleaseDraftSuccess')).toBe(true);
    const draft = (await draftOf('draft-fields', '1.0.0'))!;
    expect(draft.revision).toBe(41);
    expect(draft.notes).toMatch(/^notes \d+$/);
    expect(draft.sizeBytes).toBeGreaterThanOrEqual(100);
    // Each answer saw its own edit applied: revisions 2..41, each once.
    expect(results.map((r) => r.data!.updateReleaseDraft.draft.revision).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 2));
  });

  it('naive read-merge-write of the whole draft loses edits under the same race (the test can fail)', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'naive-draft-fields', summary: 's' } }, { token: owner });
    await api.gql(CREATE_DRAFT, { input: { packageName: 'naive-draft-fields', version: '1.0.0', notes: 'start' } }, { token: owner });
    const key = draftKey('1.0.0');
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => naiveUpdateDraft(api.db, 'naive-draft-fields', key, { notes: `notes ${i}` })),
      ...Array.from({ length: 20 }, (_, i) => naiveUpdateDraft(api.db, 'naive-draft-fields', key, { sizeBytes: 100 + i })),
    ]);
    const draft = (await draftOf('naive-draft-fields', '1.0.0'))!;
    expect(draft.revision).toBeLessThan(41);
  });

  it('30 editors holding the same revision: one wins, 29 get CONFLICT with the revision after it', async () => {
    await api.gql(CREATE_DRAFT, { input: { packageName: 'draft-fields', version: '2.0.0' } }, { token: owner });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => api.gql(UPDATE_DRAFT, { input: { packageName: 'draft-fields', version: '2.0.0', notes: `edit ${i}`, expectedRevision: 1 } }, { token: owner })),
    );
    const outcomes = results.map((r) => r.data!.updateReleaseDraft);
    const winners = outcomes.filter((o) => o.__typename === 'UpdateReleaseDraftSuccess');
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => o.code === 'CONFLICT' && o.currentVersion === 2)).toHaveLength(29);
    expect((await draftOf('draft-fields', '2.0.0'))!.notes).toBe(winners[0].draft.notes);
  });

  it('20 publishes of one draft racing 10 direct publishes of its version: the version is published once', async () => {
    for (let round = 0; round < 3; round++) {
      const version = `3.0.${round}`;
      await api.gql(CREATE_DRAFT, { input: { packageName: 'draft-fields', version, sizeBytes: 1 } }, { token: owner });
      const before = (await packageDoc('draft-fields'))!.releaseCount as number;
      const results = await Promise.all([
        ...Array.from({ length: 20 }, () => api.gql(PUBLISH_DRAFT, { input: { packageName: 'draft-fields', version } }, { token: owner })),
        ...Array.from({ length: 10 }, () => api.gql(PUBLISH_RELEASE, { input: { packageName: 'draft-fields', version, sizeBytes: 2 } }, { token: owner })),
      ]);
      const outcomes = results.map((r) => Object.values(r.data!)[0] as { __typename: string; code?: string });
      expect(outcomes.filter((o) => o.__typename.endsWith('Success'))).toHaveLength(1);
      expect(outcomes.filter((o) => o.code === 'CONFLICT')).toHaveLength(29);
      const stored = (await packageDoc('draft-fields'))!;
      expect(stored.releases.filter((r: { version: string }) => r.version === version)).toHaveLength(1);
      expect(stored.releaseCount).toBe(before + 1);
      expect(stored.releaseCount).toBe(stored.releases.length);
      // The draft is gone exactly when the draft was what got published.
      const draftWon = outcomes.slice(0, 20).some((o) => o.__typename === 'PublishReleaseDraftSuccess');
      expect(stored.drafts?.[draftKey(version)] === undefined).toBe(draftWon);
    }
  });

  it('naive check-then-publish publishes one draft several times (the test can fail)', async () => {
    await api.gql(CREATE_DRAFT, { input: { packageName: 'naive-draft-fields', version: '5.0.0', sizeBytes: 1 } }, { token: owner });
    const published = await Promise.all(Array.from({ length: 20 }, () => naivePublishDraft(api.db, 'naive-draft-fields', draftKey('5.0.0'))));
    expect(published.filter(Boolean).length).toBeGreaterThan(1);
    const stored = (await packageDoc('naive-draft-fields'))!;
    expect(stored.releases.filter((r: { version: string }) => r.version === '5.0.0').length).toBeGreaterThan(1);
  });
});
