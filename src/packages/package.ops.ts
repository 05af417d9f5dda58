// Every database operation on packages: each mutation is one atomic write, explained by a read only after it fails.
import type { Db, Filter } from 'mongodb';
import { AlreadyExistsError, type AppError, ConflictError, fail, ForbiddenError, NotFoundError, ok, type Result, ValidationError } from '../errors.js';
import { isDuplicateKeyError } from '../db/errors.js';
import { releaseSortKey } from './release-version.js';

export interface ReleaseDoc {
  version: string;
  /** semver precedence as a sortable string; releases are stored highest first. */
  sortKey: string;
  publishedAt: Date;
  sizeBytes: number;
  notes: string | null;
}

export interface PackageDoc {
  /** The normalized name: the unique key. */
  _id: string;
  displayName: string;
  summary: string;
  description: string;
  maintainers: string[];
  keywords: string[];
  releases: ReleaseDoc[];
  releaseCount: number;
  postCount: number;
  /** Edit version for optimistic concurrency; only updatePackage bumps it. */
  version: number;
  createdAt: Date;
  lastUpdated: Date;
}

/** The one projection every package read uses, so a response never carries fields the API does not expose. */
export const PACKAGE_PROJECTION = {
  displayName: 1,
  summary: 1,
  description: 1,
  maintainers: 1,
  keywords: 1,
  releases: 1,
  releaseCount: 1,
  postCount: 1,
  version: 1,
  createdAt: 1,
  lastUpdated: 1,
} as const;

export const MAX_KEYWORDS_PER_PACKAGE = 50;

function packages(db: Db) {
  return db.collection<PackageDoc>('packages');
}

/** atomic: inserts the package once; ALREADY_EXISTS when its normalized name is taken, however many race. */
export async function insertPackage(
  db: Db,
  input: { name: string; displayName: string; summary: string; maintainerId: string },
): Promise<Result<PackageDoc>> {
  const now = new Date();
  const doc: PackageDoc = {
    _id: input.name,
    displayName: input.displayName,
    summary: input.summary,
    description: '',
    maintainers: [input.maintainerId],
    keywords: [],
    releases: [],
    releaseCount: 0,
    postCount: 0,
    version: 1,
    createdAt: now,
    lastUpdated: now,
  };
  try {
    await packages(db).insertOne(doc);
    return ok(doc);
  } catch (error) {
    if (isDuplicateKeyError(error)) return fail(new AlreadyExistsError(`A package named "${input.name}" already exists.`));
    throw error;
  }
}

/**
 * atomic: appends the release once, keeps releases sorted by semver precedence (highest first), adds 1 to
 * releaseCount and sets publishedAt and lastUpdated from the database clock; CONFLICT if the version exists.
 */
export async function appendRelease(
  db: Db,
  input: { name: string; viewerId: string; version: string; sizeBytes: number; notes: string | null },
): Promise<Result<{ package: PackageDoc; release: ReleaseDoc }>> {
  const release = { version: input.version, sortKey: releaseSortKey(input.version), sizeBytes: input.sizeBytes, notes: input.notes };
  const updated = await packages(db).findOneAndUpdate(
    { _id: input.name, maintainers: input.viewerId, 'releases.version': { $ne: input.version } },
    [
      {
        $set: {
          releases: {
            $sortArray: {
              // $literal keeps user text such as "$x" from being read as a field path.
              input: { $concatArrays: ['$releases', [{ $mergeObjects: [{ $literal: release }, { publishedAt: '$$NOW' }] }]] },
              sortBy: { sortKey: -1 },
            },
          },
          releaseCount: { $add: ['$releaseCount', 1] },
          lastUpdated: '$$NOW',
        },
      },
    ],
    { returnDocument: 'after', projection: PACKAGE_PROJECTION },
  );
  if (updated) {
    const stored = updated.releases.find((r) => r.version === input.version)!;
    return ok({ package: updated, release: stored });
  }
  return explainRefusedWrite(db, input.name, input.viewerId, () => new ConflictError(`Version ${input.version} of "${input.name}" is already published.`));
}

