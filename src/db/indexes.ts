// Every index the API relies on. Unique keys live in _id (package name, user id); the rest serve listings, one
// guarantee (one post per idempotency effect key), repair's scans and TTL clean-up.
import type { Db, Document, IndexDescription } from 'mongodb';

export const INDEXES: Record<string, IndexDescription[]> = {
  packages: [
    { key: { lastUpdated: -1, _id: -1 }, name: 'packages_by_last_updated' },
    // packages(keyword:): multikey, in the listing's order.
    { key: { keywords: 1, lastUpdated: -1, _id: -1 }, name: 'packages_by_keyword' },
    // Repair finds effect steps applied here and not yet acknowledged (src/effects/effect.ops.ts).
    { key: { 'effectMarks.at': 1 }, name: 'packages_effect_marks', sparse: true },
    // topPackages(by: DOWNLOADS | RELEASES | LIKES): read in index order, never a scan and sort.
    { key: { downloadCount: -1, _id: 1 }, name: 'packages_by_downloads' },
    { key: { releaseCount: -1, _id: 1 }, name: 'packages_by_releases' },
    { key: { topLikedPostsLikes: -1, _id: 1 }, name: 'packages_by_likes' },
  ],
  posts: [
    { key: { packageName: 1, _id: -1 }, name: 'posts_by_package' },
    // package { topLikedPosts }: the recount a like checks its package's ranking against (ten entries of this index).
    { key: { packageName: 1, likeCount: -1, _id: 1 }, name: 'posts_by_package_likes' },
    // One post per idempotency effectKey: a createPost retried after a crash hits this and returns the first post.
    {
      key: { idempotencyKey: 1 },
      name: 'posts_by_idempotency_key',
      unique: true,
      partialFilterExpression: { idempotencyKey: { $exists: true } },
    },
    // Repair finds posts whose create or delete effect is not over (src/effects/effect.ops.ts).
    { key: { 'effects.at': 1 }, name: 'posts_pending_effects', sparse: true },
    // Deleted posts stay as tombstones (answering a retried deletePost) until purgeAt, then remove themselves.
    { key: { purgeAt: 1 }, name: 'posts_tombstone_ttl', expireAfterSeconds: 0 },
  ],
  // Credits (docs/credits.md): wallets are users.credits, so repair finds step marks left on users too.
  users: [{ key: { 'effectMarks.at': 1 }, name: 'users_effect_marks', sparse: true }],
  transfers: [
    // viewer { transfers }: newest first.
    { key: { userId: 1, createdAt: -1, _id: -1 }, name: 'transfers_by_user' },
    // package { sponsors }: the aggregation over a package's completed sponsorships.
    { key: { packageName: 1, kind: 1, status: 1 }, name: 'transfers_by_package' },
    { key: { 'effects.at': 1 }, name: 'transfers_pending_effects', sparse: true },
  ],
  paymentEvents: [{ key: { 'effects.at': 1 }, name: 'payment_events_pending_effects', sparse: true }],
  payouts: [
    { key: { userId: 1, createdAt: -1, _id: -1 }, name: 'payouts_by_user' },
    // The sender's scan for due PENDING payouts.
    { key: { status: 1, nextAttemptAt: 1 }, name: 'payouts_due' },
    { key: { 'effects.at': 1 }, name: 'payouts_pending_effects', sparse: true },
  ],
  // trendingPackages: the $match on day, and the package and count it sums, all from the index.
  downloadBuckets: [{ key: { day: 1, package: 1, count: 1 }, name: 'downloads_by_day' }],
  publishTokens: [
    // The insert is the uniqueness check of a secret (src/tokens/publish-token.ops.ts); authentication looks it up here.
    { key: { secretHash: 1 }, name: 'publish_tokens_by_secret', unique: true },
    // viewer { publishTokens }: one user's unrevoked tokens, newest first.
    { key: { userId: 1, revokedAt: 1, createdAt: -1, _id: -1 }, name: 'publish_tokens_by_user' },
  ],
  // Idempotency keys remove themselves once expired (expiresAt = first use + IDEMPOTENCY_TTL_SECONDS).
  idempotencyKeys: [{ key: { expiresAt: 1 }, name: 'idempotency_keys_ttl', expireAfterSeconds: 0 }],
  // Rate-limit windows (src/security/rate-limit.ops.ts) delete themselves once their window has ended.
  rateLimits: [{ key: { expiresAt: 1 }, name: 'rate_limits_ttl', expireAfterSeconds: 0 }],
};

/** An index that exists with other options or keys under the same name: left as it is (changing it takes a migration). */
export interface IndexConflict {
  collection: string;
  name: string;
  message: string;
}

// createIndexes answers IndexOptionsConflict (85) or IndexKeySpecsConflict (86) when the name exists with another spec.
const CONFLICT_CODES = new Set([85, 86]);
const NAMESPACE_NOT_FOUND = 26;

/** The parts of an index that decide what it guarantees, in a comparable form. */
function definition(index: Document): string {
  const { key, unique, sparse, expireAfterSeconds, partialFilterExpression } = index;
  return JSON.stringify({ key, unique: unique === true, sparse: sparse === true, expireAfterSeconds, partialFilterExpression });
}

/**
 * Creates every index that is missing: idempotent and safe when instances start together (creating an identical index
 * is a no-op). One listIndexes per collection, in parallel, so a database that has them all costs one round trip. An
 * index whose name exists with another definition is left as it is (changing it takes a migration) and returned; the
 * others are still created. Any other failure throws.
 */
export async function ensureIndexes(db: Db): Promise<IndexConflict[]> {
  const conflicts: IndexConflict[] = [];
  await Promise.all(
    Object.entries(INDEXES).map(async ([collection, indexes]) => {
      const existing = await db
        .collection(collection)
        .listIndexes()
        .toArray()
        .catch((error: { code?: unknown }) => {
          if (error.code === NAMESPACE_NOT_FOUND) return [];
          throw error;
        });
      const byName = new Map(existing.map((index) => [index.name as string, index]));
      for (const index of indexes) {
        const found = byName.get(index.name!);
        if (found && definition(found) === definition(index as Document)) continue;
        if (found) {
          conflicts.push({ collection, name: index.name!, message: `exists as ${definition(found)}, wanted ${definition(index as Document)}` });
          continue;
        }
        try {
          await db.collection(collection).createIndexes([index]);
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (typeof code !== 'number' || !CONFLICT_CODES.has(code)) throw error;
          conflicts.push({ collection, name: index.name!, message: (error as Error).message });
        }
      }
    }),
  );
  return conflicts;
}
