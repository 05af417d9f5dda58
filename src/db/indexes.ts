// Every index the API relies on. Unique keys live in _id (package name, keyword slug, user id), so most
// guarantees hold with no extra index; these serve listings. Created by `npm run db:indexes` and at dev start.
import type { Db, IndexDescription } from 'mongodb';

export const INDEXES: Record<string, IndexDescription[]> = {
  packages: [
    { key: { lastUpdated: -1, _id: -1 }, name: 'packages_by_last_updated' },
    { key: { maintainers: 1 }, name: 'packages_by_maintainer' },
  ],
  posts: [
    { key: { packageName: 1, _id: -1 }, name: 'posts_by_package' },
    // One post per idempotency effectKey: a createPost retried after a crash hits this and returns the first post.
    {
      key: { idempotencyKey: 1 },
      name: 'posts_by_idempotency_key',
      unique: true,
      partialFilterExpression: { idempotencyKey: { $exists: true } },
    },
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

/**
 * Creates every index: idempotent (an identical index is a no-op) and safe when instances start together. Collections
 * go in parallel, each index by its own createIndexes, so one conflicting index (returned, not thrown) cannot keep the
 * others from being created. Any other failure throws.
 */
export async function ensureIndexes(db: Db): Promise<IndexConflict[]> {
  const conflicts: IndexConflict[] = [];
  await Promise.all(
    Object.entries(INDEXES).map(async ([collection, indexes]) => {
      for (const index of indexes) {
        try {
          await db.collection(collection).createIndexes([index]);
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (typeof code !== 'number' || !CONFLICT_CODES.has(code)) throw error;
          conflicts.push({ collection, name: index.name ?? JSON.stringify(index.key), message: (error as Error).message });
        }
      }
    }),
  );
  return conflicts;
}
