// Packages: the Package and Release types, the package queries, and the createPackage, publishRelease,
// updatePackage and addKeywords mutations, each one declaration run by the mutation kit.
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import { AlreadyExistsError, ConflictError, ForbiddenError, mapResult, NotFoundError } from '../errors.js';
import { defineMutation } from '../mutation-kit.js';
import { assertPageSize } from '../pagination.js';
import { parseQueryArg } from '../validation.js';
import { User } from '../users/user.schema.js';
import { KeywordSchema } from './keyword.js';
import { normalizePackageName, PackageNameSchema } from './package-name.js';
import {
  addPackageKeywords,
  appendRelease,
  findPackage,
  findPackagePage,
  findPackagesByNames,
  insertPackage,
  type PackageDoc,
  setReleaseYanked,
  type PackagePageCursor,
  type ReleaseDoc,
  updatePackageIfVersion,
} from './package.ops.js';
import { latestOf, ReleaseVersionSchema } from './release-version.js';

export const Release = builder.objectRef<ReleaseDoc>('Release').implement({
  fields: (t) => ({
    version: t.exposeString('version'),
    publishedAt: t.expose('publishedAt', { type: 'DateTime' }),
    sizeBytes: t.exposeInt('sizeBytes'),
    notes: t.exposeString('notes', { nullable: true }),
    yanked: t.boolean({ description: 'Withdrawn (PyPI semantics): installable only when pinned, never latestRelease.', resolve: (r) => r.yank != null }),
    yankedReason: t.string({ nullable: true, resolve: (r) => r.yank?.reason ?? null }),
  }),
});

