// Every database operation on packages: each mutation is one atomic write, explained by a read only after it fails.
import type { Db, Filter, ObjectId } from 'mongodb';
import { AlreadyExistsError, type AppError, ConflictError, fail, ForbiddenError, NotFoundError, ok, type Result, ValidationError } from '../errors.js';
import { isDuplicateKeyError } from '../db/errors.js';
import type { EffectMark } from '../effects/effect.ops.js';
import { releaseSortKey } from './release-version.js';

export interface ReleaseDoc {
  version: string;
  /** semver precedence as a sortable string; releases are stored highest first. */
  sortKey: string;
  publishedAt: Date;
  sizeBytes: number;
  notes: string | null;
  /** idempotency effectKey of the publishRelease that appended it, so a retry of that request is told success. */
  idempotencyKey?: string;
  /**
   * PyPI's yank: still installable when pinned, never the latest; null or absent (releases written before yanking
   * existed) when not yanked. One subdocument, so a yank changes one path of one array element.
   */
  yank?: { reason: string | null } | null;
  /** Downloads of this release (src/downloads/download.ops.ts); absent until its first. */
  downloads?: number;
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
  /** Kept by the createPost and deletePost effects (src/posts/post.ops.ts); `npm run verify` recounts it. */
  postCount: number;
  /** Edit version for optimistic concurrency; only updatePackage bumps it. */
  version: number;
  createdAt: Date;
  lastUpdated: Date;
  /** idempotency effectKey of the createPackage that made it, so a retry of that request is told success. */
  createdByKey?: string;
  /** idempotency effectKey of the latest keyed updatePackage, so its retry is recognized while no edit followed. */
  lastEditKey?: string;
  /** Effect steps applied here and not yet acknowledged by their primary document (src/effects/effect.ops.ts). */
  effectMarks?: EffectMark[];
  /**
   * The package's most-liked live posts, most first (src/posts/top-liked-posts.ops.ts); absent on documents written
   * before the ranking existed, read as empty.
   */
  topLikedPosts?: TopLikedPostEntry[];
  /** The likes of the posts in topLikedPosts together: what topPackages(by: LIKES) sorts by. */
  topLikedPostsLikes?: number;
  /** Moved by every write of the ranking: a correction is written only if no other write came after its read. */
  topLikedPostsRev?: number;
}

/** One entry of a package's ranking: the post, its likeCount, and the post's likeSeq that count is from. */
export interface TopLikedPostEntry {
  postId: ObjectId;
  likeCount: number;
  seq: number;
}

/** The one projection every package read uses: the fields the Package type shows, never the bookkeeping (effect keys, marks). */
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
  topLikedPosts: 1,
} as const;

export const MAX_KEYWORDS_PER_PACKAGE = 50;

function packages(db: Db) {
  return db.collection<PackageDoc>('packages');
}

/**
 * atomic: inserts the package once; ALREADY_EXISTS when its normalized name is taken, however many race. With an
 * effectKey the package records it, and the read after a refused insert tells this request's own earlier insert
 * (success, `created: false`) from someone else's package.
 */
export async function insertPackage(
  db: Db,
  input: { name: string; displayName: string; summary: string; maintainerId: string },
  effectKey: string | null = null,
): Promise<Result<{ package: PackageDoc; created: boolean }>> {
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
    topLikedPosts: [],
    topLikedPostsLikes: 0,
    ...(effectKey === null ? {} : { createdByKey: effectKey }),
  };
  try {
    await packages(db).insertOne(doc);
    return ok({ package: doc, created: true });
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    if (effectKey !== null) {
      const current = await packages(db).findOne({ _id: input.name }, { projection: { ...PACKAGE_PROJECTION, createdByKey: 1 } });
      if (current?.createdByKey === effectKey) return ok({ package: current, created: false });
    }
    return fail(new AlreadyExistsError(`A package named "${input.name}" already exists.`));
  }
}

/**
 * atomic: appends the release once, keeps releases sorted by semver precedence (highest first), adds 1 to
 * releaseCount and sets publishedAt and lastUpdated from the database clock; CONFLICT if the version exists.
 * With an effectKey the release records it, so when the version exists because this same request appended it
 * before (a retry after a crash), the read after the refusal answers success with `applied: false`.
 */
export async function appendRelease(
  db: Db,
  input: { name: string; viewerId: string; version: string; sizeBytes: number; notes: string | null },
  effectKey: string | null = null,
): Promise<Result<{ package: PackageDoc; release: ReleaseDoc; applied: boolean }>> {
  const release = {
    version: input.version,
    sortKey: releaseSortKey(input.version),
    sizeBytes: input.sizeBytes,
    notes: input.notes,
    ...(effectKey === null ? {} : { idempotencyKey: effectKey }),
  };
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
    return ok({ package: updated, release: stored, applied: true });
  }
  return explainRefusedWrite(
    db,
    input.name,
    input.viewerId,
    () => new ConflictError(`Version ${input.version} of "${input.name}" is already published.`),
    effectKey === null
      ? undefined
      : (current) => {
          const mine = current.releases.find((r) => r.version === input.version && r.idempotencyKey === effectKey);
          return mine ? { package: current, release: mine, applied: false } : null;
        },
  );
}

