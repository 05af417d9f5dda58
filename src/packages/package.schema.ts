// Packages: the Package and Release types, the package queries, and the createPackage, publishRelease,
// updatePackage and addKeywords mutations. Thin: validate -> one atomic op -> shape.
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  unwrap,
  ValidationError,
} from '../errors.js';
import { parseInput } from '../validation.js';
import { assertPageSize } from '../pagination.js';
import { User } from '../users/user.schema.js';
import { ensureUser } from '../users/user.ops.js';
import { incrementStat } from '../stats/stats.ops.js';
import { KeywordSchema, upsertKeywords } from './keyword.ops.js';
import { normalizePackageName, PackageNameSchema } from './package-name.js';
import {
  addPackageKeywords,
  appendRelease,
  findPackage,
  findPackagePage,
  findPackagesByNames,
  insertPackage,
  type PackageDoc,
  type PackagePageCursor,
  type ReleaseDoc,
  updatePackageIfVersion,
} from './package.ops.js';
import { ReleaseVersionSchema } from './release-version.js';
import { enforceRateLimit } from '../security/rate-limit.js';

export const Release = builder.objectRef<ReleaseDoc>('Release').implement({
  fields: (t) => ({
    version: t.exposeString('version'),
    publishedAt: t.expose('publishedAt', { type: 'DateTime' }),
    sizeBytes: t.exposeInt('sizeBytes'),
    notes: t.exposeString('notes', { nullable: true }),
  }),
});