export const Package = builder.loadableObject('Package', {
  extensions: cacheHint({ maxAge: 60 }),
  load: async (names: string[], ctx): Promise<(PackageDoc | Error)[]> => {
    const byName = new Map((await findPackagesByNames(ctx.db, names)).map((doc) => [doc._id, doc]));
    return names.map((name) => byName.get(name) ?? new NotFoundError(`No package named "${name}".`));
  },
  fields: (t) => ({
    name: t.string({ description: 'The normalized name: lowercase, runs of "-", "_", "." as one "-".', resolve: (p) => p._id }),
    displayName: t.exposeString('displayName', { description: 'The name as its creator typed it.' }),
    summary: t.exposeString('summary'),
    description: t.exposeString('description'),
    maintainers: t.field({ type: [User], resolve: (p) => p.maintainers }),
    keywords: t.exposeStringList('keywords'),
    releases: t.field({ type: [Release], description: 'Highest version first.', resolve: (p) => p.releases }),
    latestRelease: t.field({
      type: Release,
      nullable: true,
      description:
        'The highest release that is neither yanked nor a prerelease; the highest prerelease not yanked when no such release exists; null when every release is yanked.',
      resolve: (p) => latestOf(p.releases),
    }),
    releaseCount: t.exposeInt('releaseCount'),
    postCount: t.exposeInt('postCount', {
      description: 'Posts about the package; a post being created or deleted right now is counted once its effect completes.',
    }),
    version: t.exposeInt('version', { description: 'Edit version: pass it as expectedVersion to updatePackage.' }),
    lastUpdated: t.expose('lastUpdated', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryFields((t) => ({
  package: t.field({
    type: Package,
    nullable: true,
    description: 'The package with this name (compared normalized); null when none has it, or no package could.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      const name = PackageNameSchema.safeParse(args.name);
      return name.success ? findPackage(ctx.db, normalizePackageName(name.data)) : null;
    },
  }),
  packages: t.connection({
    type: Package,
    description: 'Packages, most recently updated first; only those with the keyword when one is given.',
    extensions: cacheHint({ maxAge: 60 }),
    args: { keyword: t.arg.string() },
    resolve: (_root, args, ctx) => {
      assertPageSize(args);
      const keyword = args.keyword == null ? undefined : parseQueryArg('keyword', KeywordSchema, args.keyword);
      return resolveCursorConnection(
        { args, toCursor: (p: PackageDoc) => encodePackageCursor({ lastUpdated: p.lastUpdated, name: p._id }) },
        ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
          findPackagePage(ctx.db, {
            keyword,
            after: after === undefined ? undefined : decodePackageCursor(after),
            before: before === undefined ? undefined : decodePackageCursor(before),
            limit,
            inverted,
          }),
      );
    },
  }),
}));

function encodePackageCursor(cursor: PackagePageCursor): string {
  return Buffer.from(JSON.stringify([cursor.lastUpdated.getTime(), cursor.name])).toString('base64url');
}

function decodePackageCursor(cursor: string): PackagePageCursor {
  try {
    const [time, name] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const lastUpdated = new Date(typeof time === 'number' ? time : NaN);
    if (!Number.isNaN(lastUpdated.getTime()) && typeof name === 'string') return { lastUpdated, name };
  } catch {
    // fall through to the error below
  }
  throw new GraphQLError('The cursor is not one this API returned.', { extensions: { code: 'BAD_USER_INPUT' } });
}

const PublishReleaseSuccess = builder.objectRef<{ package: PackageDoc; release: ReleaseDoc }>('PublishReleaseSuccess').implement({
  fields: (t) => ({
    package: t.field({ type: Package, resolve: (r) => r.package }),
    release: t.field({ type: Release, resolve: (r) => r.release }),
  }),
});

function packageSuccess(name: string) {
  return builder.objectRef<{ package: PackageDoc }>(name).implement({
    fields: (t) => ({ package: t.field({ type: Package, resolve: (r) => r.package }) }),
  });
}

const SummarySchema = z.string().check(z.trim(), z.minLength(1, 'Summary is required'), z.maxLength(200, 'Summary is at most 200 characters'));
const DescriptionSchema = z.string().check(z.maxLength(50_000, 'Description is at most 50,000 characters'));

// Each input field carries its GraphQL type and its zod schema together; the validation plugin checks them and the
// mutation kit turns a failure into the field's ValidationError.
const CreatePackageInput = builder.inputType('CreatePackageInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'PyPI rules: letters, digits, ".", "_", "-"; compared normalized.', validate: PackageNameSchema }),
    summary: t.string({ required: true, validate: SummarySchema }),
  }),
});

const PublishReleaseInput = builder.inputType('PublishReleaseInput', {
  fields: (t) => ({
    packageName: t.string({ required: true, validate: PackageNameSchema }),
    version: t.string({ required: true, description: 'Strict semver, e.g. 1.2.3 or 2.0.0-rc.1.', validate: ReleaseVersionSchema }),
    sizeBytes: t.int({ required: true, validate: z.int().check(z.minimum(0, 'sizeBytes cannot be negative')) }),
    notes: t.string({ validate: z.nullish(z.string().check(z.maxLength(10_000, 'Notes are at most 10,000 characters'))) }),
  }),
});

const UpdatePackageInput = builder.inputType('UpdatePackageInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: PackageNameSchema }),
    expectedVersion: t.int({
      required: true,
      description: 'The `version` the editor saw; CONFLICT if it moved on.',
      validate: z.int().check(z.minimum(1, 'expectedVersion starts at 1')),
    }),
    summary: t.string({ validate: z.nullish(SummarySchema) }),
    description: t.string({ validate: z.nullish(DescriptionSchema) }),
  }),
  validate: z
    .looseObject({ summary: z.nullish(z.string()), description: z.nullish(z.string()) })
    .check(z.refine((input) => input.summary != null || input.description != null, 'Give a summary, a description or both')),
});

const AddKeywordsInput = builder.inputType('AddKeywordsInput', {
  fields: (t) => ({
    packageName: t.string({ required: true, validate: PackageNameSchema }),
    keywords: t.stringList({
      required: true,
      validate: z.array(KeywordSchema).check(z.minLength(1, 'Give at least one keyword'), z.maxLength(20, 'At most 20 keywords at a time')),
    }),
  }),
});

defineMutation('createPackage', {
  auth: 'user',
  rateLimit: 'createPackage',
  args: (arg) => ({ input: arg({ type: CreatePackageInput, required: true }) }),
  errors: [AlreadyExistsError],
  success: packageSuccess('CreatePackageSuccess'),
  run: async ({ input }, { db, viewer, effectKey }) =>
    mapResult(
      await insertPackage(db, { name: normalizePackageName(input.name), displayName: input.name, summary: input.summary, maintainerId: viewer.id }, effectKey),
      (created) => ({ package: created.package }),
    ),
});

