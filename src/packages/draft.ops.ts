// Release drafts: kept in their package's document under `drafts.<key>` (a map, so that each field of a draft is a
// plain path and an edit sets only the fields sent), each change one atomic write, explained by a read only after it
// fails. Publishing moves the draft into `releases` in the same write, so a version is never published twice.
import type { Db, Document, Filter } from 'mongodb';
import { AlreadyExistsError, type AppError, ConflictError, fail, ForbiddenError, NotFoundError, ok, type Result, ValidationError } from '../errors.js';
import { PACKAGE_PROJECTION, type PackageDoc, type ReleaseDoc } from './package.ops.js';
import { releaseSortKey } from './release-version.js';

export interface DraftDoc {
  version: string;
  sortKey: string;
  notes: string | null;
  /** Required before publishing; a draft may start without it. */
  sizeBytes: number | null;
  /** 1 at creation, +1 per edit: pass it as expectedRevision to refuse edits over someone else's. */
  revision: number;
  createdAt: Date;
  /** idempotency effectKey of the createReleaseDraft that made it. */
  createdByKey?: string;
  /** idempotency effectKey of the latest keyed edit, so its retry is recognized. */
  lastEditKey?: string;
}

/** A package can hold at most this many drafts, so the document stays small. */
export const MAX_DRAFTS_PER_PACKAGE = 20;

type WithDrafts = PackageDoc & { drafts?: Record<string, DraftDoc> };

function packages(db: Db) {
  return db.collection<WithDrafts>('packages');
}

/**
 * The draft's key in `drafts`: the version with "." as "_" (semver has no "_", so the map is one-to-one), after a
 * letter, so it is never a number or an operator. Versions reaching here passed ReleaseVersionSchema.
 */
export function draftKey(version: string): string {
  return `v${version.replaceAll('.', '_')}`;
}

const notFound = (name: string, version: string) => new NotFoundError(`"${name}" has no draft of ${version}.`);

/**
 * atomic: adds the draft once, only while the version is neither a draft nor a release of the package and the package
 * has fewer than MAX_DRAFTS_PER_PACKAGE drafts. ALREADY_EXISTS for an existing draft (success for the same keyed
 * request's own), CONFLICT for a published version.
 */
export async function insertDraft(
  db: Db,
  input: { name: string; viewerId: string; version: string; notes: string | null; sizeBytes: number | null },
  effectKey: string | null = null,
): Promise<Result<DraftDoc>> {
  const key = draftKey(input.version);
  const draft: DraftDoc = {
    version: input.version,
    sortKey: releaseSortKey(input.version),
    notes: input.notes,
    sizeBytes: input.sizeBytes,
    revision: 1,
    createdAt: new Date(),
    ...(effectKey === null ? {} : { createdByKey: effectKey }),
  };
  const filter: Filter<WithDrafts> = {
    _id: input.name,
    maintainers: input.viewerId,
    [`drafts.${key}`]: { $exists: false },
    'releases.version': { $ne: input.version },
    $expr: { $lt: [{ $size: { $objectToArray: { $ifNull: ['$drafts', {}] } } }, MAX_DRAFTS_PER_PACKAGE] },
  };
  const { modifiedCount } = await packages(db).updateOne(filter, { $set: { [`drafts.${key}`]: draft } } as Document);
  if (modifiedCount === 1) return ok(draft);
  return explainRefusedDraftWrite<DraftDoc>(db, input.name, input.viewerId, key, (current, existing) => {
    if (existing) return existing.createdByKey !== undefined && existing.createdByKey === effectKey ? existing : new AlreadyExistsError(`"${input.name}" already has a draft of ${input.version}.`);
    if (current.releases.some((r) => r.version === input.version)) return new ConflictError(`Version ${input.version} of "${input.name}" is already published.`);
    return new ValidationError(`A package has at most ${MAX_DRAFTS_PER_PACKAGE} drafts.`, [{ path: 'version', message: `at most ${MAX_DRAFTS_PER_PACKAGE} drafts per package` }]);
  });
}

/**
 * atomic: sets only the fields given (others untouched, so editors of different fields both land) and adds 1 to the
 * revision. With expectedRevision, only if the draft is still at that revision: CONFLICT with the current revision
 * otherwise. Without it, the last write wins per field. A keyed retry of an applied edit is answered success.
 */
export async function updateDraft(
  db: Db,
  input: { name: string; viewerId: string; version: string; notes?: string | null; sizeBytes?: number | null; expectedRevision?: number },
  effectKey: string | null = null,
): Promise<Result<DraftDoc>> {
  const key = draftKey(input.version);
  const path = `drafts.${key}`;
  const changes: Record<string, unknown> = {};
  if (input.notes !== undefined) changes[`${path}.notes`] = input.notes;
  if (input.sizeBytes !== undefined) changes[`${path}.sizeBytes`] = input.sizeBytes;
  if (effectKey !== null) changes[`${path}.lastEditKey`] = effectKey;
  const filter: Filter<WithDrafts> = {
    _id: input.name,
    maintainers: input.viewerId,
    [`${path}.revision`]: input.expectedRevision ?? { $exists: true },
    ...(effectKey === null ? {} : { [`${path}.lastEditKey`]: { $ne: effectKey } }),
  };
  const updated = await packages(db).findOneAndUpdate(filter, { $set: changes, $inc: { [`${path}.revision`]: 1 } } as Document, {
    returnDocument: 'after',
    projection: { [path]: 1 },
  });
  const draft = updated?.drafts?.[key];
  if (draft) return ok(draft);
  return explainRefusedDraftWrite<DraftDoc>(db, input.name, input.viewerId, key, (_current, existing) => {
    if (!existing) return notFound(input.name, input.version);
    if (effectKey !== null && existing.lastEditKey === effectKey) return existing;
    return new ConflictError(`The draft of ${input.version} was changed since revision ${input.expectedRevision}; it is at revision ${existing.revision} now.`, existing.revision);
  });
}

