// Release drafts: the ReleaseDraft type, `package { drafts }` for maintainers, and the createReleaseDraft,
// updateReleaseDraft, publishReleaseDraft and deleteReleaseDraft mutations, each one declaration run by the mutation kit.
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import { AlreadyExistsError, ConflictError, ForbiddenError, mapResult, NotFoundError } from '../errors.js';
import { defineMutation } from '../mutation-kit.js';
import { deleteDraft, type DraftDoc, findDrafts, insertDraft, publishDraft, updateDraft } from './draft.ops.js';
import { normalizePackageName, PackageNameSchema } from './package-name.js';
import type { PackageDoc, ReleaseDoc } from './package.ops.js';
import { Package, Release } from './package.schema.js';
import { ReleaseVersionSchema } from './release-version.js';

const ReleaseDraft = builder.objectRef<DraftDoc>('ReleaseDraft').implement({
  description: 'A release being prepared; visible to the package’s maintainers only.',
  fields: (t) => ({
    version: t.exposeString('version'),
    notes: t.exposeString('notes', { nullable: true }),
    sizeBytes: t.exposeInt('sizeBytes', { nullable: true, description: 'Required before publishing.' }),
    revision: t.exposeInt('revision', { description: 'Pass it as expectedRevision to updateReleaseDraft to refuse edits over someone else’s.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.objectField(Package, 'drafts', (t) =>
  t.field({
    type: [ReleaseDraft],
    nullable: true,
    description: 'Drafts, highest version first: for the package’s maintainers only (and their publish tokens scoped to it); null for anyone else.',
    extensions: cacheHint({ private: true }),
    resolve: (p, _args, ctx) => {
      if (!ctx.viewer || (ctx.viewer.publishToken && !ctx.viewer.publishToken.packageNames.includes(p._id))) return null;
      return findDrafts(ctx.db, p._id, ctx.viewer.id);
    },
  }),
);

const NotesSchema = z.nullish(z.string().check(z.maxLength(10_000, 'Notes are at most 10,000 characters')));
const SizeSchema = z.nullish(z.int().check(z.minimum(0, 'sizeBytes cannot be negative')));

const CreateReleaseDraftInput = builder.inputType('CreateReleaseDraftInput', {
  fields: (t) => ({
    packageName: t.string({ required: true, validate: PackageNameSchema }),
    version: t.string({ required: true, description: 'Strict semver, as publishRelease takes it.', validate: ReleaseVersionSchema }),
    notes: t.string({ validate: NotesSchema }),
    sizeBytes: t.int({ description: 'May be set later; required before publishing.', validate: SizeSchema }),
  }),
});

const UpdateReleaseDraftInput = builder.inputType('UpdateReleaseDraftInput', {
  description: 'Only the fields sent are written (null clears one); the others stay as they are.',
  fields: (t) => ({
    packageName: t.string({ required: true, validate: PackageNameSchema }),
    version: t.string({ required: true, validate: ReleaseVersionSchema }),
    notes: t.string({ validate: NotesSchema }),
    sizeBytes: t.int({ validate: SizeSchema }),
    expectedRevision: t.int({
      description: 'The revision the editor saw: CONFLICT with the current revision if the draft changed since. Without it the last write wins, per field.',
      validate: z.nullish(z.int().check(z.minimum(1, 'expectedRevision starts at 1'))),
    }),
  }),
  validate: z
    .looseObject({ notes: z.optional(z.unknown()), sizeBytes: z.optional(z.unknown()) })
    .check(z.refine((input) => input.notes !== undefined || input.sizeBytes !== undefined, 'Give notes, sizeBytes or both')),
});

const DraftRefInput = (name: string) =>
  builder.inputType(name, {
    fields: (t) => ({
      packageName: t.string({ required: true, validate: PackageNameSchema }),
      version: t.string({ required: true, validate: ReleaseVersionSchema }),
    }),
  });

function draftSuccess(name: string) {
  return builder.objectRef<{ draft: DraftDoc }>(name).implement({ fields: (t) => ({ draft: t.field({ type: ReleaseDraft, resolve: (r) => r.draft }) }) });
}

defineMutation('createReleaseDraft', {
  description: 'Starts a draft of a version that is neither a draft nor a release yet; maintainers only.',
  auth: 'user',
  rateLimit: 'createReleaseDraft',
  args: (arg) => ({ input: arg({ type: CreateReleaseDraftInput, required: true }) }),
  publishTokenScope: ({ input }) => normalizePackageName(input.packageName),
  errors: [NotFoundError, ForbiddenError, AlreadyExistsError, ConflictError],
  success: draftSuccess('CreateReleaseDraftSuccess'),
  run: async ({ input }, { db, viewer, effectKey }) =>
    mapResult(
      await insertDraft(
        db,
        { name: normalizePackageName(input.packageName), viewerId: viewer.id, version: input.version, notes: input.notes ?? null, sizeBytes: input.sizeBytes ?? null },
        effectKey,
      ),
      (draft) => ({ draft }),
    ),
});

defineMutation('updateReleaseDraft', {
  description: 'Writes only the fields sent; with expectedRevision, only if nobody changed the draft since.',
  auth: 'user',
  rateLimit: 'updateReleaseDraft',
  args: (arg) => ({ input: arg({ type: UpdateReleaseDraftInput, required: true }) }),
  publishTokenScope: ({ input }) => normalizePackageName(input.packageName),
  errors: [NotFoundError, ForbiddenError, ConflictError],
  success: draftSuccess('UpdateReleaseDraftSuccess'),
  run: async ({ input }, { db, viewer, effectKey }) =>
    mapResult(
      await updateDraft(
      db,
      {
        name: normalizePackageName(input.packageName),
        viewerId: viewer.id,
        version: input.version,
        notes: input.notes,
        sizeBytes: input.sizeBytes,
        expectedRevision: input.expectedRevision ?? undefined,
      },
        effectKey,
      ),
      (draft) => ({ draft }),
    ),
});

defineMutation('publishReleaseDraft', {
  description: 'Makes the draft a release in one atomic write (the draft removed); CONFLICT, the draft kept, if the version was published meanwhile.',
  auth: 'user',
  rateLimit: 'publishReleaseDraft',
  args: (arg) => ({ input: arg({ type: DraftRefInput('PublishReleaseDraftInput'), required: true }) }),
  publishTokenScope: ({ input }) => normalizePackageName(input.packageName),
  errors: [NotFoundError, ForbiddenError, ConflictError],
  success: builder.objectRef<{ package: PackageDoc; release: ReleaseDoc }>('PublishReleaseDraftSuccess').implement({
    fields: (t) => ({
      release: t.field({ type: Release, resolve: (r) => r.release }),
      package: t.field({ type: Package, resolve: (r) => r.package }),
    }),
  }),
  run: ({ input }, { db, viewer, effectKey }) => publishDraft(db, { name: normalizePackageName(input.packageName), viewerId: viewer.id, version: input.version }, effectKey),
});

defineMutation('deleteReleaseDraft', {
  auth: 'user',
  rateLimit: 'deleteReleaseDraft',
  args: (arg) => ({ input: arg({ type: DraftRefInput('DeleteReleaseDraftInput'), required: true }) }),
  publishTokenScope: ({ input }) => normalizePackageName(input.packageName),
  errors: [NotFoundError, ForbiddenError],
  success: builder.objectRef<{ version: string }>('DeleteReleaseDraftSuccess').implement({ fields: (t) => ({ version: t.exposeString('version') }) }),
  run: ({ input }, { db, viewer }) => deleteDraft(db, { name: normalizePackageName(input.packageName), viewerId: viewer.id, version: input.version }),
});