defineMutation('publishRelease', {
  auth: 'user',
  rateLimit: 'publishRelease',
  args: (arg) => ({ input: arg({ type: PublishReleaseInput, required: true }) }),
  publishTokenScope: ({ input }) => normalizePackageName(input.packageName),
  errors: [NotFoundError, ForbiddenError, ConflictError],
  success: PublishReleaseSuccess,
  run: ({ input }, { db, viewer, effectKey }) =>
    appendRelease(
      db,
      { name: normalizePackageName(input.packageName), viewerId: viewer.id, version: input.version, sizeBytes: input.sizeBytes, notes: input.notes ?? null },
      effectKey,
    ),
});

defineMutation('updatePackage', {
  auth: 'user',
  rateLimit: 'updatePackage',
  args: (arg) => ({ input: arg({ type: UpdatePackageInput, required: true }) }),
  errors: [NotFoundError, ForbiddenError, ConflictError],
  success: packageSuccess('UpdatePackageSuccess'),
  run: async ({ input }, { db, viewer, effectKey }) =>
    mapResult(
      await updatePackageIfVersion(
        db,
        {
          name: normalizePackageName(input.name),
          viewerId: viewer.id,
          expectedVersion: input.expectedVersion,
          summary: input.summary ?? undefined,
          description: input.description ?? undefined,
        },
        effectKey,
      ),
      (updated) => ({ package: updated }),
    ),
});

defineMutation('addKeywords', {
  auth: 'user',
  rateLimit: 'addKeywords',
  args: (arg) => ({ input: arg({ type: AddKeywordsInput, required: true }) }),
  errors: [NotFoundError, ForbiddenError],
  success: packageSuccess('AddKeywordsSuccess'),
  run: async ({ input }, { db, viewer }) =>
    mapResult(
      await addPackageKeywords(db, { name: normalizePackageName(input.packageName), viewerId: viewer.id, keywords: [...new Set(input.keywords)] }),
      (updated) => ({ package: updated }),
    ),
});

// Versions as stored: no semver check, so that releases written before today's rules can be yanked too.
const StoredVersionSchema = z.string().check(z.minLength(1, 'Version is required'), z.maxLength(256, 'Version is at most 256 characters'));

const YankReleaseInput = builder.inputType('YankReleaseInput', {
  fields: (t) => ({
    packageName: t.string({ required: true, validate: PackageNameSchema }),
    version: t.string({ required: true, validate: StoredVersionSchema }),
    reason: t.string({ description: 'Shown next to the release, e.g. "broken wheel, use 1.2.1".', validate: z.nullish(z.string().check(z.trim(), z.maxLength(500, 'A reason is at most 500 characters'))) }),
  }),
});

const UnyankReleaseInput = builder.inputType('UnyankReleaseInput', {
  fields: (t) => ({
    packageName: t.string({ required: true, validate: PackageNameSchema }),
    version: t.string({ required: true, validate: StoredVersionSchema }),
  }),
});

function releaseSuccess(name: string) {
  return builder.objectRef<{ package: PackageDoc; release: ReleaseDoc }>(name).implement({
    fields: (t) => ({
      package: t.field({ type: Package, resolve: (r) => r.package }),
      release: t.field({ type: Release, resolve: (r) => r.release }),
    }),
  });
}

defineMutation('yankRelease', {
  description: 'Withdraws a release (PyPI semantics): it stays listed and installable when pinned, and is never latestRelease. Idempotent.',
  auth: 'user',
  rateLimit: 'yankRelease',
  args: (arg) => ({ input: arg({ type: YankReleaseInput, required: true }) }),
  errors: [NotFoundError, ForbiddenError],
  success: releaseSuccess('YankReleaseSuccess'),
  run: ({ input }, { db, viewer }) =>
    setReleaseYanked(db, { name: normalizePackageName(input.packageName), viewerId: viewer.id, version: input.version, yanked: true, reason: input.reason || null }),
});

defineMutation('unyankRelease', {
  description: 'Takes a yank back. Idempotent.',
  auth: 'user',
  rateLimit: 'unyankRelease',
  args: (arg) => ({ input: arg({ type: UnyankReleaseInput, required: true }) }),
  errors: [NotFoundError, ForbiddenError],
  success: releaseSuccess('UnyankReleaseSuccess'),
  run: ({ input }, { db, viewer }) =>
    setReleaseYanked(db, { name: normalizePackageName(input.packageName), viewerId: viewer.id, version: input.version, yanked: false, reason: null }),
});