/**
 * atomic: makes the draft a release in one write: appended in semver order with publishedAt from the database clock,
 * releaseCount + 1, lastUpdated, and the draft removed; only while the version is not a release yet, so it is published
 * once however many race. CONFLICT (the draft kept) if the version was published meanwhile; VALIDATION without
 * sizeBytes. A keyed retry of a publish that landed is answered success.
 */
export async function publishDraft(
  db: Db,
  input: { name: string; viewerId: string; version: string },
  effectKey: string | null = null,
): Promise<Result<{ package: PackageDoc; release: ReleaseDoc }>> {
  const key = draftKey(input.version);
  const draft = `$drafts.${key}`;
  const release = {
    version: `${draft}.version`,
    sortKey: `${draft}.sortKey`,
    sizeBytes: `${draft}.sizeBytes`,
    notes: `${draft}.notes`,
    publishedAt: '$$NOW',
    ...(effectKey === null ? {} : { idempotencyKey: { $literal: effectKey } }),
  };
  const updated = await packages(db).findOneAndUpdate(
    { _id: input.name, maintainers: input.viewerId, [`drafts.${key}.sizeBytes`]: { $type: 'number' }, 'releases.version': { $ne: input.version } },
    [
      {
        $set: {
          releases: { $sortArray: { input: { $concatArrays: ['$releases', [release]] }, sortBy: { sortKey: -1 } } },
          releaseCount: { $add: ['$releaseCount', 1] },
          lastUpdated: '$$NOW',
        },
      },
      { $unset: `drafts.${key}` },
    ],
    { returnDocument: 'after', projection: PACKAGE_PROJECTION },
  );
  if (updated) return ok({ package: updated, release: updated.releases.find((r) => r.version === input.version)! });
  return explainRefusedDraftWrite<{ package: PackageDoc; release: ReleaseDoc }>(db, input.name, input.viewerId, key, (current, existing) => {
    const published = current.releases.find((r) => r.version === input.version);
    if (published && effectKey !== null && published.idempotencyKey === effectKey) return { package: current, release: published };
    if (published) return new ConflictError(`Version ${input.version} of "${input.name}" is already published.`);
    if (!existing) return notFound(input.name, input.version);
    return new ValidationError('Set sizeBytes on the draft before publishing it.', [{ path: 'sizeBytes', message: 'required to publish' }]);
  });
}

/** atomic: removes the draft; NOT_FOUND when there is none. */
export async function deleteDraft(db: Db, input: { name: string; viewerId: string; version: string }): Promise<Result<{ version: string }>> {
  const key = draftKey(input.version);
  const { modifiedCount } = await packages(db).updateOne(
    { _id: input.name, maintainers: input.viewerId, [`drafts.${key}`]: { $exists: true } },
    { $unset: { [`drafts.${key}`]: '' } } as Document,
  );
  if (modifiedCount === 1) return ok({ version: input.version });
  return explainRefusedDraftWrite<{ version: string }>(db, input.name, input.viewerId, key, () => notFound(input.name, input.version));
}

/** The package's drafts, highest version first, only for one of its maintainers (null for anyone else). */
export async function findDrafts(db: Db, name: string, viewerId: string): Promise<DraftDoc[] | null> {
  const found = await packages(db).findOne({ _id: name, maintainers: viewerId }, { projection: { drafts: 1 } });
  if (!found) return null;
  return Object.values(found.drafts ?? {}).sort((a, b) => (a.sortKey < b.sortKey ? 1 : a.sortKey > b.sortKey ? -1 : 0));
}

/**
 * After a guarded draft write matched nothing: NOT_FOUND, FORBIDDEN for non-maintainers, else `explain` given the
 * package and the draft as they are now; a value from it (not an error) means this same request already applied it.
 */
async function explainRefusedDraftWrite<T>(
  db: Db,
  name: string,
  viewerId: string,
  key: string,
  explain: (current: PackageDoc, existing: DraftDoc | undefined) => T | AppError,
): Promise<Result<T>> {
  const current = await packages(db).findOne({ _id: name }, { projection: { ...PACKAGE_PROJECTION, [`drafts.${key}`]: 1 } });
  if (!current) return fail(new NotFoundError(`No package named "${name}".`));
  if (!current.maintainers.includes(viewerId)) return fail(new ForbiddenError(`Only maintainers of "${name}" can do this.`));
  const outcome = explain(current, current.drafts?.[key]);
  return outcome instanceof Error ? fail(outcome as AppError) : ok(outcome);
}
