// yankRelease and unyankRelease over HTTP: one release changed in place, PyPI's latestRelease rule, typed refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../helpers/documents.js';
import { UNYANK_RELEASE, YANK_RELEASE } from './documents.js';

let api: TestApi;
let alice: string;
let bob: string;

beforeAll(async () => {
  api = await startApi('yank', {}, { transport: 'in-process' });
  alice = await api.token('alice');
  bob = await api.token('bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'yanky', summary: 's' } }, { token: alice });
  for (const version of ['0.9.0', '1.0.0', '1.1.0-beta.1']) {
    await api.gql(PUBLISH_RELEASE, { input: { packageName: 'yanky', version, sizeBytes: 1 } }, { token: alice });
  }
});
afterAll(() => api.close());

const latest = async (name = 'yanky') => (await api.gql(`{ package(name: "${name}") { latestRelease { version } } }`)).data!.package.latestRelease?.version ?? null;
const yank = (version: string, reason: string | null = 'broken', token = alice) => api.gql(YANK_RELEASE, { input: { packageName: 'yanky', version, reason } }, { token });
const unyank = (version: string, token = alice) => api.gql(UNYANK_RELEASE, { input: { packageName: 'yanky', version } }, { token });

describe('latestRelease', () => {
  it('is the highest stable release, not a higher prerelease', async () => {
    expect(await latest()).toBe('1.0.0');
  });

  it('falls back to the highest prerelease only when no stable release exists', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'only-pre', summary: 's' } }, { token: alice });
    for (const version of ['2.0.0-alpha.1', '2.0.0-beta.1', '1.0.0-rc.1']) {
      await api.gql(PUBLISH_RELEASE, { input: { packageName: 'only-pre', version, sizeBytes: 1 } }, { token: alice });
    }
    expect(await latest('only-pre')).toBe('2.0.0-beta.1');
  });
});

describe('yankRelease and unyankRelease', () => {
  it('yanks one release in place with its reason; latestRelease moves to the next stable one', async () => {
    const result = (await yank('1.0.0', 'broken wheel, use 0.9.0')).data!.yankRelease;
    expect(result).toMatchObject({
      __typename: 'YankReleaseSuccess',
      release: { version: '1.0.0', yanked: true, yankedReason: 'broken wheel, use 0.9.0' },
      package: { latestRelease: { version: '0.9.0' } },
    });
    const releases = (await api.gql(`{ package(name: "yanky") { releases { version yanked yankedReason } releaseCount } }`)).data!.package;
    expect(releases).toEqual({
      releaseCount: 3,
      releases: [
        { version: '1.1.0-beta.1', yanked: false, yankedReason: null },
        { version: '1.0.0', yanked: true, yankedReason: 'broken wheel, use 0.9.0' },
        { version: '0.9.0', yanked: false, yankedReason: null },
      ],
    });
  });

  it('falls back to a prerelease when every stable release is yanked, and to null when all are', async () => {
    await yank('0.9.0');
    expect(await latest()).toBe('1.1.0-beta.1');
    await yank('1.1.0-beta.1');
    expect(await latest()).toBeNull();
  });

  it('is idempotent, and unyank restores the release and clears its reason', async () => {
    expect((await yank('0.9.0', 'again')).data!.yankRelease.__typename).toBe('YankReleaseSuccess');
    const result = (await unyank('1.0.0')).data!.unyankRelease;
    expect(result).toMatchObject({ release: { version: '1.0.0', yanked: false, yankedReason: null }, package: { latestRelease: { version: '1.0.0' } } });
    expect((await unyank('1.0.0')).data!.unyankRelease.__typename).toBe('UnyankReleaseSuccess');
  });

  it('reads releases written before yanking existed as not yanked', async () => {
    const stored = (await api.db.collection('packages').findOne({ _id: 'yanky' as never }))!;
    const legacy = stored.releases.map(({ yank: _yank, ...release }: Record<string, unknown>) => release);
    await api.db.collection('packages').updateOne({ _id: 'yanky' as never }, { $set: { releases: legacy } });
    const releases = (await api.gql(`{ package(name: "yanky") { releases { yanked yankedReason } latestRelease { version } } }`)).data!.package;
    expect(releases.releases.every((r: { yanked: boolean; yankedReason: string | null }) => !r.yanked && r.yankedReason === null)).toBe(true);
    expect(releases.latestRelease.version).toBe('1.0.0');
  });

  it('answers NOT_FOUND for a missing package or release and FORBIDDEN for non-maintainers, changing nothing', async () => {
    const before = await api.db.collection('packages').findOne({ _id: 'yanky' as never });
    expect((await yank('9.9.9')).data!.yankRelease.code).toBe('NOT_FOUND');
    expect((await api.gql(YANK_RELEASE, { input: { packageName: 'nope', version: '1.0.0' } }, { token: alice })).data!.yankRelease.code).toBe('NOT_FOUND');
    expect((await yank('1.0.0', 'mine now', bob)).data!.yankRelease.code).toBe('FORBIDDEN');
    expect((await unyank('1.0.0', bob)).data!.unyankRelease.code).toBe('FORBIDDEN');
    expect(await api.db.collection('packages').findOne({ _id: 'yanky' as never })).toEqual(before);
    expect((await yank('1.0.0', 'x'.repeat(501))).data!.yankRelease.code).toBe('VALIDATION');
    expect((await api.gql(YANK_RELEASE, { input: { packageName: 'yanky', version: '1.0.0' } })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
