// recordDownload, package { downloads }, trendingPackages and topPackages over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayField, recordDownload, syncDownloadBuckets, utcDay, verifyDownloads } from '../../src/downloads/download.ops.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../helpers/documents.js';
import { RECORD_DOWNLOAD } from './documents.js';

let api: TestApi;
let alice: string;

beforeAll(async () => {
  api = await startApi('downloads');
  alice = await api.token('alice');
  for (const [name, versions] of [['dl-a', ['1.0.0', '1.1.0']], ['dl-b', ['1.0.0']], ['dl-c', ['1.0.0', '2.0.0', '3.0.0']]] as const) {
    await api.gql(CREATE_PACKAGE, { input: { name, summary: 's' } }, { token: alice });
    for (const version of versions) await api.gql(PUBLISH_RELEASE, { input: { packageName: name, version, sizeBytes: 1 } }, { token: alice });
  }
});
afterAll(() => api.close());

const download = (packageName: string, version: string, headers?: Record<string, string>) => api.gql(RECORD_DOWNLOAD, { input: { packageName, version } }, { headers });

describe('recordDownload', () => {
  it('counts anonymously on the release, the package total, the day and its bucket', async () => {
    const first = (await download('dl-a', '1.0.0')).data!.recordDownload;
    expect(first).toEqual({ __typename: 'RecordDownloadSuccess', release: { version: '1.0.0', downloads: 1 } });
    await download('DL_A', '1.0.0');
    await download('dl-a', '1.1.0');
    const stored = (await api.db.collection('packages').findOne({ _id: 'dl-a' as never }))!;
    const today = utcDay(Date.now());
    expect(stored.downloadCount).toBe(3);
    expect(stored.downloadsByDay).toEqual({ [dayField(today)]: 3 });
    expect(stored.releases.map((r: { version: string; downloads?: number }) => [r.version, r.downloads])).toEqual([['1.1.0', 1], ['1.0.0', 2]]);
    expect(await api.db.collection('downloadBuckets').findOne({ _id: `dl-a|${today}` as never })).toEqual({ _id: `dl-a|${today}`, package: 'dl-a', day: today, count: 3 });
  });

  it('answers NOT_FOUND for an unknown package or version and writes nothing', async () => {
    const before = await api.db.collection('downloadBuckets').countDocuments();
    expect((await download('dl-a', '9.9.9')).data!.recordDownload.code).toBe('NOT_FOUND');
    expect((await download('nope', '1.0.0')).data!.recordDownload.code).toBe('NOT_FOUND');
    expect(await api.db.collection('downloadBuckets').countDocuments()).toBe(before);
  });

  it('counts a retried keyed download once', async () => {
    const headers = { 'idempotency-key': 'download-once' };
    await download('dl-b', '1.0.0', headers);
    await recordDownload(api.db, { name: 'dl-b', version: '1.0.0' }, null);
    const effectKey = (await api.db.collection('packages').findOne({ _id: 'dl-b' as never }))!.recentDownloadKeys[0];
    // The op itself, re-run with the same effect key as a retry after a crash would: refused, answered success.
    const again = await recordDownload(api.db, { name: 'dl-b', version: '1.0.0' }, effectKey);
    expect(again.ok).toBe(true);
    expect((await api.db.collection('packages').findOne({ _id: 'dl-b' as never }))!.downloadCount).toBe(2);
  });
});

describe('package { downloads }', () => {
  it('gives the total, the windows and the daily counts with zeros, today last', async () => {
    // Downloads on earlier days, written by the op with an injected clock.
    const now = Date.now();
    for (const [daysAgo, times] of [[3, 2], [10, 4], [40, 8]] as const) {
      for (let i = 0; i < times; i++) await recordDownload(api.db, { name: 'dl-c', version: '1.0.0', now: now - daysAgo * 86_400_000 });
    }
    await download('dl-c', '3.0.0');
    const result = await api.gql(`{ package(name: "dl-c") { downloads { total lastDay lastWeek lastMonth daily(days: 5) { date count } } } }`);
    const downloads = result.data!.package.downloads;
    expect(downloads).toMatchObject({ total: 15, lastDay: 1, lastWeek: 3, lastMonth: 7 });
    expect(downloads.daily).toHaveLength(5);
    expect(downloads.daily[4]).toEqual({ date: utcDay(now), count: 1 });
    expect(downloads.daily[1]).toEqual({ date: utcDay(now - 3 * 86_400_000), count: 2 });
    expect((await api.gql(`{ package(name: "dl-c") { downloads { daily(days: 0) { date } } } }`)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('rankings', () => {
  it('trendingPackages ranks by downloads in the window and says it is cacheable', async () => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ day: trendingPackages(window: DAY) { package { name } downloads } month: trendingPackages(window: MONTH, first: 2) { package { name } downloads } }` }),
    });
    // A POST is never stored by a shared cache; the same query sent as GET by hash is public (test/caching/).
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    const { data } = (await response.json()) as { data: Record<string, unknown> };
    expect(data.day).toEqual([
      { package: { name: 'dl-a' }, downloads: 3 },
      { package: { name: 'dl-b' }, downloads: 2 },
      { package: { name: 'dl-c' }, downloads: 1 },
    ]);
    expect(data.month).toEqual([
      { package: { name: 'dl-c' }, downloads: 7 },
      { package: { name: 'dl-a' }, downloads: 3 },
    ]);
    expect((await api.gql(`{ trendingPackages(window: WEEK, first: 0) { downloads } }`)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('topPackages reads packages in index order by downloads or releases', async () => {
    const top = await api.gql(`{ d: topPackages(by: DOWNLOADS, first: 2) { name } r: topPackages(by: RELEASES) { name releaseCount } }`);
    expect(top.data!.d).toEqual([{ name: 'dl-c' }, { name: 'dl-a' }]);
    expect(top.data!.r.map((p: { name: string }) => p.name)).toEqual(['dl-c', 'dl-a', 'dl-b']);
    const plan = (await api.db.collection('packages').find({}).sort({ downloadCount: -1, _id: 1 }).limit(2).explain()) as { queryPlanner?: { winningPlan?: unknown } };
    expect(JSON.stringify(plan.queryPlanner?.winningPlan ?? plan)).not.toContain('"SORT"');
  });
});

describe('verify and repair', () => {
  it('recounts every download figure; a bucket copy cut short shows in flight and a resync closes it', async () => {
    expect(await verifyDownloads(api.db)).toEqual([]);
    const today = utcDay(Date.now());
    // As if the function stopped between the package write and the bucket copy.
    await api.db.collection('downloadBuckets').updateOne({ _id: `dl-a|${today}` as never }, { $inc: { count: -2 } });
    expect(await verifyDownloads(api.db)).toEqual([{ figure: 'download bucket', where: `dl-a|${today}`, kept: 1, recounted: 3, inFlight: 1 }]);
    expect(await syncDownloadBuckets(api.db, utcDay(Date.now() - 86_400_000))).toBeGreaterThan(0);
    expect(await verifyDownloads(api.db)).toEqual([]);
  });
});