/** atomic: applies the edit only if the edit version still equals expectedVersion, and bumps it; CONFLICT with currentVersion otherwise. */
export async function updatePackageIfVersion(
  db: Db,
  input: { name: string; viewerId: string; expectedVersion: number; summary?: string; description?: string },
): Promise<Result<PackageDoc>> {
  const changes: Partial<Pick<PackageDoc, 'summary' | 'description'>> = {};
  if (input.summary !== undefined) changes.summary = input.summary;
  if (input.description !== undefined) changes.description = input.description;
  const updated = await packages(db).findOneAndUpdate(
    { _id: input.name, maintainers: input.viewerId, version: input.expectedVersion },
    { $set: changes, $inc: { version: 1 }, $currentDate: { lastUpdated: true } },
    { returnDocument: 'after', projection: PACKAGE_PROJECTION },
  );
  if (updated) return ok(updated);
  return explainRefusedWrite(db, input.name, input.viewerId, (current) =>
    new ConflictError(`"${input.name}" was changed since version ${input.expectedVersion}; it is at version ${current.version} now.`, current.version),
  );
}

/** atomic: adds the keywords the package lacks, never duplicating one, and refuses to grow past 50 keywords. */
export async function addPackageKeywords(
  db: Db,
  input: { name: string; viewerId: string; keywords: string[] },
): Promise<Result<PackageDoc>> {
  const withinLimit: Filter<PackageDoc> = {
    $expr: { $lte: [{ $size: { $setUnion: ['$keywords', { $literal: input.keywords }] } }, MAX_KEYWORDS_PER_PACKAGE] },
  };
  const updated = await packages(db).findOneAndUpdate(
    { _id: input.name, maintainers: input.viewerId, ...withinLimit },
    { $addToSet: { keywords: { $each: input.keywords } }, $currentDate: { lastUpdated: true } },
    { returnDocument: 'after', projection: PACKAGE_PROJECTION },
  );
  if (updated) return ok(updated);
  return explainRefusedWrite(db, input.name, input.viewerId, () =>
    new ValidationError(`A package has at most ${MAX_KEYWORDS_PER_PACKAGE} keywords.`, [
      { path: 'keywords', message: `at most ${MAX_KEYWORDS_PER_PACKAGE} keywords per package` },
    ]),
  );
}

/** atomic: counts one more post about the package; NOT_FOUND (and no change) if it does not exist. */
export async function countPackagePost(db: Db, name: string): Promise<Result<void>> {
  const { matchedCount } = await packages(db).updateOne({ _id: name }, { $inc: { postCount: 1 } });
  return matchedCount === 1 ? ok(undefined) : fail(new NotFoundError(`No package named "${name}".`));
}

/** After a guarded write matched nothing: NOT_FOUND, FORBIDDEN for non-maintainers, else the op's own reason. */
async function explainRefusedWrite<T>(
  db: Db,
  name: string,
  viewerId: string,
  otherwise: (current: Pick<PackageDoc, 'version'>) => AppError,
): Promise<Result<T>> {
  const current = await packages(db).findOne({ _id: name }, { projection: { maintainers: 1, version: 1 } });
  if (!current) return fail(new NotFoundError(`No package named "${name}".`));
  if (!current.maintainers.includes(viewerId)) return fail(new ForbiddenError(`Only maintainers of "${name}" can do this.`));
  return fail(otherwise(current));
}

/** Reads one package by normalized name. */
export async function findPackage(db: Db, name: string): Promise<PackageDoc | null> {
  return packages(db).findOne({ _id: name }, { projection: PACKAGE_PROJECTION });
}

/** Reads packages by normalized names, for the dataloader. */
export async function findPackagesByNames(db: Db, names: readonly string[]): Promise<PackageDoc[]> {
  return packages(db).find({ _id: { $in: [...names] } }, { projection: PACKAGE_PROJECTION }).toArray();
}

export interface PackagePageCursor {
  lastUpdated: Date;
  name: string;
}

/** One page of packages, most recently updated first (ties by name), strictly after or before a cursor. */
export async function findPackagePage(
  db: Db,
  page: { after?: PackagePageCursor; before?: PackagePageCursor; limit: number; inverted: boolean },
): Promise<PackageDoc[]> {
  const bounds: Filter<PackageDoc>[] = [];
  // Descending order: "after" a cursor means older (or same time and smaller name).
  if (page.after) bounds.push(keysetBound(page.after, '$lt'));
  if (page.before) bounds.push(keysetBound(page.before, '$gt'));
  const direction = page.inverted ? 1 : -1;
  return packages(db)
    .find(bounds.length ? { $and: bounds } : {}, { projection: PACKAGE_PROJECTION })
    .sort({ lastUpdated: direction, _id: direction })
    .limit(page.limit)
    .toArray();
}

function keysetBound(cursor: PackagePageCursor, op: '$lt' | '$gt'): Filter<PackageDoc> {
  return {
    $or: [{ lastUpdated: { [op]: cursor.lastUpdated } }, { lastUpdated: cursor.lastUpdated, _id: { [op]: cursor.name } }],
  } as Filter<PackageDoc>;
}
