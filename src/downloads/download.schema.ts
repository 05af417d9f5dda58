// Downloads: `Release { downloads }`, `package { downloads }`, trendingPackages, topPackages and the anonymous
// recordDownload mutation (docs/registry.md).
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import type { Context } from '../context.js';
import { NotFoundError } from '../errors.js';
import { defineMutation } from '../mutation-kit.js';
import { normalizePackageName, PackageNameSchema } from '../packages/package-name.js';
import type { PackageDoc, ReleaseDoc } from '../packages/package.ops.js';
import { Package, Release } from '../packages/package.schema.js';
import { parseQueryArg } from '../validation.js';
import { findPackageDownloads, findTopPackageNames, findTrendingPackages, recordDownload, type PackageDownloads as PackageDownloadsShape } from './download.ops.js';

/** How long shared caches may keep trendingPackages and topPackages answers. */
const RANKING_CACHE_SECONDS = 60;

builder.objectField(Release, 'downloads', (t) => t.int({ description: 'Downloads of this release, counted by recordDownload.', resolve: (r) => r.downloads ?? 0 }));

const DailyDownloads = builder.objectRef<{ date: string; count: number }>('DailyDownloads').implement({
  fields: (t) => ({
    date: t.exposeString('date', { description: 'The UTC day, YYYY-MM-DD.' }),
    count: t.exposeInt('count'),
  }),
});

interface DownloadsSource {
  name: string;
  /** The last 30 days, read once for total and the windows. */
  month: () => Promise<PackageDownloadsShape>;
}

const sum = (days: { count: number }[]) => days.reduce((total, day) => total + day.count, 0);

const PackageDownloads = builder.objectRef<DownloadsSource>('PackageDownloads').implement({
  description: 'Windows are whole UTC days ending today: lastDay is today so far, lastWeek the last 7 days, lastMonth the last 30.',
  fields: (t) => ({
    total: t.int({ resolve: async (s) => (await s.month()).total }),
    lastDay: t.int({ resolve: async (s) => sum((await s.month()).byDay.slice(-1)) }),
    lastWeek: t.int({ resolve: async (s) => sum((await s.month()).byDay.slice(-7)) }),
    lastMonth: t.int({ resolve: async (s) => sum((await s.month()).byDay) }),
    daily: t.field({
      type: [DailyDownloads],
      description: 'One entry per UTC day, oldest first, today last; days without downloads count 0.',
      args: { days: t.arg.int({ defaultValue: 30, required: true }) },
      resolve: async (s, args, ctx) =>
        (await findPackageDownloads(ctx.db, s.name, parseQueryArg('days', z.int().check(z.minimum(1, 'days is at least 1'), z.maximum(366, 'days is at most 366')), args.days))).byDay,
    }),
  }),
});

builder.objectField(Package, 'downloads', (t) =>
  t.field({
    type: PackageDownloads,
    resolve: (p: PackageDoc, _args, ctx: Context) => {
      let month: Promise<PackageDownloadsShape> | undefined;
      return { name: p._id, month: () => (month ??= findPackageDownloads(ctx.db, p._id, 30)) };
    },
  }),
);

const TrendWindow = builder.enumType('TrendWindow', {
  values: { DAY: { value: 1, description: 'Today (UTC) so far.' }, WEEK: { value: 7, description: 'The last 7 UTC days.' }, MONTH: { value: 30, description: 'The last 30 UTC days.' } },
});

const TopBy = builder.enumType('TopBy', {
  values: {
    DOWNLOADS: { value: 'DOWNLOADS' as const, description: 'All-time downloads.' },
    RELEASES: { value: 'RELEASES' as const, description: 'Number of releases.' },
    LIKES: {
      value: 'LIKES' as const,
      description: 'Likes of the posts in the package\'s topLikedPosts (its ten most-liked posts): all its likes when at most ten of its posts are liked.',
    },
  },
});

const TrendingPackage = builder.objectRef<{ packageName: string; downloads: number }>('TrendingPackage').implement({
  fields: (t) => ({
    package: t.field({ type: Package, resolve: (row) => row.packageName }),
    downloads: t.exposeInt('downloads', { description: 'Downloads in the window.' }),
  }),
});

const FirstSchema = z.int().check(z.minimum(1, 'first is at least 1'), z.maximum(100, 'first is at most 100'));

builder.queryFields((t) => ({
  trendingPackages: t.field({
    type: [TrendingPackage],
    description: 'Packages by downloads in the window, most first (one aggregation over the day buckets); cacheable for 60 s.',
    extensions: cacheHint({ maxAge: RANKING_CACHE_SECONDS }),
    args: { window: t.arg({ type: TrendWindow, required: true }), first: t.arg.int({ defaultValue: 10, required: true }) },
    resolve: (_root, args, ctx) => {
      const first = parseQueryArg('first', FirstSchema, args.first);
      return findTrendingPackages(ctx.db, args.window, first);
    },
  }),
  topPackages: t.field({
    type: [Package],
    description: 'Packages by a kept figure, most first (ties by name), read in the order of its index; cacheable for 60 s.',
    extensions: cacheHint({ maxAge: RANKING_CACHE_SECONDS }),
    args: { by: t.arg({ type: TopBy, required: true }), first: t.arg.int({ defaultValue: 10, required: true }) },
    resolve: (_root, args, ctx) => {
      const first = parseQueryArg('first', FirstSchema, args.first);
      return findTopPackageNames(ctx.db, args.by, first);
    },
  }),
}));

const RecordDownloadInput = builder.inputType('RecordDownloadInput', {
  fields: (t) => ({
    packageName: t.string({ required: true, validate: PackageNameSchema }),
    version: t.string({ required: true, validate: z.string().check(z.minLength(1, 'Version is required'), z.maxLength(256, 'Version is at most 256 characters')) }),
  }),
});

defineMutation('recordDownload', {
  description: 'Counts one download of a release (yanked ones too: they stay installable when pinned); anonymous callers allowed.',
  auth: 'anyone',
  rateLimit: 'recordDownload',
  args: (arg) => ({ input: arg({ type: RecordDownloadInput, required: true }) }),
  errors: [NotFoundError],
  success: builder.objectRef<{ release: ReleaseDoc; packageName: string }>('RecordDownloadSuccess').implement({
    fields: (t) => ({
      release: t.field({ type: Release, resolve: (r) => r.release }),
      package: t.field({ type: Package, resolve: (r) => r.packageName }),
    }),
  }),
  run: ({ input }, { db, effectKey }) => recordDownload(db, { name: normalizePackageName(input.packageName), version: input.version }, effectKey),
});
