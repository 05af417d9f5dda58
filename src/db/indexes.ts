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

/** Creates every index; idempotent, safe to run on every deploy. */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, indexes] of Object.entries(INDEXES)) {
    await db.collection(collection).createIndexes(indexes);
  }
}