export const Package = builder.loadableObject('Package', {
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
      description: 'The highest version by semver precedence.',
      resolve: (p) => p.releases[0] ?? null,
    }),
    releaseCount: t.exposeInt('releaseCount'),
    version: t.exposeInt('version', { description: 'Edit version: pass it as expectedVersion to updatePackage.' }),
    lastUpdated: t.expose('lastUpdated', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryFields((t) => ({
  package: t.field({
    type: Package,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      const name = PackageNameSchema.safeParse(args.name);
      return name.success ? findPackage(ctx.db, normalizePackageName(name.data)) : null;
    },
  }),
  packages: t.connection({
    type: Package,
    description: 'Packages, most recently updated first.',
    resolve: (_root, args, ctx) => {
      assertPageSize(args);
      return resolveCursorConnection(
        { args, toCursor: (p: PackageDoc) => encodePackageCursor({ lastUpdated: p.lastUpdated, name: p._id }) },
        ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
          findPackagePage(ctx.db, {
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
    if (typeof time === 'number' && Number.isFinite(time) && typeof name === 'string') return { lastUpdated: new Date(time), name };
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

const CreatePackageSuccess = packageSuccess('CreatePackageSuccess');
const UpdatePackageSuccess = packageSuccess('UpdatePackageSuccess');
const AddKeywordsSuccess = packageSuccess('AddKeywordsSuccess');

const SummarySchema = z.string().check(z.trim(), z.minLength(1, 'Summary is required'), z.maxLength(200, 'Summary is at most 200 characters'));
const DescriptionSchema = z.string().check(z.maxLength(50_000, 'Description is at most 50,000 characters'));

const CreatePackageInput = builder.inputType('CreatePackageInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'PyPI rules: letters, digits, ".", "_", "-"; compared normalized.' }),
    summary: t.string({ required: true }),
  }),
});
const CreatePackageInputSchema = z.object({ name: PackageNameSchema, summary: SummarySchema });

const PublishReleaseInput = builder.inputType('PublishReleaseInput', {
  fields: (t) => ({
    packageName: t.string({ required: true }),
    version: t.string({ required: true, description: 'Strict semver, e.g. 1.2.3 or 2.0.0-rc.1.' }),
    sizeBytes: t.int({ required: true }),
    notes: t.string(),
  }),
});
const PublishReleaseInputSchema = z.object({
  packageName: PackageNameSchema,
  version: ReleaseVersionSchema,
  sizeBytes: z.int().check(z.minimum(0, 'sizeBytes cannot be negative')),
  notes: z.nullish(z.string().check(z.maxLength(10_000, 'Notes are at most 10,000 characters'))),
});

const UpdatePackageInput = builder.inputType('UpdatePackageInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    expectedVersion: t.int({ required: true, description: 'The `version` the editor saw; CONFLICT if it moved on.' }),
    summary: t.string(),
    description: t.string(),
  }),
});
const UpdatePackageInputSchema = z
  .object({
    name: PackageNameSchema,
    expectedVersion: z.int().check(z.minimum(1, 'expectedVersion starts at 1')),
    summary: z.nullish(SummarySchema),
    description: z.nullish(DescriptionSchema),
  })
  .check(z.refine((input) => input.summary != null || input.description != null, 'Give a summary, a description or both'));

const AddKeywordsInput = builder.inputType('AddKeywordsInput', {
  fields: (t) => ({
    packageName: t.string({ required: true }),
    keywords: t.stringList({ required: true }),
  }),
});
const AddKeywordsInputSchema = z.object({
  packageName: PackageNameSchema,
  keywords: z.array(KeywordSchema).check(z.minLength(1, 'Give at least one keyword'), z.maxLength(20, 'At most 20 keywords at a time')),
});

builder.mutationFields((t) => ({
  createPackage: t.field({
    type: CreatePackageSuccess,
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreatePackageInput, required: true }) },
    errors: { types: [ValidationError, AlreadyExistsError, RateLimitedError], union: { name: 'CreatePackageResult' } },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'createPackage');
      const input = parseInput(CreatePackageInputSchema, args.input);
      await ensureUser(ctx.db, ctx.viewer!);
      const created = unwrap(
        await insertPackage(
          ctx.db,
          { name: normalizePackageName(input.name), displayName: input.name, summary: input.summary, maintainerId: ctx.viewer!.id },
          ctx.idempotencyKey,
        ),
      );
      // Counted only by the execution that inserted it: a retried request (docs/idempotency.md) never counts twice.
      if (created.created) await incrementStat(ctx.db, 'totalPackages');
      return { package: created.package };
    },
  }),
  publishRelease: t.field({
    type: PublishReleaseSuccess,
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: PublishReleaseInput, required: true }) },
    errors: {
      types: [ValidationError, NotFoundError, ForbiddenError, ConflictError, RateLimitedError],
      union: { name: 'PublishReleaseResult' },
    },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'publishRelease');
      const input = parseInput(PublishReleaseInputSchema, args.input);
      await ensureUser(ctx.db, ctx.viewer!);
      const published = unwrap(
        await appendRelease(
          ctx.db,
          {
            name: normalizePackageName(input.packageName),
            viewerId: ctx.viewer!.id,
            version: input.version,
            sizeBytes: input.sizeBytes,
            notes: input.notes ?? null,
          },
          ctx.idempotencyKey,
        ),
      );
      // Counted only by the execution that appended it: a retried request (docs/idempotency.md) never counts twice.
      if (published.applied) await incrementStat(ctx.db, 'totalReleases');
      return published;
    },
  }),
  updatePackage: t.field({
    type: UpdatePackageSuccess,
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: UpdatePackageInput, required: true }) },
    errors: {
      types: [ValidationError, NotFoundError, ForbiddenError, ConflictError, RateLimitedError],
      union: { name: 'UpdatePackageResult' },
    },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'updatePackage');
      const input = parseInput(UpdatePackageInputSchema, args.input);
      await ensureUser(ctx.db, ctx.viewer!);
      const updated = unwrap(
        await updatePackageIfVersion(
          ctx.db,
          {
            name: normalizePackageName(input.name),
            viewerId: ctx.viewer!.id,
            expectedVersion: input.expectedVersion,
            summary: input.summary ?? undefined,
            description: input.description ?? undefined,
          },
          ctx.idempotencyKey,
        ),
      );
      return { package: updated };
    },
  }),
  addKeywords: t.field({
    type: AddKeywordsSuccess,
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: AddKeywordsInput, required: true }) },
    errors: {
      types: [ValidationError, NotFoundError, ForbiddenError, RateLimitedError],
      union: { name: 'AddKeywordsResult' },
    },
    resolve: async (_root, args, ctx) => {
      await enforceRateLimit(ctx, 'addKeywords');
      const input = parseInput(AddKeywordsInputSchema, args.input);
      const keywords = [...new Set(input.keywords)];
      await ensureUser(ctx.db, ctx.viewer!);
      // The package write goes first: it alone decides FORBIDDEN, so a refused call leaves no keyword behind.
      const updated = unwrap(
        await addPackageKeywords(ctx.db, { name: normalizePackageName(input.packageName), viewerId: ctx.viewer!.id, keywords }),
      );
      await upsertKeywords(ctx.db, keywords);
      return { package: updated };
    },
  }),
}));