/**
 * atomic: applies the edit only if the edit version still equals expectedVersion, and bumps it; CONFLICT with
 * currentVersion otherwise. With an effectKey the edit records it as lastEditKey, so a retry of an edit that was
 * applied (and not followed by another) is answered success by the read after the refusal, not CONFLICT.
 */
export async function updatePackageIfVersion(
  db: Db,
  input: { name: string; viewerId: string; expectedVersion: number; summary?: string; description?: string },
  effectKey: string | null = null,
): Promise<Result<PackageDoc>> {
  const changes: Partial<Pick<PackageDoc, 'summary' | 'description' | 'lastEditKey'>> = {};
  if (input.summary !== undefined) changes.summary = input.summary;
  if (input.description !== undefined) changes.description = input.description;
  if (effectKey !== null) changes.lastEditKey = effectKey;
  const updated = await packages(db).findOneAndUpdate(
    { _id: input.name, maintainers: input.viewerId, version: input.expectedVersion },
    { $set: changes, $inc: { version: 1 }, $currentDate: { lastUpdated: true } },
    { returnDocument: 'after', projection: PACKAGE_PROJECTION },
  );
  if (updated) return ok(updated);
  return explainRefusedWrite(
    db,
    input.name,
    input.viewerId,
    (current) =>
      new ConflictError(`"${input.name}" was changed since version ${input.expectedVersion}; it is at version ${current.version} now.`, current.version),
    effectKey === null
      ? undefined
      : (current) => (current.lastEditKey === effectKey && current.version === input.expectedVersion + 1 ? current : null),
  );
}

/**
 * atomic: adds the keywords the package lacks, never duplicating one, and refuses to grow past 50 keywords.
 * Idempotent by construction ($addToSet): a retry adds nothing and succeeds, so it needs no effectKey.
 */
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

/**
 * atomic: sets or clears one release's yank (and its reason) in place through an array filter, and lastUpdated from the
 * database clock; the other releases, and releases published meanwhile, are untouched. Idempotent, so it needs no
 * effectKey. NOT_FOUND without that package or release, FORBIDDEN for non-maintainers.
 */
export async function setReleaseYanked(
  db: Db,
  input: { name: string; viewerId: string; version: string; yanked: boolean; reason: string | null },
): Promise<Result<{ package: PackageDoc; release: ReleaseDoc }>> {
  const updated = await packages(db).findOneAndUpdate(
    { _id: input.name, maintainers: input.viewerId, 'releases.version': input.version },
    { $set: { 'releases.$[release].yank': input.yanked ? { reason: input.reason } : null }, $currentDate: { lastUpdated: true } },
    { arrayFilters: [{ 'release.version': input.version }], returnDocument: 'after', projection: PACKAGE_PROJECTION },
  );
  if (updated) return ok({ package: updated, release: updated.releases.find((r) => r.version === input.version)! });
  return explainRefusedWrite(db, input.name, input.viewerId, () => new NotFoundError(`"${input.name}" has no release ${input.version}.`));
}

/**
 * After a guarded write matched nothing: NOT_FOUND, FORBIDDEN for non-maintainers, else the op's own reason. With
 * sameRequest (keyed calls) the read fetches the whole package first, and a value from sameRequest means the write
 * was refused because this very request already applied it: that is success.
 */
async function explainRefusedWrite<T>(
  db: Db,
  name: string,
  viewerId: string,
  otherwise: (current: Pick<PackageDoc, 'version'>) => AppError,
  sameRequest?: (current: PackageDoc) => T | null,
): Promise<Result<T>> {
  const projection = sameRequest ? { ...PACKAGE_PROJECTION, lastEditKey: 1 } : { maintainers: 1, version: 1 };
  const current = await packages(db).findOne({ _id: name }, { projection });
  if (!current) return fail(new NotFoundError(`No package named "${name}".`));
  const replayed = sameRequest?.(current) ?? null;
  if (replayed !== null) return ok(replayed);
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

/** One page of packages, most recently updated first (ties by name), strictly after or before a cursor, optionally with one keyword. */
export async function findPackagePage(
  db: Db,
  page: { keyword?: string; after?: PackagePageCursor; before?: PackagePageCursor; limit: number; inverted: boolean },
): Promise<PackageDoc[]> {
  const bounds: Filter<PackageDoc>[] = page.keyword === undefined ? [] : [{ keywords: page.keyword }];
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
