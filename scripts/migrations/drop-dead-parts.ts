// Migration: removes what earlier versions wrote and nothing reads any more. Idempotent: a second run finds nothing.
import type { Db } from 'mongodb';

/**
 * Drops the `keywords` collection (keywords live in each package, found through `packages_by_keyword`), the `stats`
 * document (registry totals are derived on read), the `packages_by_maintainer` index (no query used it), and the
 * packages' `recentPostKeys` (postCount is kept by effects now). Returns what it removed.
 */
export async function dropDeadParts(db: Db): Promise<string[]> {
  const removed: string[] = [];
  const collections = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const name of ['keywords', 'stats']) {
    if (collections.has(name) && (await db.collection(name).drop().catch(() => false))) removed.push(`collection ${name}`);
  }
  if (collections.has('packages')) {
    const indexes = await db.collection('packages').indexes();
    if (indexes.some((index) => index.name === 'packages_by_maintainer')) {
      await db.collection('packages').dropIndex('packages_by_maintainer');
      removed.push('index packages.packages_by_maintainer');
    }
    const { modifiedCount } = await db.collection('packages').updateMany({ recentPostKeys: { $exists: true } }, { $unset: { recentPostKeys: '' } });
    if (modifiedCount > 0) removed.push(`recentPostKeys from ${modifiedCount} packages`);
  }
  return removed;
}
